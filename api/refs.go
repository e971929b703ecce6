package api

import (
	"html"
	"net/http"
	"strconv"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/gitstore"
)

type refJSON struct {
	Name         string `json:"name"`
	Ref          string `json:"ref"`
	TargetCommit string `json:"targetCommit"`
}

func refsJSON(refs []gitstore.Ref) []refJSON {
	out := make([]refJSON, 0, len(refs))
	for _, r := range refs {
		out = append(out, refJSON{Name: r.Name, Ref: r.Ref, TargetCommit: r.Target})
	}
	return out
}

// handleRefs answers GET /api/{types}/{id}/refs.
func (s *Server) handleRefs(w http.ResponseWriter, r *http.Request, repo *haven.Repo, _ []string) {
	g, err := s.git.Open(r.Context(), repo.Type, repo.RepoID())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	refs, err := g.Refs()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := map[string]any{
		"branches": refsJSON(refs.Branches),
		"converts": refsJSON(refs.Converts),
		"tags":     refsJSON(refs.Tags),
	}
	if flag(r.URL.Query().Get("include_prs")) {
		out["pullRequests"] = refsJSON(refs.PullRequests)
	}
	writeJSON(w, http.StatusOK, out)
}

// handleCommits answers GET /api/{types}/{id}/commits/{rev}: newest first,
// Link-paginated, with X-Total-Count.
func (s *Server) handleCommits(w http.ResponseWriter, r *http.Request, repo *haven.Repo, segs []string) {
	g, err := s.git.Open(r.Context(), repo.Type, repo.RepoID())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rev, _ := splitRevision(segs, s.resolves(repo, g))
	if len(segs) > 1 {
		rev = strings.Join(segs, "/")
		if _, err := g.Resolve(rev); err != nil {
			rev, _ = splitRevision(segs, s.resolves(repo, g))
		}
	}
	sha, err := g.Resolve(rev)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	limit := 50
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 {
		limit = min(n, 1000)
	}
	offset := cursorOffset(q.Get("cursor"))
	if p, err := strconv.Atoi(q.Get("p")); err == nil && p > 0 {
		offset = p * limit
	}
	commits, total, err := g.Log(sha, offset, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	formatted := false
	for _, e := range append(q["expand"], q["expand[]"]...) {
		formatted = formatted || e == "formatted"
	}
	out := make([]map[string]any, 0, len(commits))
	avatars := map[string]string{} // by author name: a user's avatar, "" for other names
	for _, c := range commits {
		avatar, seen := avatars[c.Author.Name]
		if !seen {
			if u, err := s.meta.UserByName(r.Context(), c.Author.Name); err == nil && !u.IsOrg {
				avatar = haven.AvatarURL(u.Name)
			}
			avatars[c.Author.Name] = avatar
		}
		item := map[string]any{
			"id":      c.ID,
			"title":   c.Title,
			"message": c.Message,
			"authors": []map[string]any{{"user": c.Author.Name, "avatar": avatar}},
			"date":    haven.FormatTime(c.Author.When),
		}
		if formatted {
			item["formatted"] = map[string]any{
				"title":   html.EscapeString(c.Title),
				"message": html.EscapeString(c.Message),
			}
		}
		out = append(out, item)
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
	if offset+len(commits) < total {
		s.setNextLink(w, r, offset+len(commits))
	}
	writeJSON(w, http.StatusOK, out)
}

// handleBranch answers POST and DELETE /api/{types}/{id}/branch/{branch}.
func (s *Server) handleBranch(w http.ResponseWriter, r *http.Request, repo *haven.Repo, segs []string) {
	defer s.changed(repo)
	g, ok := s.openForWrite(w, r, repo)
	if !ok {
		return
	}
	defer s.tellRefs(r.Context(), repo, s.refHeads(r.Context(), repo))
	branch := strings.Join(segs, "/")
	var err error
	if r.Method == http.MethodDelete {
		if strings.HasPrefix(branch, "refs/") || !g.IsBranch(branch) {
			s.writeError(w, r, haven.Errorf(haven.ERevisionNotFound, "Invalid rev id: %s", branch))
			return
		}
		if branch == repo.DefaultBranch() {
			s.writeError(w, r, errInvalid("Cannot delete refs/heads/%s: it is the default branch", branch))
			return
		}
		if err := g.DeleteRef(r.Context(), "refs/heads/"+branch); err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{})
		return
	}
	var req struct {
		StartingPoint string `json:"startingPoint"`
		EmptyBranch   bool   `json:"emptyBranch"`
		Overwrite     bool   `json:"overwrite"`
	}
	if r.ContentLength != 0 {
		if err := decodeJSON(r, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if strings.HasPrefix(branch, "refs/") || !gitstore.ValidRefName(branch) {
		s.writeError(w, r, errInvalid("Invalid reference for a branch: %s", branch))
		return
	}
	ref := "refs/heads/" + branch
	if req.Overwrite && !req.EmptyBranch && req.StartingPoint == "" && g.IsBranch(branch) {
		// Overwriting with nothing named leaves the branch as it is.
		writeJSON(w, http.StatusOK, map[string]any{})
		return
	}
	var start string
	if req.EmptyBranch {
		// A parentless commit of the empty tree, as the Hub makes it.
		start, err = g.BuildCommit("", nil, signature(actorOf(r)), "Create empty branch "+branch, "")
	} else {
		start, err = g.Resolve(req.StartingPoint)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Overwrite && g.IsBranch(branch) {
		err = g.UpdateRef(r.Context(), ref, start, "")
	} else {
		err = g.CreateRef(r.Context(), ref, start)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{})
}

// handleTag answers POST /api/{types}/{id}/tag/{rev} (body names the tag)
// and DELETE /api/{types}/{id}/tag/{tag}.
func (s *Server) handleTag(w http.ResponseWriter, r *http.Request, repo *haven.Repo, segs []string) {
	defer s.changed(repo)
	actor := actorOf(r)
	g, ok := s.openForWrite(w, r, repo)
	if !ok {
		return
	}
	defer s.tellRefs(r.Context(), repo, s.refHeads(r.Context(), repo))
	name := strings.Join(segs, "/")
	if r.Method == http.MethodDelete {
		refs, err := g.Refs()
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		for _, t := range refs.Tags {
			if t.Name == name {
				if err := g.DeleteRef(r.Context(), t.Ref); err != nil {
					s.writeError(w, r, err)
					return
				}
				writeJSON(w, http.StatusOK, map[string]any{})
				return
			}
		}
		s.writeError(w, r, haven.Errorf(haven.ERevisionNotFound, "Invalid rev id: %s", name))
		return
	}
	var req struct {
		Tag     string `json:"tag"`
		Message string `json:"message"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	target, err := g.Resolve(name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !gitstore.ValidRefName(req.Tag) || strings.HasPrefix(req.Tag, "refs/") {
		s.writeError(w, r, errInvalid("Invalid tag name: %q", req.Tag))
		return
	}
	if err := g.CreateTag(r.Context(), req.Tag, target, req.Message, signature(actor)); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{})
}

// handleSuperSquash answers POST /api/{types}/{id}/super-squash/{branch}.
func (s *Server) handleSuperSquash(w http.ResponseWriter, r *http.Request, repo *haven.Repo, segs []string) {
	defer s.changed(repo)
	actor := actorOf(r)
	g, ok := s.openForWrite(w, r, repo)
	if !ok {
		return
	}
	defer s.tellRefs(r.Context(), repo, s.refHeads(r.Context(), repo))
	branch := strings.Join(segs, "/")
	if branch == "" {
		branch = repo.DefaultBranch()
	}
	ref := "refs/heads/" + branch
	if strings.HasPrefix(branch, "refs/pr/") || strings.HasPrefix(branch, "refs/convert/") {
		ref = branch
	}
	// Besides branches, pull requests and conversions (refs/convert/parquet)
	// are squashed as the Hub does; tags are not.
	// Squash finds a missing conversion.
	if !strings.HasPrefix(ref, "refs/convert/") && !g.IsBranch(branch) {
		s.writeError(w, r, haven.Errorf(haven.ERevisionNotFound, "Invalid rev id: %s", branch))
		return
	}
	var req struct {
		Message string `json:"message"`
	}
	if r.ContentLength != 0 {
		if err := decodeJSON(r, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if req.Message == "" {
		req.Message = "Super-squash branch '" + branch + "'"
	}
	title, body, _ := strings.Cut(req.Message, "\n")
	sha, err := g.Squash(r.Context(), ref, signature(actor), title, strings.TrimSpace(body))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if branch == repo.DefaultBranch() {
		s.refreshAfterWrite(r, repo)
	}
	writeJSON(w, http.StatusOK, map[string]any{"commitId": sha})
}

// refreshAfterWrite updates derived metadata; failures are logged, not
// returned, because the write itself has succeeded.
func (s *Server) refreshAfterWrite(r *http.Request, repo *haven.Repo) {
	if err := s.refreshRepo(r.Context(), repo); err != nil {
		s.log.Error("refreshing repository metadata", "repo", repo.FullName(), "err", err)
	}
}

// openForWrite checks that the caller may write to repo and opens its git
// repository; on failure it has answered the request.
func (s *Server) openForWrite(w http.ResponseWriter, r *http.Request, repo *haven.Repo) (*gitstore.Repo, bool) {
	if err := auth.Can(actorOf(r), auth.Write, repo); err != nil {
		s.writeError(w, r, err)
		return nil, false
	}
	g, err := s.git.Open(r.Context(), repo.Type, repo.RepoID())
	if err != nil {
		s.writeError(w, r, err)
		return nil, false
	}
	return g, true
}
