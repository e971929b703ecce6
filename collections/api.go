package collections

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/hubhttp"
	"github.com/havenhub/haven/meta"
)

// RepoAction serves nothing under repositories.
func (s *Service) RepoAction(haven.RepoType, string, string) api.RepoHandler { return nil }

// API serves /api/collections and everything under it.
func (s *Service) API(first string) http.Handler {
	if first != "collections" {
		return nil
	}
	return http.HandlerFunc(s.serveAPI)
}

func (s *Service) writeError(w http.ResponseWriter, r *http.Request, err error) {
	hubhttp.WriteError(s.log, w, r, err)
}

// serveAPI routes /api/collections[/{owner}/{slug}[/upvote|/items[/{id}|/batch]]].
func (s *Service) serveAPI(w http.ResponseWriter, r *http.Request) {
	segs, err := hubhttp.Segments(r, 2)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	m := r.Method
	switch {
	case len(segs) == 0 && (m == http.MethodGet || m == http.MethodHead):
		s.handleList(w, r)
	case len(segs) == 0 && m == http.MethodPost:
		s.handleCreate(w, r)
	case len(segs) == 2 && (m == http.MethodGet || m == http.MethodHead):
		s.handleGet(w, r, segs[0]+"/"+segs[1])
	case len(segs) == 2 && m == http.MethodPatch:
		s.handleUpdate(w, r, segs[0]+"/"+segs[1])
	case len(segs) == 2 && m == http.MethodDelete:
		s.handleDelete(w, r, segs[0]+"/"+segs[1])
	case len(segs) == 3 && segs[2] == "upvote" && (m == http.MethodPost || m == http.MethodDelete):
		s.handleUpvote(w, r, segs[0]+"/"+segs[1], m == http.MethodPost)
	case len(segs) == 3 && segs[2] == "items" && m == http.MethodPost:
		s.handleAddItem(w, r, segs[0]+"/"+segs[1])
	case len(segs) == 4 && segs[2] == "items" && segs[3] == "batch" && m == http.MethodPost:
		s.handleBatch(w, r, segs[0]+"/"+segs[1])
	case len(segs) == 4 && segs[2] == "items" && m == http.MethodPatch:
		s.handleUpdateItem(w, r, segs[0]+"/"+segs[1], segs[3])
	case len(segs) == 4 && segs[2] == "items" && m == http.MethodDelete:
		s.handleDeleteItem(w, r, segs[0]+"/"+segs[1], segs[3])
	default:
		s.writeError(w, r, haven.Errorf(haven.ENotFound, "Not Found"))
	}
}

// List pages: the Hub's default and a cap that keeps one answer small.
const (
	defaultLimit = 10
	maxLimit     = 100
)

func (s *Service) handleList(w http.ResponseWriter, r *http.Request) {
	a := hubhttp.Actor(r)
	q := r.URL.Query()
	f := meta.CollectionFilter{Owners: q["owner"], Search: q.Get("q"), Sort: q.Get("sort")}
	for _, item := range q["item"] {
		key, ok, err := s.itemKey(r.Context(), a, item)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if !ok {
			// Nothing the caller may see contains what it cannot see.
			hubhttp.WriteJSON(w, http.StatusOK, []any{})
			return
		}
		f.Items = append(f.Items, key)
	}
	f.Limit = defaultLimit
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			s.writeError(w, r, haven.Errorf(haven.EInvalid, "Invalid limit %q", l))
			return
		}
		f.Limit = min(n, maxLimit)
	}
	f.Offset = cursorOffset(q.Get("cursor"))
	cs, err := s.List(r.Context(), a, f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]map[string]any, 0, len(cs))
	for _, c := range cs {
		// Listed collections carry no position: the Python client adds its own.
		out = append(out, s.object(c, false, 4))
	}
	if len(cs) == f.Limit {
		q.Set("cursor", base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(f.Offset+f.Limit))))
		w.Header().Set("Link", "<"+s.base+r.URL.EscapedPath()+"?"+q.Encode()+`>; rel="next"`)
	}
	hubhttp.WriteJSON(w, http.StatusOK, out)
}

