package web

import (
	"net/http"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/hubhttp"
)

// record writes an audit entry of a's action (a may be anonymous, as for a
// failed sign-in).
func (h *Handler) record(r *http.Request, a *auth.Actor, e haven.AuditEntry) {
	hubhttp.AuditAs(h.audit, r, a, e)
}

// recordSignIn records that user signed in with method (password, or the
// name of the external provider).
func (h *Handler) recordSignIn(r *http.Request, user *haven.User, method string) {
	h.record(r, &auth.Actor{User: user}, haven.AuditEntry{Action: haven.AuditSignIn, Namespace: user.Name,
		TargetType: haven.AuditTargetUser, Target: user.Name, Details: map[string]any{"method": method}})
}
