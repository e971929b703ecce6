package web

import (
	"bytes"
	"context"
	"html/template"
	"net/http"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/meta"
)

// CollectionPages is what the collection pages need from the collections
// service: collections as a visitor may see them, and rendered notes.
type CollectionPages interface {
	Get(ctx context.Context, a *auth.Actor, slug string) (*haven.Collection, error)
	List(ctx context.Context, a *auth.Actor, f meta.CollectionFilter) ([]*haven.Collection, error)
	NoteHTML(note string) string
}

// RenderNote renders a short Markdown text written by a user (a collection
// note) with the sanitiser of cards, so that it can neither run script nor
// break the page around it.
func RenderNote(text string) string {
	var md bytes.Buffer
	if err := markdown.Convert([]byte(text), &md); err != nil {
		return template.HTMLEscapeString(text)
	}
	return rebalance(cardPolicy.SanitizeBytes(md.Bytes()), "", "")
}

type collectionsData struct {
	Owner       *haven.User
	Collections []*haven.Collection
	CanEdit     bool
}

// collectionList answers GET /collections/{owner}: the owner's collections
// the visitor may see, in the owner's order, and a form to start one for
// those who may.
func (h *Handler) collectionList(w http.ResponseWriter, r *http.Request, owner string) {
	if h.Collections == nil {
		h.notFound(w, r)
		return
	}
	u, err := h.meta.UserByName(r.Context(), owner)
	if err != nil {
		h.notFound(w, r)
		return
	}
	a := actorOf(r)
	cs, err := h.Collections.List(r.Context(), a, meta.CollectionFilter{Owners: []string{u.Name}})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := collectionsData{Owner: u, Collections: cs, CanEdit: auth.CanEditCollections(a, u.Name) == nil}
	h.render(w, r, http.StatusOK, "collections", "Collections of "+u.Name, d)
}

type collectionItemView struct {
	haven.CollectionItem
	URL   string
	Label string
	Note  template.HTML // sanitised by CollectionPages.NoteHTML
}

type collectionData struct {
	C         *haven.Collection
	Items     []collectionItemView
	CanEdit   bool
	CanUpvote bool
	Slug      string
}

// collection answers GET /collections/{owner}/{slug}: its items with their
// notes; a private collection of someone else is not found.
func (h *Handler) collection(w http.ResponseWriter, r *http.Request, slug string) {
	if h.Collections == nil {
		h.notFound(w, r)
		return
	}
	a := actorOf(r)
	c, err := h.Collections.Get(r.Context(), a, slug)
	if err != nil {
		h.notFound(w, r)
		return
	}
	d := collectionData{C: c, CanEdit: auth.CanEditCollections(a, c.Owner) == nil, CanUpvote: auth.CanActAsSelf(a) == nil, Slug: c.Slug()}
	for _, it := range c.Items {
		v := collectionItemView{CollectionItem: it}
		switch {
		case it.Repo != nil:
			v.URL, v.Label = repoURL(it.Repo), it.Repo.FullName()
		case it.Collection != nil:
			v.URL, v.Label = "/collections/"+it.Collection.Slug(), it.Collection.Title
		default:
			v.URL, v.Label = "https://arxiv.org/abs/"+it.Paper, "Paper "+it.Paper
		}
		if it.Note != "" {
			v.Note = template.HTML(h.Collections.NoteHTML(it.Note)) // sanitised by the service
		}
		d.Items = append(d.Items, v)
	}
	h.render(w, r, http.StatusOK, "collection", c.Title, d)
}
