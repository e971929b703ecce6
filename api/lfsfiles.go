package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/lfs"
)

// handleLFSFiles answers GET /api/{types}/{id}/lfs-files: every LFS object
// the repository's history refers to, newest first, Link-paginated. It is
// storage management, so it is for the repository's writers.
func (s *Server) handleLFSFiles(w http.ResponseWriter, r *http.Request, repo *haven.Repo, rest []string) {
	if len(rest) > 0 {
		s.writeError(w, r, errNotFound("Not Found"))
		return
	}
	g, ok := s.openForWrite(w, r, repo)
	if !ok {
		return
	}
	files, err := g.LFSFiles(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	limit := 1000
	if n, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && n > 0 {
		limit = min(n, 1000)
	}
	offset := min(cursorOffset(r.URL.Query().Get("cursor")), len(files))
	page := files[offset:min(offset+limit, len(files))]
	out := make([]map[string]any, 0, len(page))
	for _, f := range page {
		out = append(out, map[string]any{
			"fileOid":  f.Pointer.OID,
			"oid":      f.BlobOID,
			"filename": f.Path,
			"pushedAt": haven.FormatTime(f.Time),
			"ref":      f.Ref,
			"size":     f.Pointer.Size,
		})
	}
	if offset+len(page) < len(files) {
		s.setNextLink(w, r, offset+len(page))
	}
	writeJSON(w, http.StatusOK, out)
}

// handleLFSFilesBatch answers POST /api/{types}/{id}/lfs-files/batch, the
// permanent deletion of LFS objects by their SHA-256, for the repository's
// admins. The history of every ref is rewritten without the files that
// point to them; the objects themselves are left to the garbage collector,
// which removes them once no repository refers to them, since objects are
// shared between repositories.
func (s *Server) handleLFSFilesBatch(w http.ResponseWriter, r *http.Request, repo *haven.Repo, rest []string) {
	if len(rest) != 1 || rest[0] != "batch" {
		s.writeError(w, r, errNotFound("Not Found"))
		return
	}
	if err := auth.Can(actorOf(r), auth.Admin, repo); err != nil {
		s.writeError(w, r, err)
		return
	}
	var req struct {
		Deletions struct {
			SHA            []string `json:"sha"`
			RewriteHistory *bool    `json:"rewriteHistory"`
		} `json:"deletions"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(req.Deletions.SHA) == 0 || len(req.Deletions.SHA) > 1000 {
		s.writeError(w, r, haven.Errorf(haven.EInvalid, "deletions.sha must list 1 to 1000 SHA-256 object ids"))
		return
	}
	oids := map[string]bool{}
	for _, sha := range req.Deletions.SHA {
		sha = strings.ToLower(sha)
		if !lfs.ValidOID(sha) {
			s.writeError(w, r, haven.Errorf(haven.EInvalid, "Invalid SHA-256 object id %q", sha))
			return
		}
		oids[sha] = true
	}
	if req.Deletions.RewriteHistory != nil && !*req.Deletions.RewriteHistory {
		// Objects are shared and the history still points to them: removing
		// them would leave files in old commits that cannot be downloaded.
		s.writeError(w, r, haven.Errorf(haven.EInvalid, "LFS files still referenced by the repository's history cannot be deleted: "+
			"send rewriteHistory: true to remove the files that point to them from every commit"))
		return
	}
	g, err := s.git.Open(r.Context(), repo.Type, repo.RepoID())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer s.changed(repo)
	defer s.tellRefs(r.Context(), repo, s.refHeads(r.Context(), repo))
	moved, err := g.DropLFSFiles(r.Context(), oids)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	for _, ref := range moved {
		if ref == "refs/heads/"+repo.DefaultBranch() {
			s.refreshAfterWrite(r, repo)
		}
	}
	w.WriteHeader(http.StatusNoContent)
}
