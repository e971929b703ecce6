package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/audit"
	"github.com/havenhub/haven/auth"
)

type tokensData struct {
	Tokens  []haven.Token
	Created string // the plain text of a token just created, shown once
	Name    string
	Role    string
	Error   string
	Revoked bool
	Rows    []int // indices of the scope rows of the fine-grained form
}

// scopeRows is how many repositories and namespaces the fine-grained form
// offers at once.
const scopeRows = 3

// tokenExpiries are the lifetimes the form offers, in days (0: never).
var tokenExpiries = map[string]int{"": 0, "0": 0, "7": 7, "30": 30, "90": 90, "365": 365}

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
	d := tokensData{Role: string(haven.RoleRead), Revoked: r.URL.Query().Get("revoked") == "1", Rows: []int{0, 1, 2}}
	status := http.StatusOK
	if r.Method == http.MethodPost {
		d.Name = strings.TrimSpace(r.PostFormValue("name"))
		role, err := haven.ParseRole(r.PostFormValue("role"))
		days, okExpiry := tokenExpiries[r.PostFormValue("expires")]
		var fg *haven.FineGrained
		switch {
		case d.Name == "":
			d.Error = "Give the token a name, to recognise it later."
		case len(d.Name) > maxTokenName:
			d.Error = "The name is too long."
		case err != nil:
			d.Error = "Choose read, write or fine-grained access."
		case !okExpiry:
			d.Error = "Choose when the token expires."
		case role == haven.RoleFineGrained:
			if fg, err = h.postedScopes(r); err != nil {
				d.Error = haven.ErrorMessage(err)
			}
		}
		if d.Error != "" {
			status = http.StatusBadRequest
		} else {
			plain, hash := auth.NewToken()
			t := &haven.Token{UserID: a.User.ID, DisplayName: d.Name, Role: role, FineGrained: fg}
			if days > 0 {
				t.ExpiresAt = time.Now().AddDate(0, 0, days)
			}
			ctx := h.audited(r, a, func() haven.AuditEntry {
				return haven.AuditEntry{Action: haven.AuditTokenCreate, Namespace: a.User.Name, TargetType: haven.AuditTargetToken,
					Target: strconv.FormatInt(t.ID, 10), Details: audit.TokenDetails(t)}
			})
			if err := h.meta.CreateToken(ctx, t, hash); err != nil {
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
	ctx := h.audited(r, a, func() haven.AuditEntry {
		return haven.AuditEntry{Action: haven.AuditTokenRevoke, Namespace: a.User.Name, TargetType: haven.AuditTargetToken, Target: id}
	})
	if err := h.meta.DeleteToken(ctx, a.User.ID, n); err != nil {
		h.fail(w, r, err)
		return
	}
	if h.TokensChanged != nil {
		h.TokensChanged()
	}
	http.Redirect(w, r, "/settings/tokens?revoked=1", http.StatusSeeOther)
}

// postedScopes reads the fine-grained form: rows of a repository or a
// namespace with read and write boxes, the global discussion permission and
// the gated-repositories box.
func (h *Handler) postedScopes(r *http.Request) (*haven.FineGrained, error) {
	fg := &haven.FineGrained{CanReadGatedRepos: r.PostFormValue("gated") == "on"}
	if r.PostFormValue("global_discussion") == "on" {
		fg.Global = []string{haven.PermDiscussionWrite}
	}
	level := func(prefix string, i int) string {
		switch {
		case r.PostFormValue(prefix+strconv.Itoa(i)+"_write") == "on":
			return "write"
		case r.PostFormValue(prefix+strconv.Itoa(i)+"_read") == "on":
			return "read"
		}
		return ""
	}
	for i := range scopeRows {
		if id := strings.TrimSpace(r.PostFormValue("repo" + strconv.Itoa(i))); id != "" {
			lv := level("repo", i)
			if lv == "" {
				return nil, haven.Errorf(haven.EInvalid, "Tick read or write for %s.", id)
			}
			sc, err := haven.ParseRepoScope(id + ":" + lv)
			if err != nil {
				return nil, err
			}
			fg.Scoped = append(fg.Scoped, sc)
		}
		if ns := strings.TrimSpace(r.PostFormValue("ns" + strconv.Itoa(i))); ns != "" {
			lv := level("ns", i)
			if lv == "" {
				return nil, haven.Errorf(haven.EInvalid, "Tick read or write for %s.", ns)
			}
			owner, err := h.meta.UserByName(r.Context(), ns)
			if err != nil {
				return nil, haven.Errorf(haven.EInvalid, "There is no user or organisation named %s.", ns)
			}
			typ := "user"
			if owner.IsOrg {
				typ = "org"
			}
			perms, _ := haven.ScopePermissions(lv)
			fg.Scoped = append(fg.Scoped, haven.TokenScope{Entity: haven.TokenEntity{Type: typ, Name: owner.Name}, Permissions: perms})
		}
	}
	if len(fg.Scoped) == 0 && len(fg.Global) == 0 {
		return nil, haven.Errorf(haven.EInvalid, "Give a fine-grained token at least one repository, namespace or permission.")
	}
	return fg, fg.Validate()
}
