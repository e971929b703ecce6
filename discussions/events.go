package discussions

import (
	"context"

	"github.com/havenhub/haven"
)

// tell hands a discussion event to the event sink, if there is one.
// comment is the comment created or changed, or the first comment of a
// new discussion.
func (s *Service) tell(ctx context.Context, repo *haven.Repo, scope, action string, d *haven.Discussion, comment *haven.DiscussionEvent) {
	if s.cfg.Events == nil {
		return
	}
	dc := *d
	ev := &haven.RepoEvent{Scope: scope, Action: action, Repo: repo, Discussion: &dc}
	if comment != nil {
		c := *comment
		ev.Comment = &c
	}
	s.cfg.Events.RepoEvent(context.WithoutCancel(ctx), ev)
}

// tellMerged tells the repo.content event of a merge that moved ref.
func (s *Service) tellMerged(ctx context.Context, repo *haven.Repo, ref, old, sha string) {
	if s.cfg.Events == nil {
		return
	}
	after := *repo
	if ref == "refs/heads/"+repo.DefaultBranch() {
		after.SHA = sha
	}
	s.cfg.Events.RepoEvent(context.WithoutCancel(ctx), &haven.RepoEvent{Scope: haven.ScopeRepoContent, Action: haven.ActionUpdate,
		Repo: &after, UpdatedRefs: []haven.RefUpdate{{Ref: ref, OldSHA: old, NewSHA: sha}}})
}
