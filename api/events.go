package api

import (
	"context"
	"net/http"
	"sort"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/gitstore"
	"github.com/havenhub/haven/hubhttp"
)

// tell hands an event to the event sink, if there is one. It runs after
// the change is stored and must not hold up the answer: the sink queues.
func (s *Server) tell(ctx context.Context, ev *haven.RepoEvent) {
	if s.events != nil {
		s.events.RepoEvent(context.WithoutCancel(ctx), ev)
	}
}

// refHeads maps the branches, tags and pull request refs of repo to their
// commits, taken before a write so that tellRefs can say which moved; nil
// when nobody listens.
func (s *Server) refHeads(ctx context.Context, repo *haven.Repo) map[string]string {
	if s.events == nil {
		return nil
	}
	g, err := s.git.Open(ctx, repo.Type, repo.RepoID())
	if err != nil {
		return nil
	}
	refs, err := g.Refs()
	if err != nil {
		return nil
	}
	out := map[string]string{}
	for _, group := range [][]gitstore.Ref{refs.Branches, refs.Tags, refs.PullRequests} {
		for _, r := range group {
			out[r.Ref] = r.Target
		}
	}
	return out
}

// tellRefs tells a repo.content event with the refs that moved since
// before was taken by refHeads; nothing when none did.
func (s *Server) tellRefs(ctx context.Context, repo *haven.Repo, before map[string]string) {
	if s.events == nil || before == nil {
		return
	}
	after := s.refHeads(ctx, repo)
	if after == nil {
		return
	}
	var moved []haven.RefUpdate
	for ref, sha := range after {
		if before[ref] != sha {
			moved = append(moved, haven.RefUpdate{Ref: ref, OldSHA: before[ref], NewSHA: sha})
		}
	}
	for ref, sha := range before {
		if _, ok := after[ref]; !ok {
			moved = append(moved, haven.RefUpdate{Ref: ref, OldSHA: sha})
		}
	}
	sort.Slice(moved, func(i, j int) bool { return moved[i].Ref < moved[j].Ref })
	s.tellMoved(ctx, repo, moved)
}

// tellMoved tells a repo.content event for refs that moved; nothing when
// none did.
func (s *Server) tellMoved(ctx context.Context, repo *haven.Repo, moved []haven.RefUpdate) {
	if s.events == nil || len(moved) == 0 {
		return
	}
	// The row has the new head of the default branch once it is refreshed.
	if fresh, err := s.meta.RepoByID(ctx, repo.ID); err == nil {
		repo = fresh
	}
	s.tell(ctx, &haven.RepoEvent{Scope: haven.ScopeRepoContent, Action: haven.ActionUpdate, Repo: repo, UpdatedRefs: moved})
}

// tellCreated tells that repo was created, with its first commit.
func (s *Server) tellCreated(ctx context.Context, repo *haven.Repo) {
	if s.events == nil {
		return
	}
	if fresh, err := s.meta.RepoByID(ctx, repo.ID); err == nil {
		repo = fresh
	}
	s.tell(ctx, &haven.RepoEvent{Scope: haven.ScopeRepo, Action: haven.ActionCreate, Repo: repo})
}

// tellConfig tells a repo.config event for a change of settings of repo
// (as it was) to private and gated. Only visibility is named in
// updatedConfig, as on the Hub; other changes give an empty one.
func (s *Server) tellConfig(ctx context.Context, repo *haven.Repo, private bool, gated string) {
	if s.events == nil || (repo.Private == private && repo.Gated == gated) {
		return
	}
	changed := map[string]any{}
	if repo.Private != private {
		changed["private"] = private
	}
	after := *repo
	after.Private, after.Gated = private, gated
	s.tell(ctx, &haven.RepoEvent{Scope: haven.ScopeRepoConfig, Action: haven.ActionUpdate, Repo: &after, UpdatedConfig: changed})
}

// record writes an audit entry about repo for the request's caller.
func (s *Server) record(r *http.Request, action string, repo *haven.Repo, details map[string]any) {
	if s.audit == nil {
		return
	}
	hubhttp.Audit(s.audit, r, repoAuditEntry(action, repo, details))
}

// audited returns ctx carrying an audit entry about repo for the request's
// caller, which the store writes in the transaction of the change made
// with it; without an audit log, ctx as it is.
func (s *Server) audited(ctx context.Context, r *http.Request, action string, repo *haven.Repo, details map[string]any) context.Context {
	if s.audit == nil {
		return ctx
	}
	return haven.WithAudit(ctx, hubhttp.AuditEntry(r, repoAuditEntry(action, repo, details)))
}

func repoAuditEntry(action string, repo *haven.Repo, details map[string]any) haven.AuditEntry {
	if details == nil {
		details = map[string]any{}
	}
	details["repoType"] = string(repo.Type)
	return haven.AuditEntry{Action: action, Namespace: repo.Namespace,
		TargetType: haven.AuditTargetRepo, Target: repo.Namespace + "/" + repo.Name, Details: details}
}
