package discussions

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/gitstore"
)

var _ api.PullRequests = (*Service)(nil)

// openPullRequest records a pull request and creates its ref refs/pr/N at
// head (the target's head when ""). target is a full branch ref ("" for the
// default branch). Numbers go past any refs/pr/N made before discussions
// were recorded, so that an old ref is never taken over.
func (s *Service) openPullRequest(ctx context.Context, repo *haven.Repo, a *auth.Actor, title, description, target, head, status string) (*haven.Discussion, error) {
	if target == "" {
		target = "refs/heads/" + repo.DefaultBranch()
	}
	g, err := s.cfg.Git.Open(ctx, repo.Type, repo.RepoID())
	if err != nil {
		return nil, err
	}
	if head == "" {
		if head, err = g.Resolve(target); err != nil {
			return nil, err
		}
	}
	minNum := 1
	if refs, err := g.Refs(); err == nil {
		for _, pr := range refs.PullRequests {
			if n := atoi(strings.TrimPrefix(pr.Ref, "refs/pr/")); n >= minNum {
				minNum = n + 1
			}
		}
	}
	d := &haven.Discussion{RepoID: repo.ID, Title: title, Author: a.Name(), Status: status, IsPullRequest: true, TargetRef: target}
	first := &haven.DiscussionEvent{Type: haven.EventComment, Author: a.Name(), Body: description}
	if err := s.cfg.Meta.CreateDiscussion(ctx, d, first, minNum); err != nil {
		return nil, err
	}
	if err := g.CreateRef(ctx, haven.PullRequestRef(d.Num), head); err != nil {
		// Without its ref the pull request cannot exist.
		if derr := s.cfg.Meta.DeleteDiscussion(context.WithoutCancel(ctx), d.ID); derr != nil {
			s.log.Error("removing a pull request whose ref could not be made", "repo", repo.FullName(), "num", d.Num, "err", derr)
		}
		return nil, err
	}
	s.tell(ctx, repo, haven.ScopeDiscussion, haven.ActionCreate, d, first)
	return d, nil
}

// Open opens the pull request of a create_pr commit (api.PullRequests).
func (s *Service) Open(ctx context.Context, repo *haven.Repo, a *auth.Actor, title, description, target, head string) (int, error) {
	if strings.TrimSpace(title) == "" {
		title = "Upload files"
	}
	if len([]rune(title)) > maxTitle {
		title = string([]rune(title)[:maxTitle])
	}
	d, err := s.openPullRequest(ctx, repo, a, strings.TrimSpace(title), description, target, head, haven.StatusOpen)
	if err != nil {
		return 0, err
	}
	s.notifyMentions(ctx, repo, a, d, description)
	return d.Num, nil
}

// CanCommit lets the author of pull request num and the repository's
// writers commit to refs/pr/num (api.PullRequests). A ref with no recorded
// pull request is for writers only.
func (s *Service) CanCommit(ctx context.Context, repo *haven.Repo, a *auth.Actor, num int) error {
	if repo.MirrorOf != "" {
		// A mirror's pull request refs follow its source.
		return auth.Can(a, auth.Write, repo)
	}
	d, err := s.cfg.Meta.Discussion(ctx, repo.ID, num)
	if err != nil {
		if haven.IsCode(err, haven.ENotFound) {
			return auth.Can(a, auth.Write, repo)
		}
		return err
	}
	if d.Status == haven.StatusMerged || d.Status == haven.StatusClosed {
		if err := auth.Can(a, auth.Read, repo); err != nil {
			return err
		}
		return haven.Errorf(haven.EForbidden, "Pull request #%d is %s: reopen it to add commits", num, d.Status)
	}
	return auth.CanDiscuss(a, auth.Moderate, repo, d.Author)
}

// maxCommitEvents bounds the commit events one push adds.
const maxCommitEvents = 50

