package web

import (
	"net/http"
	"net/url"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/card"
)

// gateView is what a gated repository's card page shows to a visitor who
// may not download its files: the request form, or where their request
// stands.
type gateView struct {
	Form      *card.GateForm
	Action    string // the API endpoint the form posts to
	SignedIn  bool
	Status    haven.AccessStatus // "" while they have not asked
	Reason    string             // why a rejected request was rejected
	LoginPath string
}

// gate returns the gate of repo for the visitor, or nil when they may
// download its files (or it is not gated). readme orders the form's fields.
func (h *Handler) gate(r *http.Request, repo *haven.Repo, readme []byte) (*gateView, error) {
	a := actorOf(r)
	if repo.Gated == "" || auth.CanDownload(a, repo, "") == nil {
		return nil, nil
	}
	f := card.ParseGateForm(repo.CardData)
	f.OrderFields(readme)
	g := &gateView{
		Form:      f,
		Action:    "/api/" + repo.Type.Plural() + "/" + repo.FullName() + "/ask-access",
		SignedIn:  !a.Anonymous(),
		LoginPath: "/login?next=" + url.QueryEscape(repoURL(repo)),
	}
	if a.Anonymous() {
		return g, nil
	}
	g.Status = a.Access[repo.ID]
	if g.Status == haven.AccessRejected {
		ar, err := h.meta.AccessRequestOf(r.Context(), repo.ID, a.User.ID)
		if err != nil && !haven.IsCode(err, haven.ENotFound) {
			return nil, err
		}
		if ar != nil {
			g.Reason = ar.Reason
		}
	}
	return g, nil
}

// accessData is the owners' page of a gated repository's access requests.
type accessData struct {
	*repoView
	Status   haven.AccessStatus
	Statuses []haven.AccessStatus
	Requests []*haven.AccessRequest
	Labels   []string // the form's fields, the table's extra columns
}

// accessRequests answers GET /{repo}/access-requests?status=…: the
// requests in one status, with the answers to the form, and the buttons
// that accept, reject or send them back to pending (through the API).
func (h *Handler) accessRequests(w http.ResponseWriter, r *http.Request, repo *haven.Repo) {
	if err := auth.CanDecideAccess(actorOf(r), repo); err != nil {
		h.fail(w, r, err)
		return
	}
	st := haven.AccessPending
	if s := r.URL.Query().Get("status"); s != "" {
		var err error
		if st, err = haven.ParseAccessStatus(s); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	v, err := h.view(r.Context(), r, repo, "settings", "")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := accessData{repoView: v, Status: st, Statuses: []haven.AccessStatus{haven.AccessPending, haven.AccessAccepted, haven.AccessRejected}}
	if d.Requests, err = h.meta.AccessRequests(r.Context(), repo.ID, st); err != nil {
		h.fail(w, r, err)
		return
	}
	f := card.ParseGateForm(repo.CardData)
	if readme, err := v.g.ReadFile(v.SHA, "README.md"); err == nil {
		f.OrderFields(readme)
	}
	for _, field := range f.Fields {
		d.Labels = append(d.Labels, field.Label)
	}
	h.render(w, r, http.StatusOK, "access", "Access requests of "+repo.FullName(), d)
}
