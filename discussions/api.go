package discussions

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/hubhttp"
)

// RepoAction serves /api/{types}/{ns}/{name}/discussions/… on every type of
// repository.
func (s *Service) RepoAction(t haven.RepoType, action, method string) api.RepoHandler {
	if action != "discussions" {
		return nil
	}
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodDelete:
		return s.route
	}
	return nil
}

// API serves nothing outside repositories.
func (s *Service) API(first string) http.Handler { return nil }

func (s *Service) writeError(w http.ResponseWriter, r *http.Request, err error) {
	hubhttp.WriteError(s.log, w, r, err)
}

func (s *Service) route(w http.ResponseWriter, r *http.Request, repo *haven.Repo, rest []string) {
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	post := r.Method == http.MethodPost
	switch {
	case len(rest) == 0 && get:
		s.handleList(w, r, repo)
	case len(rest) == 0 && post:
		s.handleCreate(w, r, repo)
	case len(rest) == 1 && get:
		s.handleDetails(w, r, repo, rest[0])
	case len(rest) == 2 && rest[1] == "diff" && get:
		s.handleDiff(w, r, repo, rest[0])
	case len(rest) == 2 && rest[1] == "comment" && post:
		s.handleComment(w, r, repo, rest[0])
	case len(rest) == 4 && rest[1] == "comment" && (rest[3] == "edit" || rest[3] == "hide") && post:
		s.handleEditComment(w, r, repo, rest[0], rest[2], rest[3] == "hide")
	case len(rest) == 2 && rest[1] == "title" && post:
		s.handleTitle(w, r, repo, rest[0])
	case len(rest) == 2 && rest[1] == "status" && post:
		s.handleStatus(w, r, repo, rest[0])
	case len(rest) == 2 && rest[1] == "merge" && post:
		s.handleMerge(w, r, repo, rest[0])
	case len(rest) == 2 && (rest[1] == "pin" || rest[1] == "lock") && post:
		s.handleFlag(w, r, repo, rest[0], rest[1] == "lock")
	case len(rest) == 1 && r.Method == http.MethodDelete:
		s.handleDelete(w, r, repo, rest[0])
	case len(rest) == 4 && rest[1] == "comment" && rest[3] == "reaction" && post:
		s.handleReaction(w, r, repo, rest[0], rest[2])
	default:
		s.writeError(w, r, haven.Errorf(haven.ENotFound, "Not Found"))
	}
}

// decodeOptional reads a JSON body that may be absent or empty, as the
// merge and hide requests of the Python client are.
func decodeOptional(r *http.Request, v any) error {
	if r.Body == nil {
		return nil
	}
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 4*maxComment))
	if err != nil {
		return haven.Errorf(haven.ETooLarge, "Request body too large")
	}
	if strings.TrimSpace(string(b)) == "" {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return haven.Errorf(haven.EInvalid, "Invalid JSON body: %v", err)
	}
	return nil
}

