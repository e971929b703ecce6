package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/gitstore"
)

// handleGit serves git smart HTTP for clone, fetch and push. Pushes need
// write access; a push that moves the default branch refreshes the
// repository's metadata (card, tags, head).
func (s *Server) handleGit(w http.ResponseWriter, r *http.Request, repo *haven.Repo, sub string) {
	service := ""
	onlyPullRequests := false
	switch sub {
	case "info/refs":
		service = r.URL.Query().Get("service")
	case "git-upload-pack", "git-receive-pack":
		service = sub
	}
	switch service {
	case "git-upload-pack":
		if err := auth.CanDownload(actorOf(r), repo, s.repoURL(repo)); err != nil {
			if actorOf(r).Anonymous() {
				askForCredentials(w)
			}
			s.writeError(w, r, err)
			return
		}
	case "git-receive-pack":
		a := actorOf(r)
		if a.Anonymous() {
			askForCredentials(w)
			s.writeError(w, r, haven.Errorf(haven.EUnauthorized, "Authentication required to push"))
			return
		}
		if err := auth.Can(a, auth.Write, repo); err != nil {
			// Without write access a push may still add commits to the
			// pull requests its pusher may commit to, as on the Hub.
			if s.pulls == nil || auth.CanPropose(a, repo) != nil {
				s.writeError(w, r, err)
				return
			}
			onlyPullRequests = true
		}
	default:
		s.writeError(w, r, errInvalid("Only smart HTTP is supported: use a git client that sends ?service=git-upload-pack"))
		return
	}
	var prsBefore map[int]string
	var refsBefore map[string]string
	if sub == "git-receive-pack" {
		refsBefore = s.refHeads(r.Context(), repo)
	}
	if sub == "git-receive-pack" && s.pulls != nil {
		if g, err := s.git.Open(r.Context(), repo.Type, repo.RepoID()); err == nil {
			prsBefore = pullRequestHeads(g)
		}
	}
	var err error
	if sub == "git-receive-pack" && onlyPullRequests {
		err = s.git.ServeReceivePack(w, r, repo.Type, repo.RepoID(), func(updates []gitstore.RefUpdate) error {
			return s.allowPullRequestPush(r.Context(), actorOf(r), repo, updates)
		})
	} else {
		err = s.git.ServeSmartHTTP(w, r, repo.Type, repo.RepoID(), sub)
	}
	if err != nil {
		// Haven's own errors come before any output; git's may come after.
		if he := (*haven.Error)(nil); errors.As(err, &he) {
			s.writeError(w, r, err)
			return
		}
		s.log.Error("git smart HTTP", "repo", repo.FullName(), "service", sub, "err", err)
		return
	}
	if sub == "git-receive-pack" {
		s.changed(repo)
		if err := s.refreshRepo(context.WithoutCancel(r.Context()), repo); err != nil {
			s.log.Error("refreshing repository metadata after push", "repo", repo.FullName(), "err", err)
		}
		s.pushedPullRequests(context.WithoutCancel(r.Context()), repo, actorOf(r), prsBefore)
		s.tellRefs(context.WithoutCancel(r.Context()), repo, refsBefore)
	}
}

// allowPullRequestPush accepts a push by someone without write access when
// it only adds commits to existing pull request refs they may commit to.
func (s *Server) allowPullRequestPush(ctx context.Context, a *auth.Actor, repo *haven.Repo, updates []gitstore.RefUpdate) error {
	for _, u := range updates {
		n := pullRequestNum(u.Ref)
		switch {
		case n == 0:
			return haven.Errorf(haven.EForbidden, "You don't have write access to %s: a push may only go to refs/pr/N of a pull request you opened, not to %s", repo.FullName(), u.Ref)
		case u.Creates():
			return haven.Errorf(haven.EForbidden, "Pull request #%d does not exist: open it first (create_pr or a new pull request), then push to %s", n, u.Ref)
		case u.Deletes():
			return haven.Errorf(haven.EForbidden, "Deleting %s needs write access to %s", u.Ref, repo.FullName())
		}
		if err := s.pulls.CanCommit(ctx, repo, a, n); err != nil {
			return err
		}
	}
	return nil
}
