package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
)

type tokensData struct {
	Tokens  []haven.Token
	Created string // the plain text of a token just created, shown once
	Name    string
	Role    string
	Error   string
	Revoked bool
}

// maxTokenName bounds a token's display name.
const maxTokenName = 100

// tokens answers GET /settings/tokens (the list) and POST (create one).
func (h *Handler) tokens(w http.ResponseWriter, r *http.Request) {
	a := actorOf(r)
	if a.Anonymous() {
		h.fail(w, r, haven.Errorf(haven.EUnauthorized, "Sign in to manage your tokens."))
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodPost {
		h.notFound(w, r)
		return
	}
	d := tokensData{Role: string(haven.RoleRead), Revoked: r.URL.Query().Get("revoked") == "1"}
	status := http.StatusOK
	if r.Method == http.MethodPost {
		d.Name = strings.TrimSpace(r.PostFormValue("name"))
		role, err := haven.ParseRole(r.PostFormValue("role"))
		switch {
		case d.Name == "":
			d.Error = "Give the token a name, to recognise it later."
		case len(d.Name) > maxTokenName:
			d.Error = "The name is too long."
		case err != nil:
			d.Error = "Choose read or write access."
		}
		if d.Error != "" {
			status = http.StatusBadRequest
		} else {
			plain, hash := auth.NewToken()
			t := &haven.Token{UserID: a.User.ID, DisplayName: d.Name, Role: role}
			if err := h.meta.CreateToken(r.Context(), t, hash); err != nil {
				h.fail(w, r, err)
				return
			}
			d.Created, d.Name = plain, ""
		}
	}
	list, err := h.meta.ListTokens(r.Context(), a.User.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d.Tokens = list
	h.render(w, r, status, "tokens", "Access tokens", d)
}

// deleteToken answers POST /settings/tokens/{id}/delete.
func (h *Handler) deleteToken(w http.ResponseWriter, r *http.Request, id string) {
	a := actorOf(r)
	if a.Anonymous() {
		h.fail(w, r, haven.Errorf(haven.EUnauthorized, "Sign in to manage your tokens."))
		return
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		h.notFound(w, r)
		return
	}
	if err := h.meta.DeleteToken(r.Context(), a.User.ID, n); err != nil {
		h.fail(w, r, err)
		return
	}
	if h.TokensChanged != nil {
		h.TokensChanged()
	}
	http.Redirect(w, r, "/settings/tokens?revoked=1", http.StatusSeeOther)
}