// handleList answers the listing: newest first, pages of 50 chosen by p.
func (s *Service) handleList(w http.ResponseWriter, r *http.Request, repo *haven.Repo) {
	q := r.URL.Query()
	f := haven.DiscussionFilter{Author: q.Get("author"), Search: q.Get("search"), Sort: q.Get("sort"), Limit: pageSize}
	switch q.Get("type") {
	case "", "all":
	case "discussion":
		no := false
		f.PullRequests = &no
	case "pull_request":
		yes := true
		f.PullRequests = &yes
	default:
		s.writeError(w, r, haven.Errorf(haven.EInvalid, "Invalid type %q: expected all, discussion or pull_request", q.Get("type")))
		return
	}
	switch st := q.Get("status"); st {
	case "", "all", haven.StatusOpen, haven.StatusClosed:
		f.Status = st
	default:
		s.writeError(w, r, haven.Errorf(haven.EInvalid, "Invalid status %q: expected all, open or closed", st))
		return
	}
	if p := q.Get("p"); p != "" {
		n := atoi(p)
		if p == "0" {
			n = 0
		}
		if n < 0 {
			s.writeError(w, r, haven.Errorf(haven.EInvalid, "Invalid page %q", p))
			return
		}
		f.Offset = n * pageSize
	}
	ds, total, closed, err := s.cfg.Meta.ListDiscussions(r.Context(), repo.ID, f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	items := make([]map[string]any, 0, len(ds))
	for _, d := range ds {
		items = append(items, itemJSON(repo, d))
	}
	hubhttp.WriteJSON(w, http.StatusOK, map[string]any{
		"discussions":          items,
		"count":                total,
		"start":                f.Offset,
		"numClosedDiscussions": closed,
	})
}

func (s *Service) handleCreate(w http.ResponseWriter, r *http.Request, repo *haven.Repo) {
	a := hubhttp.Actor(r)
	if err := auth.CanDiscuss(a, auth.Discuss, repo, ""); err != nil {
		s.writeError(w, r, err)
		return
	}
	var req struct {
		Title       string `json:"title"`
		Description string `json:"description"`
		PullRequest bool   `json:"pullRequest"`
	}
	if err := hubhttp.DecodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.PullRequest {
		if err := auth.CanPropose(a, repo); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	title, err := checkTitle(req.Title)
	if err == nil {
		err = checkComment(req.Description, true)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var d *haven.Discussion
	if req.PullRequest {
		d, err = s.openPullRequest(r.Context(), repo, a, title, req.Description, "", "", haven.StatusDraft)
	} else {
		d = &haven.Discussion{RepoID: repo.ID, Title: title, Author: a.Name(), Status: haven.StatusOpen}
		first := &haven.DiscussionEvent{Type: haven.EventComment, Author: a.Name(), Body: req.Description}
		if err = s.cfg.Meta.CreateDiscussion(r.Context(), d, first, 0); err == nil {
			s.tell(r.Context(), repo, haven.ScopeDiscussion, haven.ActionCreate, d, first)
		}
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.notifyMentions(r.Context(), repo, a, d, req.Description)
	out := map[string]any{"num": d.Num, "url": s.URL(repo, d.Num), "pullRequest": d.IsPullRequest}
	if d.IsPullRequest {
		out["references"] = map[string]any{"base": d.TargetRef}
	}
	hubhttp.WriteJSON(w, http.StatusOK, out)
}

func (s *Service) handleDetails(w http.ResponseWriter, r *http.Request, repo *haven.Repo, num string) {
	d, err := s.open(r.Context(), repo, num)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	diff := r.URL.Query().Get("diff")
	out, err := s.detailsJSON(r.Context(), repo, d, diff == "1" || diff == "true")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	hubhttp.WriteJSON(w, http.StatusOK, out)
}

// handleDiff answers the unified diff of a pull request as text. The files
// of gated repositories are for those who may download them.
func (s *Service) handleDiff(w http.ResponseWriter, r *http.Request, repo *haven.Repo, num string) {
	d, err := s.open(r.Context(), repo, num)
	if err == nil && !d.IsPullRequest {
		err = haven.Errorf(haven.EInvalid, "Discussion #%d is not a pull request", d.Num)
	}
	if err == nil {
		err = auth.CanDownload(hubhttp.Actor(r), repo, s.URL(repo, d.Num))
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	diff, err := s.diff(r.Context(), repo, d)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, diff)
}

func (s *Service) handleComment(w http.ResponseWriter, r *http.Request, repo *haven.Repo, num string) {
	a := hubhttp.Actor(r)
	d, ok := s.openFor(w, r, repo, num, func(d *haven.Discussion) error { return auth.CanComment(a, repo, d) })
	if !ok {
		return
	}
	var req struct {
		Comment string `json:"comment"`
	}
	if err := hubhttp.DecodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := checkComment(req.Comment, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	ev := &haven.DiscussionEvent{Type: haven.EventComment, Author: a.Name(), Body: req.Comment}
	if err := s.cfg.Meta.AddDiscussionEvent(r.Context(), d, ev, haven.DiscussionChange{}); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.tell(r.Context(), repo, haven.ScopeDiscussionComment, haven.ActionCreate, d, ev)
	s.notifyMentions(r.Context(), repo, a, d, req.Comment)
	hubhttp.WriteJSON(w, http.StatusCreated, map[string]any{"newMessage": s.eventJSON(ev)})
}

func (s *Service) handleEditComment(w http.ResponseWriter, r *http.Request, repo *haven.Repo, num, commentID string, hide bool) {
	a := hubhttp.Actor(r)
	d, err := s.open(r.Context(), repo, num)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ev, err := s.cfg.Meta.DiscussionEvent(r.Context(), d.ID, commentID)
	if err == nil && ev.Type != haven.EventComment {
		err = haven.Errorf(haven.ENotFound, "Comment not found")
	}
	if err == nil {
		err = auth.CanDiscuss(a, auth.Moderate, repo, ev.Author)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if hide {
		var req struct{}
		if err := decodeOptional(r, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
		if !ev.Hidden {
			err = s.cfg.Meta.HideComment(r.Context(), ev, a.Name())
		}
	} else {
		var req struct {
			Content string `json:"content"`
		}
		if err = hubhttp.DecodeJSON(r, &req); err == nil {
			err = checkComment(req.Content, false)
		}
		if err == nil && ev.Hidden {
			err = haven.Errorf(haven.EForbidden, "A hidden comment cannot be edited")
		}
		if err == nil {
			err = s.cfg.Meta.EditComment(r.Context(), ev, req.Content, a.Name())
		}
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// Read back, so that the answer is exactly the event the details show.
	ev, err = s.cfg.Meta.DiscussionEvent(r.Context(), d.ID, ev.ObjectID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.tell(r.Context(), repo, haven.ScopeDiscussionComment, haven.ActionUpdate, d, ev)
	hubhttp.WriteJSON(w, http.StatusOK, map[string]any{"updatedComment": s.eventJSON(ev)})
}

func (s *Service) handleTitle(w http.ResponseWriter, r *http.Request, repo *haven.Repo, num string) {
	a := hubhttp.Actor(r)
	d, ok := s.openFor(w, r, repo, num, func(d *haven.Discussion) error { return auth.CanDiscuss(a, auth.Moderate, repo, d.Author) })
	if !ok {
		return
	}
	var req struct {
		Title string `json:"title"`
	}
	if err := hubhttp.DecodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	title, err := checkTitle(req.Title)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	data, _ := json.Marshal(map[string]string{"from": d.Title, "to": title})
	ev := &haven.DiscussionEvent{Type: haven.EventTitleChange, Author: a.Name(), Data: string(data)}
	if err := s.cfg.Meta.AddDiscussionEvent(r.Context(), d, ev, haven.DiscussionChange{Title: &title}); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.tell(r.Context(), repo, haven.ScopeDiscussion, haven.ActionUpdate, d, nil)
	hubhttp.WriteJSON(w, http.StatusOK, map[string]any{"newTitle": s.eventJSON(ev)})
}

// handleStatus publishes a draft, closes or reopens. A merged pull request
// stays merged.
func (s *Service) handleStatus(w http.ResponseWriter, r *http.Request, repo *haven.Repo, num string) {
	a := hubhttp.Actor(r)
	d, ok := s.openFor(w, r, repo, num, func(d *haven.Discussion) error { return auth.CanDiscuss(a, auth.Moderate, repo, d.Author) })
	if !ok {
		return
	}
	var req struct {
		Status  string `json:"status"`
		Comment string `json:"comment"`
	}
	if err := hubhttp.DecodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	var err error
	switch {
	case req.Status != haven.StatusOpen && req.Status != haven.StatusClosed:
		err = haven.Errorf(haven.EInvalid, "Invalid status %q: expected open or closed", req.Status)
	case d.Status == haven.StatusMerged:
		err = haven.Errorf(haven.EInvalid, "Pull request #%d is merged: its status cannot change", d.Num)
	case d.Status == req.Status:
		err = haven.Errorf(haven.EInvalid, "Discussion #%d is already %s", d.Num, req.Status)
	}
	if err == nil {
		err = checkComment(req.Comment, true)
	}
	if err == nil && strings.TrimSpace(req.Comment) != "" {
		err = auth.CanComment(a, repo, d)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if strings.TrimSpace(req.Comment) != "" {
		c := &haven.DiscussionEvent{Type: haven.EventComment, Author: a.Name(), Body: req.Comment}
		if err := s.cfg.Meta.AddDiscussionEvent(r.Context(), d, c, haven.DiscussionChange{}); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	data, _ := json.Marshal(map[string]string{"status": req.Status})
	ev := &haven.DiscussionEvent{Type: haven.EventStatusChange, Author: a.Name(), Data: string(data)}
	if err := s.cfg.Meta.AddDiscussionEvent(r.Context(), d, ev, haven.DiscussionChange{Status: &req.Status}); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.tell(r.Context(), repo, haven.ScopeDiscussion, haven.ActionUpdate, d, nil)
	hubhttp.WriteJSON(w, http.StatusOK, map[string]any{"newStatus": s.eventJSON(ev)})
}

func (s *Service) handleMerge(w http.ResponseWriter, r *http.Request, repo *haven.Repo, num string) {
	a := hubhttp.Actor(r)
	d, ok := s.openFor(w, r, repo, num, func(d *haven.Discussion) error { return auth.CanDiscuss(a, auth.Merge, repo, d.Author) })
	if !ok {
		return
	}
	var req struct {
		Comment string `json:"comment"`
	}
	if err := decodeOptional(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := checkComment(req.Comment, true); err != nil {
		s.writeError(w, r, err)
		return
	}
	entry := hubhttp.AuditEntry(r, haven.AuditEntry{Action: haven.AuditDiscussionMerge, Namespace: repo.Namespace,
		TargetType: haven.AuditTargetDiscussion, Target: repo.FullName() + "#" + itoa(d.Num),
		Details: map[string]any{"repo": repo.FullName(), "repoType": string(repo.Type), "num": d.Num, "title": d.Title,
			"target": d.TargetRef}})
	if err := s.merge(r.Context(), repo, a, d, req.Comment, entry); err != nil {
		s.writeError(w, r, err)
		return
	}
	hubhttp.WriteJSON(w, http.StatusOK, map[string]any{"success": true, "mergeCommitId": d.MergeCommit})
}
