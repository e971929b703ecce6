package api

import (
	"io"
	"net/http"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/gitstore"
)

// handleTreeSize answers GET /api/{types}/{id}/treesize/{rev}/{path}: the
// size of the files under path at rev, LFS files counted by their content,
// as {"path", "size"}. A file's own size is its path's size.
func (s *Server) handleTreeSize(w http.ResponseWriter, r *http.Request, repo *haven.Repo, segs []string) {
	g, err := s.git.Open(r.Context(), repo.Type, repo.RepoID())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rev, rest := splitRevision(segs, s.resolves(repo, g))
	sha, err := s.resolveRev(repo, g, rev)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	dir := strings.Trim(strings.Join(rest, "/"), "/")
	size := func(e gitstore.Entry) int64 {
		if p, ok := g.Pointer(e); ok {
			return p.Size
		}
		return e.Size
	}
	var total int64
	if dir != "" {
		e, err := g.Stat(sha, dir)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if e.Type == gitstore.TypeFile {
			writeJSON(w, http.StatusOK, map[string]any{"path": dir, "size": size(e)})
			return
		}
	}
	entries, err := s.listTree(repo, g, sha, dir, true)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	for _, e := range entries {
		if e.Type == gitstore.TypeFile {
			total += size(e)
		}
	}
	w.Header().Set("X-Repo-Commit", sha)
	writeJSON(w, http.StatusOK, map[string]any{"path": dir, "size": total})
}

// handleCompare answers GET /api/{types}/{id}/compare/{base}..{head}: the
// unified diff of what head changes since it left base (git diff
// base...head), as text. "base...head" is read the same way. Diffs show file
// contents, so gated repositories give them to those who may download.
func (s *Server) handleCompare(w http.ResponseWriter, r *http.Request, repo *haven.Repo, segs []string) {
	spec := strings.Join(segs, "/")
	base, head, ok := strings.Cut(spec, "...")
	if !ok {
		base, head, ok = strings.Cut(spec, "..")
	}
	if !ok || base == "" || head == "" {
		s.writeError(w, r, errInvalid("Invalid compare: expected {base}..{head}, got %q", spec))
		return
	}
	if err := auth.CanDownload(actorOf(r), repo, s.repoURL(repo)); err != nil {
		s.writeError(w, r, err)
		return
	}
	g, err := s.git.Open(r.Context(), repo.Type, repo.RepoID())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var shas [2]string
	for i, rev := range []string{base, head} {
		if shas[i], err = s.resolveRev(repo, g, rev); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	diff, err := g.Diff(r.Context(), shas[0], shas[1])
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Repo-Commit", shas[1])
	io.WriteString(w, diff)
}
