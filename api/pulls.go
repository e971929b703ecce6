package api

import (
	"context"
	"strconv"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/gitstore"
)

// PullRequests keeps the pull requests of repositories in step with the
// commits made through the API and git: a create_pr commit opens one, and
// commits on refs/pr/N become events of pull request N. The discussions
// package implements it; without one, create_pr commits only make refs.
type PullRequests interface {
	// Open opens a pull request by a, titled title, into the branch target
	// (a full ref name), with its ref refs/pr/N created at head, and returns
	// N. The pull request is open, not a draft: the commit is its content.
	Open(ctx context.Context, repo *haven.Repo, a *auth.Actor, title, description, target, head string) (int, error)
	// CanCommit reports whether a may commit to refs/pr/num of repo.
	CanCommit(ctx context.Context, repo *haven.Repo, a *auth.Actor, num int) error
	// Committed records that refs/pr/num moved from old to head, by a.
	Committed(ctx context.Context, repo *haven.Repo, a *auth.Actor, num int, old, head string)
}

// pullRequestNum is N of a revision "refs/pr/N", or 0.
func pullRequestNum(rev string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(rev, "refs/pr/"))
	if !strings.HasPrefix(rev, "refs/pr/") || err != nil || n <= 0 {
		return 0
	}
	return n
}

// canCommit checks that a may commit to rev: write access, read access
// when the commit opens a pull request, and what the pull request's
// discussion allows (its author) for a commit on refs/pr/N.
func (s *Server) canCommit(ctx context.Context, a *auth.Actor, repo *haven.Repo, rev string, createPR bool) error {
	if n := pullRequestNum(rev); n > 0 && !createPR && s.pulls != nil {
		return s.pulls.CanCommit(ctx, repo, a, n)
	}
	return canWriteOrPropose(a, repo, createPR)
}

// pullRequestHeads maps the numbers of a repository's pull request refs to
// their heads, to tell after a push which of them moved.
func pullRequestHeads(g *gitstore.Repo) map[int]string {
	refs, err := g.Refs()
	if err != nil {
		return nil
	}
	out := map[int]string{}
	for _, pr := range refs.PullRequests {
		if n := pullRequestNum(pr.Ref); n > 0 {
			out[n] = pr.Target
		}
	}
	return out
}

// pushedPullRequests tells PullRequests about the pull request refs a push
// moved, given their heads before it.
func (s *Server) pushedPullRequests(ctx context.Context, repo *haven.Repo, a *auth.Actor, before map[int]string) {
	if s.pulls == nil || before == nil {
		return
	}
	g, err := s.git.Open(ctx, repo.Type, repo.RepoID())
	if err != nil {
		return
	}
	for n, head := range pullRequestHeads(g) {
		if old := before[n]; old != head {
			s.pulls.Committed(ctx, repo, a, n, old, head)
		}
	}
}

// RepoChanged is for changes to a repository's git made outside the API (a
// merged pull request): it drops the cached answers and refreshes the
// derived metadata (card, tags, head) from the default branch.
func (s *Server) RepoChanged(ctx context.Context, repo *haven.Repo) {
	s.changed(repo)
	if err := s.refreshRepo(ctx, repo); err != nil {
		s.log.Error("refreshing repository metadata", "repo", repo.FullName(), "err", err)
	}
}

// MoveRefs runs change, which moves refs of repo outside this server's
// handlers (a mirror's sync), then does what follows a push: caches
// dropped, metadata refreshed, webhooks told of every ref that moved.
func (s *Server) MoveRefs(ctx context.Context, repo *haven.Repo, change func() error) error {
	before := s.refHeads(ctx, repo)
	if before == nil {
		before = map[string]string{}
	}
	if err := change(); err != nil {
		return err
	}
	s.RepoChanged(ctx, repo)
	s.tellRefs(ctx, repo, before)
	return nil
}
