package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/audit"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/hubhttp"
)

// record writes an audit entry of a's action (a may be anonymous, as for a
// failed sign-in).
func (h *Handler) record(r *http.Request, a *auth.Actor, e haven.AuditEntry) {
	hubhttp.AuditAs(h.audit, r, a, e)
}

// audited returns the request's context carrying an audit entry of a's
// action, made by build after the change, which the store writes in the
// transaction of the change made with it; without an audit log, the
// context as it is.
func (h *Handler) audited(r *http.Request, a *auth.Actor, build func() haven.AuditEntry) context.Context {
	if h.audit == nil {
		return r.Context()
	}
	return haven.WithAuditFunc(r.Context(), func() haven.AuditEntry { return hubhttp.AuditEntryAs(r, a, build()) })
}

// recordSignIn records that user signed in with method (password, or the
// name of the external provider).
func (h *Handler) recordSignIn(r *http.Request, user *haven.User, method string) {
	h.record(r, &auth.Actor{User: user}, haven.AuditEntry{Action: haven.AuditSignIn, Namespace: user.Name,
		TargetType: haven.AuditTargetUser, Target: user.Name, Details: map[string]any{"method": method}})
}

// auditActions are the actions the audit log page filters by: scopes
// first, then single actions.
var auditActions = []string{"repo", "org", "discussion", haven.AuditRepoCreate, haven.AuditRepoDelete, haven.AuditRepoMove,
	haven.AuditRepoSettings, haven.AuditAccessDecision, haven.AuditOrgAddUser, haven.AuditOrgRemoveUser,
	haven.AuditOrgChangeRole, haven.AuditOrgInvite, haven.AuditOrgInviteAccept, haven.AuditOrgSettings, haven.AuditDiscussionMerge, haven.AuditLogExport}

type auditRow struct {
	Entry   *haven.AuditEntry
	Message string
	Details string
}

type auditData struct {
	Org      *haven.User
	Rows     []auditRow
	Actions  []string
	Action   string
	From, To string
	Next     string // the query of the next (older) page, or ""
	Export   string // the API URL of the JSON Lines export of this selection
}

// auditPageSize is how many entries one page of the audit log shows.
const auditPageSize = 50

// auditLog answers GET /organizations/{org}/audit-log: the organisation's
// audit log for its admins, newest first, with the API's filters (action,
// from, to) and a link to the JSON Lines export of the same selection.
func (h *Handler) auditLog(w http.ResponseWriter, r *http.Request, name string) {
	a := actorOf(r)
	org, err := h.meta.UserByName(r.Context(), name)
	if err != nil || !org.IsOrg {
		h.notFound(w, r)
		return
	}
	if err := auth.CanReadAuditLog(a, org.Name); err != nil {
		h.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	d := auditData{Org: org, Actions: auditActions, Action: q.Get("action"), From: q.Get("from"), To: q.Get("to")}
	f, err := audit.Filter(q)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f.Namespace, f.Limit = org.Name, auditPageSize
	if f.Action == "" {
		f.Exclude = []string{haven.AuditLogExport}
	}
	entries, err := h.meta.AuditEntries(r.Context(), f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	for _, e := range entries {
		row := auditRow{Entry: e, Message: audit.Message(e)}
		if len(e.Details) > 0 {
			b, _ := json.Marshal(e.Details)
			row.Details = string(b)
		}
		d.Rows = append(d.Rows, row)
	}
	sel := url.Values{}
	for _, k := range []string{"action", "from", "to"} {
		if v := q.Get(k); v != "" {
			sel.Set(k, v)
		}
	}
	if len(entries) == auditPageSize {
		next := url.Values{}
		for k, v := range sel {
			next[k] = v
		}
		next.Set("cursor", entries[len(entries)-1].ID)
		d.Next = next.Encode()
	}
	sel.Set("format", "jsonl")
	d.Export = "/api/organizations/" + url.PathEscape(org.Name) + "/audit-log?" + sel.Encode()
	h.render(w, r, http.StatusOK, "audit", "Audit log of "+org.Name, d)
}
