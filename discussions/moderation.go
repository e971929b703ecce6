package discussions

import (
	"encoding/json"
	"net/http"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/hubhttp"
)

// handleFlag pins or unpins (pin), or locks or unlocks (lock) a discussion
// and answers the pinning-change or locking-change event it adds. Setting
// the flag it already has adds nothing and answers 400, as repeating a
// status does.
func (s *Service) handleFlag(w http.ResponseWriter, r *http.Request, repo *haven.Repo, num string, lock bool) {
	a := hubhttp.Actor(r)
	d, ok := s.openFor(w, r, repo, num, func(d *haven.Discussion) error { return auth.CanDiscuss(a, auth.Pin, repo, d.Author) })
	if !ok {
		return
	}
	var req struct {
		Pinned *bool `json:"pinned"`
		Locked *bool `json:"locked"`
	}
	if err := hubhttp.DecodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	field, value, current := "pinned", req.Pinned, d.Pinned
	typ, action, verb := haven.EventPinning, haven.AuditDiscussionPin, "pinned"
	if lock {
		field, value, current = "locked", req.Locked, d.Locked
		typ, action, verb = haven.EventLocking, haven.AuditDiscussionLock, "locked"
	}
	var err error
	switch {
	case value == nil:
		err = haven.Errorf(haven.EInvalid, "Missing %q: expected true or false", field)
	case *value == current && *value:
		err = haven.Errorf(haven.EInvalid, "Discussion #%d is already %s", d.Num, verb)
	case *value == current:
		err = haven.Errorf(haven.EInvalid, "Discussion #%d is not %s", d.Num, verb)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	data, _ := json.Marshal(map[string]bool{field: *value})
	ev := &haven.DiscussionEvent{Type: typ, Author: a.Name(), Data: string(data)}
	change := haven.DiscussionChange{Pinned: value}
	if lock {
		change = haven.DiscussionChange{Locked: value}
	}
	entry := hubhttp.AuditEntry(r, haven.AuditEntry{Action: action, Namespace: repo.Namespace,
		TargetType: haven.AuditTargetDiscussion, Target: repo.FullName() + "#" + itoa(d.Num),
		Details: map[string]any{"repo": repo.FullName(), "repoType": string(repo.Type), "num": d.Num, field: *value}})
	if err := s.cfg.Meta.AddDiscussionEvent(haven.WithAudit(r.Context(), entry), d, ev, change); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.tell(r.Context(), repo, haven.ScopeDiscussion, haven.ActionUpdate, d, nil)
	hubhttp.WriteJSON(w, http.StatusOK, s.eventJSON(ev))
}

// handleDelete deletes a discussion with its thread; a pull request's ref
// stays, as its commits may be referenced elsewhere.
func (s *Service) handleDelete(w http.ResponseWriter, r *http.Request, repo *haven.Repo, num string) {
	a := hubhttp.Actor(r)
	d, ok := s.openFor(w, r, repo, num, func(d *haven.Discussion) error { return auth.CanDiscuss(a, auth.Delete, repo, d.Author) })
	if !ok {
		return
	}
	entry := hubhttp.AuditEntry(r, haven.AuditEntry{Action: haven.AuditDiscussionDelete, Namespace: repo.Namespace,
		TargetType: haven.AuditTargetDiscussion, Target: repo.FullName() + "#" + itoa(d.Num),
		Details: map[string]any{"repo": repo.FullName(), "repoType": string(repo.Type), "num": d.Num, "title": d.Title,
			"author": d.Author, "isPullRequest": d.IsPullRequest}})
	if err := s.cfg.Meta.DeleteDiscussion(haven.WithAudit(r.Context(), entry), d.ID); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.tell(r.Context(), repo, haven.ScopeDiscussion, haven.ActionDelete, d, nil)
	hubhttp.WriteJSON(w, http.StatusOK, map[string]any{"success": true})
}

// handleReaction adds or removes the caller's reaction to a comment:
// {"action": "add"|"remove", "reaction": emoji}. Both are idempotent. It
// answers the comment's reactions and the comment as the details show it.
func (s *Service) handleReaction(w http.ResponseWriter, r *http.Request, repo *haven.Repo, num, commentID string) {
	a := hubhttp.Actor(r)
	d, ok := s.openFor(w, r, repo, num, func(d *haven.Discussion) error { return auth.CanComment(a, repo, d) })
	if !ok {
		return
	}
	var req struct {
		Action   string `json:"action"`
		Reaction string `json:"reaction"`
	}
	if err := hubhttp.DecodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Action != "add" && req.Action != "remove" {
		s.writeError(w, r, haven.Errorf(haven.EInvalid, `"action" must be one of [add, remove]`))
		return
	}
	ev, err := s.cfg.Meta.DiscussionEvent(r.Context(), d.ID, commentID)
	if err == nil && (ev.Type != haven.EventComment || ev.Hidden) {
		err = haven.Errorf(haven.ENotFound, "Comment not found")
	}
	if err == nil {
		err = s.cfg.Meta.SetReaction(r.Context(), d, ev, a.Name(), req.Reaction, req.Action == "add")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	hubhttp.WriteJSON(w, http.StatusOK, map[string]any{"reactions": reactionsJSON(ev.Reactions),
		"updatedComment": s.eventJSON(ev)})
}

// reactionsJSON is the Hub's list of reactions: {reaction, users, count}.
func reactionsJSON(rs []haven.Reaction) []map[string]any {
	out := make([]map[string]any, 0, len(rs))
	for _, r := range rs {
		out = append(out, map[string]any{"reaction": r.Reaction, "users": r.Users, "count": len(r.Users)})
	}
	return out
}
