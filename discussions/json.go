package discussions

import (
	"context"
	"encoding/json"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/gitstore"
)

// timeJSON is the Hub's date form: ISO 8601 with milliseconds and Z.
func timeJSON(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// authorJSON is the Hub's author object of a user; only names are stored, so
// it carries no volatile fields and details stay identical across calls.
func authorJSON(name string) map[string]any {
	return map[string]any{
		"avatarUrl": avatarURL(name),
		"fullname":  name,
		"name":      name,
		"type":      "user",
		"isPro":     false,
		"isHf":      false,
		"isHfAdmin": false,
		"isMod":     false,
	}
}

// avatarURL is the avatar of an author, "" for a deleted one.
func avatarURL(name string) string {
	if name == "" {
		return ""
	}
	return haven.AvatarURL(name)
}

func repoJSON(repo *haven.Repo) map[string]any {
	return map[string]any{"name": repo.FullName(), "type": string(repo.Type)}
}

// itemJSON is a discussion as listings give it.
func itemJSON(repo *haven.Repo, d *haven.Discussion) map[string]any {
	return map[string]any{
		"num":              d.Num,
		"title":            d.Title,
		"status":           d.Status,
		"createdAt":        timeJSON(d.CreatedAt),
		"author":           authorJSON(d.Author),
		"repo":             repoJSON(repo),
		"isPullRequest":    d.IsPullRequest,
		"pinned":           d.Pinned,
		"numComments":      d.NumComments,
		"numReactionUsers": d.ReactionUsers,
		"topReactions":     topReactionsJSON(d.TopReactions),
	}
}

// topReactionsJSON is the listing's summary of the reactions to the
// opening comment: {reaction, count}, most given first.
func topReactionsJSON(rs []haven.Reaction) []map[string]any {
	out := make([]map[string]any, 0, len(rs))
	for _, r := range rs {
		out = append(out, map[string]any{"reaction": r.Reaction, "count": len(r.Users)})
	}
	return out
}

// eventJSON is one event of a discussion's thread. The edit and hide answers
// use it too, so that they equal the event in the details.
func (s *Service) eventJSON(ev *haven.DiscussionEvent) map[string]any {
	out := map[string]any{
		"id":        ev.ObjectID,
		"type":      ev.Type,
		"createdAt": timeJSON(ev.CreatedAt),
		"author":    authorJSON(ev.Author),
	}
	if ev.Type != haven.EventComment {
		data := map[string]any{}
		json.Unmarshal([]byte(ev.Data), &data)
		out["data"] = data
		return out
	}
	html := func(raw string) string {
		if raw == "" {
			return ""
		}
		return s.cfg.Render(raw)
	}
	editors := []string{}
	seen := map[string]bool{}
	history := make([]map[string]any, 0, len(ev.Versions))
	for i := len(ev.Versions) - 1; i >= 0; i-- {
		v := ev.Versions[i]
		history = append(history, map[string]any{
			"raw":       v.Body,
			"html":      html(v.Body),
			"updatedAt": timeJSON(v.CreatedAt),
			"author":    authorJSON(v.Author),
		})
	}
	for _, v := range ev.Versions {
		if !seen[v.Author] {
			seen[v.Author] = true
			editors = append(editors, v.Author)
		}
	}
	latestAuthor := ev.Author
	if n := len(ev.Versions); n > 0 {
		latestAuthor = ev.Versions[n-1].Author
	}
	numEdits := max(len(ev.Versions)-1, 0)
	data := map[string]any{
		"edited":           numEdits > 0,
		"hidden":           ev.Hidden,
		"numEdits":         numEdits,
		"editors":          editors,
		"editorAvatarUrls": []string{},
		"reactions":        reactionsJSON(ev.Reactions),
		"latest": map[string]any{
			"raw":       ev.Body,
			"html":      html(ev.Body),
			"updatedAt": timeJSON(ev.UpdatedAt),
			"author":    authorJSON(latestAuthor),
		},
		"history": history,
	}
	if ev.Hidden {
		data["hiddenBy"] = ev.HiddenBy
		data["hiddenReason"] = "Hidden"
	}
	out["data"] = data
	return out
}

// detailsJSON is a discussion with its events; for a pull request, its
// changes, conflicts and, when withDiff, its diff.
func (s *Service) detailsJSON(ctx context.Context, repo *haven.Repo, d *haven.Discussion, withDiff bool) (map[string]any, error) {
	evs, err := s.cfg.Meta.DiscussionEvents(ctx, d.ID)
	if err != nil {
		return nil, err
	}
	events := make([]map[string]any, 0, len(evs))
	for _, ev := range evs {
		events = append(events, s.eventJSON(ev))
	}
	out := map[string]any{
		"_id":           d.ObjectID,
		"num":           d.Num,
		"title":         d.Title,
		"status":        d.Status,
		"createdAt":     timeJSON(d.CreatedAt),
		"author":        authorJSON(d.Author),
		"repo":          repoJSON(repo),
		"isPullRequest": d.IsPullRequest,
		"pinned":        d.Pinned,
		"locked":        d.Locked,
		"collection":    "discussions",
		"events":        events,
	}
	if !d.IsPullRequest {
		return out, nil
	}
	g, err := s.cfg.Git.Open(ctx, repo.Type, repo.RepoID())
	if err != nil {
		return nil, err
	}
	pr, err := s.pullRequest(ctx, g, d)
	if err != nil {
		return nil, err
	}
	changes := map[string]any{"base": d.TargetRef, "headCommitId": pr.head}
	if d.MergeCommit != "" {
		changes["mergeCommitId"] = d.MergeCommit
	}
	out["changes"] = changes
	out["filesWithConflicts"] = pr.conflicts
	if withDiff && pr.head != "" {
		if diff, err := g.Diff(ctx, d.TargetRef, pr.head); err == nil {
			out["diff"] = diff
		}
	}
	return out, nil
}

// prState is what git says of a pull request.
type prState struct {
	head      string   // head of refs/pr/N; "" when the ref is gone
	conflicts []string // never nil
}

func (s *Service) pullRequest(ctx context.Context, g *gitstore.Repo, d *haven.Discussion) (prState, error) {
	st := prState{conflicts: []string{}}
	head, err := g.Resolve(haven.PullRequestRef(d.Num))
	if err != nil {
		if haven.IsCode(err, haven.ERevisionNotFound) {
			return st, nil
		}
		return st, err
	}
	st.head = head
	switch d.Status {
	case haven.StatusOpen, haven.StatusDraft:
		c, err := g.Conflicts(ctx, d.TargetRef, head)
		if err != nil && !haven.IsCode(err, haven.ERevisionNotFound) {
			return st, err
		}
		if c != nil {
			st.conflicts = c
		}
	default:
		if d.Conflicts != nil {
			st.conflicts = d.Conflicts
		}
	}
	return st, nil
}
