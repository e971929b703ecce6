package api

import (
	"context"
	"net/http"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
)

// handleGit serves git smart HTTP for clone, fetch and push. Pushes need
// write access; a push that moves the default branch refreshes the
// repository's metadata (card, tags, head).
func (s *Server) handleGit(w http.ResponseWriter, r *http.Request, repo *haven.Repo, sub string) {
	service := ""
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
			s.writeError(w, r, err)
			return
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
	if err := s.git.ServeSmartHTTP(w, r, repo.Type, repo.RepoID(), sub); err != nil {
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