// cursorOffset reads the opaque cursor of a next page link.
func cursorOffset(c string) int {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(string(b))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// itemKey turns a listing's item filter ("models/ns/name", "papers/id",
// "collections/slug") into a meta item key; ok is false for something the
// caller may not see or that does not exist.
func (s *Service) itemKey(ctx context.Context, a *auth.Actor, item string) (key string, ok bool, err error) {
	kind, id, _ := strings.Cut(item, "/")
	typ := strings.TrimSuffix(kind, "s")
	it, err := s.resolveItem(ctx, a, typ, id)
	if haven.ErrorCode(err) == haven.ENotFound || haven.ErrorCode(err) == haven.ERepoNotFound {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return meta.ItemKey(it), true, nil
}

// paperPattern is what an arXiv id may look like (new and old style).
var paperPattern = regexp.MustCompile(`^[A-Za-z0-9.\-/]{1,64}$`)

// resolveItem finds what an item of type typ and id points at, as the
// actor may see it; anything else is not found.
func (s *Service) resolveItem(ctx context.Context, a *auth.Actor, typ, id string) (*haven.CollectionItem, error) {
	switch typ {
	case haven.ItemModel, haven.ItemDataset, haven.ItemSpace:
		t, _ := haven.ParseRepoType(typ)
		rid, err := haven.ParseRepoID(id)
		if err != nil {
			return nil, auth.RepoNotFound()
		}
		repo, err := s.meta.RepoByName(ctx, t, rid.Namespace, rid.Name)
		if err != nil {
			return nil, err
		}
		if err := auth.Can(a, auth.Read, repo); err != nil {
			return nil, err
		}
		return &haven.CollectionItem{Type: typ, Repo: repo}, nil
	case haven.ItemPaper:
		if !paperPattern.MatchString(id) {
			return nil, haven.Errorf(haven.ENotFound, "Paper not found")
		}
		return &haven.CollectionItem{Type: typ, Paper: id}, nil
	case haven.ItemCollection:
		c, err := s.Get(ctx, a, id)
		if err != nil {
			return nil, err
		}
		c.Items = nil
		return &haven.CollectionItem{Type: typ, Collection: c}, nil
	}
	return nil, haven.Errorf(haven.EInvalid, "Invalid item type %q: expected model, dataset, space, paper or collection", typ)
}

type createRequest struct {
	Title       string  `json:"title"`
	Namespace   string  `json:"namespace"`
	Description string  `json:"description"`
	Private     bool    `json:"private"`
	Item        *itemID `json:"item"`
}

type itemID struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

func checkText(what, s string, maxLen int, required bool) error {
	if required && strings.TrimSpace(s) == "" {
		return haven.Errorf(haven.EInvalid, "The %s must not be empty", what)
	}
	if utf8.RuneCountInString(s) > maxLen {
		return haven.Errorf(haven.EInvalid, "The %s must be at most %d characters long", what, maxLen)
	}
	return nil
}

func (s *Service) handleCreate(w http.ResponseWriter, r *http.Request) {
	a := hubhttp.Actor(r)
	var req createRequest
	if err := hubhttp.DecodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Namespace == "" {
		req.Namespace = a.Name()
	}
	if err := auth.CanEditCollections(a, req.Namespace); err != nil {
		s.writeError(w, r, err)
		return
	}
	req.Title = strings.TrimSpace(req.Title)
	if err := checkText("title", req.Title, maxTitle, true); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := checkText("description", req.Description, maxDescription, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	owner, err := s.meta.UserByName(r.Context(), req.Namespace)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var first *haven.CollectionItem
	if req.Item != nil {
		if first, err = s.resolveItem(r.Context(), a, req.Item.Type, req.Item.ID); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	c := &haven.Collection{OwnerID: owner.ID, Title: req.Title, Description: req.Description, Private: req.Private}
	if err := s.meta.CreateCollection(r.Context(), c); err != nil {
		if haven.ErrorCode(err) == haven.EConflict {
			// The Hub names the collection that has the title, which is how
			// create_collection(exists_ok=True) finds it.
			msg := haven.ErrorMessage(err)
			w.Header().Set("X-Error-Message", msg)
			hubhttp.WriteJSON(w, http.StatusConflict, map[string]string{"error": msg, "slug": c.Slug()})
			return
		}
		s.writeError(w, r, err)
		return
	}
	if first != nil {
		if err := s.meta.AddCollectionItem(r.Context(), c.ID, first); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	s.answer(w, r, c.ID, false)
}

// answer writes the collection id as the caller sees it now, wrapped in
// {"data": …} when wrap is set (the answer to PATCH).
func (s *Service) answer(w http.ResponseWriter, r *http.Request, id string, wrap bool) {
	c, err := s.Get(r.Context(), hubhttp.Actor(r), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var out any = s.object(c, true, -1)
	if wrap {
		out = map[string]any{"data": out}
	}
	hubhttp.WriteJSON(w, http.StatusOK, out)
}

func (s *Service) handleGet(w http.ResponseWriter, r *http.Request, slug string) {
	c, err := s.Get(r.Context(), hubhttp.Actor(r), slug)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	hubhttp.WriteJSON(w, http.StatusOK, s.object(c, true, -1))
}

// editable finds the collection of slug for a change by the caller: not
// found for those who may not see it, forbidden for those who may not
// change it.
func (s *Service) editable(r *http.Request, slug string) (*haven.Collection, error) {
	a := hubhttp.Actor(r)
	c, err := s.Get(r.Context(), a, slug)
	if err != nil {
		return nil, err
	}
	if err := auth.CanEditCollections(a, c.Owner); err != nil {
		return nil, err
	}
	return c, nil
}

type updateRequest struct {
	Title       *string `json:"title"`
	Description *string `json:"description"`
	Private     *bool   `json:"private"`
	Theme       *string `json:"theme"`
	Position    *int    `json:"position"`
}

func (s *Service) handleUpdate(w http.ResponseWriter, r *http.Request, slug string) {
	c, err := s.editable(r, slug)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req updateRequest
	if err := hubhttp.DecodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Title != nil {
		*req.Title = strings.TrimSpace(*req.Title)
		if err := checkText("title", *req.Title, maxTitle, true); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if req.Description != nil {
		if err := checkText("description", *req.Description, maxDescription, false); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if req.Theme != nil && !slices.Contains(haven.CollectionThemes, *req.Theme) {
		s.writeError(w, r, haven.Errorf(haven.EInvalid, "Invalid theme %q: expected one of %s", *req.Theme, strings.Join(haven.CollectionThemes, ", ")))
		return
	}
	err = s.meta.UpdateCollection(r.Context(), c.ID, meta.CollectionUpdate{
		Title: req.Title, Description: req.Description, Private: req.Private, Theme: req.Theme, Position: req.Position,
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.answer(w, r, c.ID, true)
}

func (s *Service) handleDelete(w http.ResponseWriter, r *http.Request, slug string) {
	c, err := s.editable(r, slug)
	if err == nil {
		err = s.meta.DeleteCollection(r.Context(), c.ID)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	hubhttp.WriteJSON(w, http.StatusOK, map[string]any{})
}

type addItemRequest struct {
	Item itemID `json:"item"`
	Note string `json:"note"`
}

func (s *Service) handleAddItem(w http.ResponseWriter, r *http.Request, slug string) {
	c, err := s.editable(r, slug)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req addItemRequest
	if err := hubhttp.DecodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := checkText("note", req.Note, maxNote, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	it, err := s.resolveItem(r.Context(), hubhttp.Actor(r), req.Item.Type, req.Item.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	it.Note = req.Note
	if err := s.meta.AddCollectionItem(r.Context(), c.ID, it); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.answer(w, r, c.ID, false)
}

type itemUpdate struct {
	Note     *string `json:"note"`
	Position *int    `json:"position"`
}

func (s *Service) updateItem(ctx context.Context, c *haven.Collection, itemID string, u itemUpdate) error {
	if u.Note != nil {
		if err := checkText("note", *u.Note, maxNote, false); err != nil {
			return err
		}
	}
	return s.meta.UpdateCollectionItem(ctx, c.ID, strings.ToLower(itemID), u.Note, u.Position)
}

func (s *Service) handleUpdateItem(w http.ResponseWriter, r *http.Request, slug, itemID string) {
	c, err := s.editable(r, slug)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var u itemUpdate
	if err := hubhttp.DecodeJSON(r, &u); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.updateItem(r.Context(), c, itemID, u); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.answer(w, r, c.ID, false)
}

type batchAction struct {
	Action string     `json:"action"`
	ID     string     `json:"_id"`
	Data   itemUpdate `json:"data"`
}

// handleBatch applies several item updates, in order; it stops at the
// first that fails.
func (s *Service) handleBatch(w http.ResponseWriter, r *http.Request, slug string) {
	c, err := s.editable(r, slug)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var actions []batchAction
	if err := hubhttp.DecodeJSON(r, &actions); err != nil {
		s.writeError(w, r, err)
		return
	}
	for _, act := range actions {
		if act.Action != "update" {
			s.writeError(w, r, haven.Errorf(haven.EInvalid, "Invalid action %q: expected update", act.Action))
			return
		}
		if err := s.updateItem(r.Context(), c, act.ID, act.Data); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	s.answer(w, r, c.ID, false)
}

func (s *Service) handleDeleteItem(w http.ResponseWriter, r *http.Request, slug, itemID string) {
	c, err := s.editable(r, slug)
	if err == nil {
		err = s.meta.DeleteCollectionItem(r.Context(), c.ID, strings.ToLower(itemID))
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	hubhttp.WriteJSON(w, http.StatusOK, map[string]any{})
}

// objectID is the 24-hex "_id" of a user, organisation or repository row.
func objectID(id int64) string { return fmt.Sprintf("%024d", id) }

// author is the Hub's object of the owner of c: its full name (its name
// where none is set), and isPro only for a user, as on the Hub.
func author(c *haven.Collection) map[string]any {
	fullname := c.OwnerFullName
	if fullname == "" {
		fullname = c.Owner
	}
	o := map[string]any{
		"_id": objectID(c.OwnerID), "name": c.Owner, "fullname": fullname, "avatarUrl": haven.AvatarURL(c.Owner),
		"type": "user", "isHf": false, "isHfAdmin": false, "isMod": false,
	}
	if c.OwnerIsOrg {
		o["type"] = "org"
	} else {
		o["isPro"] = false
	}
	return o
}

// object is the Hub's collection object, with position or without (in
// listings), and with at most maxItems items (-1: all).
func (s *Service) object(c *haven.Collection, withPosition bool, maxItems int) map[string]any {
	items := c.Items
	if maxItems >= 0 && len(items) > maxItems {
		items = items[:maxItems]
	}
	out := make([]map[string]any, 0, len(items))
	for _, it := range items {
		out = append(out, s.itemObject(&it))
	}
	o := map[string]any{
		"_id":             c.ID,
		"slug":            c.Slug(),
		"title":           c.Title,
		"owner":           author(c),
		"items":           out,
		"lastUpdated":     haven.FormatTime(c.UpdatedAt),
		"private":         c.Private,
		"theme":           c.Theme,
		"upvotes":         c.Upvotes,
		"isUpvotedByUser": c.Upvoted,
		"shareUrl":        s.URL(c),
		"gating":          false,
	}
	// The Hub leaves out a description never given; clients read it as None.
	if c.Description != "" {
		o["description"] = c.Description
	}
	if withPosition {
		o["position"] = c.Position
	}
	return o
}

func (s *Service) itemObject(it *haven.CollectionItem) map[string]any {
	o := map[string]any{"_id": it.ID, "type": it.Type, "position": it.Position}
	if it.Note != "" {
		o["note"] = map[string]any{"text": it.Note, "html": s.NoteHTML(it.Note)}
	}
	switch {
	case it.Repo != nil:
		r := it.Repo
		var gated any = false
		if r.Gated != "" {
			gated = r.Gated
		}
		o["id"] = r.FullName()
		o["author"] = r.Namespace
		o["repoType"] = string(r.Type)
		o["private"] = r.Private
		o["gated"] = gated
		o["likes"] = r.Likes
		o["downloads"] = r.Downloads
		o["lastModified"] = haven.FormatTime(r.UpdatedAt)
		if r.Type == haven.Model && r.PipelineTag != "" {
			o["pipeline_tag"] = r.PipelineTag
		}
		if r.Type == haven.Space && r.SDK != "" {
			o["sdk"] = r.SDK
		}
	case it.Collection != nil:
		n := it.Collection
		o["id"] = n.ID
		o["slug"] = n.Slug()
		o["title"] = n.Title
		o["description"] = n.Description
		o["owner"] = author(n)
		o["private"] = n.Private
		o["theme"] = n.Theme
		o["upvotes"] = n.Upvotes
		o["lastUpdated"] = haven.FormatTime(n.UpdatedAt)
	default:
		o["id"] = it.Paper
		o["title"] = it.Paper
		o["upvotes"] = 0
		o["url"] = "https://arxiv.org/abs/" + it.Paper
	}
	return o
}

// handleUpvote upvotes (POST) or takes back the upvote (DELETE) of a
// collection the caller sees, and answers its upvotes.
func (s *Service) handleUpvote(w http.ResponseWriter, r *http.Request, slug string, on bool) {
	c, err := s.Upvote(r.Context(), hubhttp.Actor(r), slug, on)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	hubhttp.WriteJSON(w, http.StatusOK, map[string]any{"upvotes": c.Upvotes, "isUpvotedByUser": c.Upvoted})
}