// Committed adds a commit event for each commit that refs/pr/num gained
// (api.PullRequests), newest last. Failures are logged: the commit is made.
func (s *Service) Committed(ctx context.Context, repo *haven.Repo, a *auth.Actor, num int, old, head string) {
	d, err := s.cfg.Meta.Discussion(ctx, repo.ID, num)
	if err != nil || !d.IsPullRequest || head == "" {
		return
	}
	g, err := s.cfg.Git.Open(ctx, repo.Type, repo.RepoID())
	if err != nil {
		s.log.Error("recording pull request commits", "repo", repo.FullName(), "num", num, "err", err)
		return
	}
	log, _, err := g.Log(head, 0, maxCommitEvents)
	if err != nil {
		s.log.Error("recording pull request commits", "repo", repo.FullName(), "num", num, "err", err)
		return
	}
	var added []*gitstore.Commit
	for _, c := range log {
		if c.ID == old {
			break
		}
		added = append(added, c)
		if old == "" {
			// A new ref: its own head is what was pushed.
			break
		}
	}
	author := a.Name()
	for i := len(added) - 1; i >= 0; i-- {
		data, _ := json.Marshal(map[string]string{"subject": added[i].Title, "oid": added[i].ID})
		ev := &haven.DiscussionEvent{Type: haven.EventCommit, Author: author, Data: string(data)}
		if err := s.cfg.Meta.AddDiscussionEvent(ctx, d, ev, haven.DiscussionChange{}); err != nil {
			s.log.Error("recording pull request commits", "repo", repo.FullName(), "num", num, "err", err)
			return
		}
	}
}

// diff is the unified diff of a pull request against its target.
func (s *Service) diff(ctx context.Context, repo *haven.Repo, d *haven.Discussion) (string, error) {
	g, err := s.cfg.Git.Open(ctx, repo.Type, repo.RepoID())
	if err != nil {
		return "", err
	}
	base := d.TargetRef
	if d.Status == haven.StatusMerged && d.MergeCommit != "" {
		// After the merge the target contains the changes: compare with
		// where the pull request started instead.
		if c, err := g.CommitInfo(d.MergeCommit); err == nil && len(c.Parents) == 2 {
			base = c.Parents[0]
		}
	}
	return g.Diff(ctx, base, haven.PullRequestRef(d.Num))
}

// merge merges pull request d into its target branch. Drafts must be
// published first; a conflict is haven.EConflict and changes nothing.
// entry, completed with the merge commit, is written with the status
// change that records the merge.
func (s *Service) merge(ctx context.Context, repo *haven.Repo, a *auth.Actor, d *haven.Discussion, comment string, entry haven.AuditEntry) error {
	switch {
	case !d.IsPullRequest:
		return haven.Errorf(haven.EInvalid, "Discussion #%d is not a pull request", d.Num)
	case d.Status == haven.StatusDraft:
		return haven.Errorf(haven.EInvalid, "Pull request #%d is a draft: publish it before merging", d.Num)
	case d.Status != haven.StatusOpen:
		return haven.Errorf(haven.EInvalid, "Pull request #%d is %s", d.Num, d.Status)
	}
	g, err := s.cfg.Git.Open(ctx, repo.Type, repo.RepoID())
	if err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	old, _ := g.Resolve(d.TargetRef)
	res, err := g.Merge(ctx, d.TargetRef, haven.PullRequestRef(d.Num), signature(a),
		"Merge pull request #"+itoa(d.Num)+": "+d.Title, "")
	if err != nil {
		if res.Conflicts != nil {
			return haven.Errorf(haven.EConflict, "Pull request #%d cannot be merged: %s conflict with %s. Nothing was changed.",
				d.Num, strings.Join(res.Conflicts, ", "), strings.TrimPrefix(d.TargetRef, "refs/heads/"))
		}
		return err
	}
	if !res.UpToDate && s.cfg.Changed != nil {
		s.cfg.Changed(ctx, repo)
	}
	if !res.UpToDate {
		s.tellMerged(ctx, repo, d.TargetRef, old, res.SHA)
	}
	if strings.TrimSpace(comment) != "" {
		c := &haven.DiscussionEvent{Type: haven.EventComment, Author: a.Name(), Body: comment}
		if err := s.cfg.Meta.AddDiscussionEvent(ctx, d, c, haven.DiscussionChange{}); err != nil {
			return err
		}
	}
	merged, none := haven.StatusMerged, []string{}
	data, _ := json.Marshal(map[string]string{"status": merged})
	ev := &haven.DiscussionEvent{Type: haven.EventStatusChange, Author: a.Name(), Data: string(data)}
	entry.Details["mergeCommitId"] = res.SHA
	if err := s.cfg.Meta.AddDiscussionEvent(haven.WithAudit(ctx, entry), d, ev, haven.DiscussionChange{Status: &merged, MergeCommit: &res.SHA, Conflicts: &none}); err != nil {
		return err
	}
	s.tell(ctx, repo, haven.ScopeDiscussion, haven.ActionUpdate, d, nil)
	return nil
}
