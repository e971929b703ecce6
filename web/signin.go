package web

import (
	"net/http"

	"github.com/havenhub/haven"
)

// SignInCallbackPath is where an external sign-in provider sends the
// browser back; it is the redirect URI registered at the provider.
const SignInCallbackPath = "/login/oidc/callback"

// ExternalSignIn signs people in through another service (OpenID Connect):
// the web pages only mount it and start the session, so that the
// protocol stays in its own package.
type ExternalSignIn interface {
	// Name is shown on the sign-in page: "Sign in with NAME".
	Name() string
	// Begin sends the browser to the provider; next is a local path to
	// return to.
	Begin(w http.ResponseWriter, r *http.Request, next string) error
	// Finish checks the provider's answer at SignInCallbackPath and
	// returns the user it signs in and the next path given to Begin.
	Finish(w http.ResponseWriter, r *http.Request) (*haven.User, string, error)
}

// externalBegin answers GET /login/oidc.
func (h *Handler) externalBegin(w http.ResponseWriter, r *http.Request) {
	if err := h.External.Begin(w, r, localPath(r.FormValue("next"))); err != nil {
		h.fail(w, r, err)
	}
}

// externalFinish answers GET /login/oidc/callback: the provider's answer
// becomes an ordinary session.
func (h *Handler) externalFinish(w http.ResponseWriter, r *http.Request) {
	user, next, err := h.External.Finish(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.startSession(w, r, user); err != nil {
		h.fail(w, r, err)
		return
	}
	h.recordSignIn(r, user, h.External.Name())
	http.Redirect(w, r, localPath(next), http.StatusSeeOther)
}
