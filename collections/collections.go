// Package collections serves collections: ordered lists of models, datasets,
// Spaces, papers and other collections that a user or an organisation
// curates, with a note per item. It answers the Hub's collections API
// (/api/collections/…) and gives the web pages what a visitor may see.
//
// A collection is named by its slug, "owner/title-id", but found by the id
// alone, so that the slugs of older titles keep working. Private
// collections are hidden from everyone outside the owning namespace with
// the answer given for a collection that does not exist, and items that
// point at something the caller may not see are left out.
package collections

import (
	"context"
	"html/template"
	"log/slog"
	"regexp"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/meta"
)

// Config is what the service needs.
type Config struct {
	Meta      *meta.Store
	PublicURL string // base of the share URLs, e.g. "http://127.0.0.1:8080"
	// Markdown renders a note into HTML that is safe to embed in a page;
	// nil: notes are only escaped.
	Markdown func(text string) string
	Logger   *slog.Logger
}

// Service serves collections. Create it with New.
type Service struct {
	meta     *meta.Store
	base     string
	markdown func(string) string
	log      *slog.Logger
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Markdown == nil {
		cfg.Markdown = template.HTMLEscapeString
	}
	return &Service{meta: cfg.Meta, base: strings.TrimRight(cfg.PublicURL, "/"), markdown: cfg.Markdown, log: cfg.Logger}
}

// Limits on what people write, as the Hub sets them.
const (
	maxTitle       = 60
	maxDescription = 150
	maxNote        = 500
)

// idPattern is the id that ends every slug.
var idPattern = regexp.MustCompile(`(?:^|-)([0-9a-f]{24})$`)

// IDOf returns the id at the end of a slug ("owner/title-id", "title-id" or
// the bare id), or "" when there is none.
func IDOf(slug string) string {
	if i := strings.LastIndexByte(slug, '/'); i >= 0 {
		slug = slug[i+1:]
	}
	m := idPattern.FindStringSubmatch(strings.ToLower(slug))
	if m == nil {
		return ""
	}
	return m[1]
}

func errNotFound() error { return haven.Errorf(haven.ENotFound, "Collection not found") }

// Get returns the collection named by slug as the actor may see it, without
// the items the actor may not see. A private collection of someone else is
// not found, exactly as a missing one.
func (s *Service) Get(ctx context.Context, a *auth.Actor, slug string) (*haven.Collection, error) {
	id := IDOf(slug)
	if id == "" {
		return nil, errNotFound()
	}
	c, err := s.meta.CollectionByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if !auth.CanSeeCollection(a, c.Owner, c.Private) {
		return nil, errNotFound()
	}
	c.Items = s.visibleItems(a, c.Items)
	if err := s.markUpvoted(ctx, a, []*haven.Collection{c}); err != nil {
		return nil, err
	}
	return c, nil
}

// markUpvoted sets Upvoted on the collections the actor upvoted.
func (s *Service) markUpvoted(ctx context.Context, a *auth.Actor, cs []*haven.Collection) error {
	if a.Anonymous() || len(cs) == 0 {
		return nil
	}
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	up, err := s.meta.UpvotedCollections(ctx, a.User.ID, ids)
	if err != nil {
		return err
	}
	for _, c := range cs {
		c.Upvoted = up[c.ID]
	}
	return nil
}

// Upvote records (on) or takes back the actor's upvote of the collection of
// slug, which the actor must see, and returns it as it is now.
func (s *Service) Upvote(ctx context.Context, a *auth.Actor, slug string, on bool) (*haven.Collection, error) {
	if err := auth.CanActAsSelf(a); err != nil {
		return nil, err
	}
	c, err := s.Get(ctx, a, slug)
	if err != nil {
		return nil, err
	}
	if c.Upvotes, err = s.meta.UpvoteCollection(ctx, c.ID, a.User.ID, on); err != nil {
		return nil, err
	}
	c.Upvoted = on
	return c, nil
}

// List returns the collections of f that the actor may see, each without
// the items the actor may not see.
func (s *Service) List(ctx context.Context, a *auth.Actor, f meta.CollectionFilter) ([]*haven.Collection, error) {
	f.VisibleTo = a.Namespaces()
	f.SeeAll = !a.Anonymous() && a.User.IsAdmin
	cs, err := s.meta.ListCollections(ctx, f)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		c.Items = s.visibleItems(a, c.Items)
	}
	if err := s.markUpvoted(ctx, a, cs); err != nil {
		return nil, err
	}
	return cs, nil
}

// Editable lists the collections the actor may add items to: those of the
// actor and of the organisations the actor writes in, in their owners' order.
func (s *Service) Editable(ctx context.Context, a *auth.Actor) ([]*haven.Collection, error) {
	var owners []string
	for _, ns := range a.Namespaces() {
		if auth.CanEditCollections(a, ns) == nil {
			owners = append(owners, ns)
		}
	}
	if len(owners) == 0 {
		return nil, nil
	}
	cs, err := s.List(ctx, a, meta.CollectionFilter{Owners: owners})
	if err != nil {
		return nil, err
	}
	return cs, nil
}

// visibleItems drops the items pointing at repositories or collections the
// actor may not see.
func (s *Service) visibleItems(a *auth.Actor, items []haven.CollectionItem) []haven.CollectionItem {
	out := items[:0]
	for _, it := range items {
		switch {
		case it.Repo != nil:
			if auth.Can(a, auth.Read, it.Repo) != nil {
				continue
			}
		case it.Collection != nil:
			if !auth.CanSeeCollection(a, it.Collection.Owner, it.Collection.Private) {
				continue
			}
		case it.Type != haven.ItemPaper:
			continue // its target is gone
		}
		out = append(out, it)
	}
	return out
}

// NoteHTML renders an item's note as the API and the pages show it. A note
// of one paragraph comes without the <p> around it, as on the Hub.
func (s *Service) NoteHTML(note string) string {
	h := strings.TrimSpace(s.markdown(note))
	if inner, ok := strings.CutPrefix(h, "<p>"); ok {
		if inner, ok := strings.CutSuffix(inner, "</p>"); ok && !strings.Contains(inner, "<p>") {
			return inner
		}
	}
	return h
}

// URL is the page of a collection.
func (s *Service) URL(c *haven.Collection) string {
	return s.base + "/collections/" + c.Slug()
}
