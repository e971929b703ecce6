package api

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/gitstore"
)

// duplicateRequest is the body of POST /api/{types}/{id}/duplicate.
type duplicateRequest struct {
	Repository string `json:"repository"`
	Private    *bool  `json:"private"`
	Visibility string `json:"visibility"`
	SpaceSettings
}

// handleDuplicate copies the files of the default branch of repo into a
// new repository in one commit, as the Hub's duplicate does (history is
// not copied). LFS files are copied as their pointers: the objects are
// shared. A duplicated Space records where it came from in its card
// (duplicated_from) and gets the source's variables but not its secrets.
func (s *Server) handleDuplicate(w http.ResponseWriter, r *http.Request, repo *haven.Repo, _ []string) {
	ctx := r.Context()
	actor := actorOf(r)
	var req duplicateRequest
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := auth.CanDownload(actor, repo, s.repoURL(repo)); err != nil {
		s.writeError(w, r, err)
		return
	}
	ns, name, ok := strings.Cut(req.Repository, "/")
	if !ok || strings.Contains(name, "/") {
		s.writeError(w, r, errInvalid("repository must be namespace/name, got %q", req.Repository))
		return
	}
	owner, err := s.newRepoOwner(ctx, actor, repo.Type, ns, name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	private := repo.Private
	if req.Private != nil {
		private = *req.Private
	}
	switch req.Visibility {
	case "private":
		private = true
	case "public":
		private = false
	case "":
	default:
		s.writeError(w, r, errInvalid("Invalid visibility %q: expected public or private", req.Visibility))
		return
	}

	ops, err := s.duplicateOps(ctx, repo)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	now := time.Now().UTC()
	dup := &haven.Repo{Type: repo.Type, Namespace: owner.Name, Name: name, Private: private, CreatedAt: now, UpdatedAt: now, SDK: repo.SDK}
	if !s.createRepo(w, r, dup, repo, &req.SpaceSettings, "Duplicate from "+repo.FullName(), ops) {
		return
	}
	s.tellCreated(ctx, dup)
	s.record(r, haven.AuditRepoCreate, dup, map[string]any{"private": dup.Private, "duplicatedFrom": repo.FullName()})
	writeJSON(w, http.StatusOK, map[string]string{"url": s.repoURL(dup)})
}

// duplicateOps are the files of repo's default branch as commit operations.
func (s *Server) duplicateOps(ctx context.Context, repo *haven.Repo) ([]gitstore.Op, error) {
	g, sha, err := s.openRev(ctx, repo, repo.DefaultBranch())
	if err != nil {
		return nil, err
	}
	entries, err := g.List(sha, "", true)
	if err != nil {
		return nil, err
	}
	var ops []gitstore.Op
	for _, e := range entries {
		if e.Type != gitstore.TypeFile {
			continue
		}
		rc, _, err := g.Blob(e.OID)
		if err != nil {
			return nil, err
		}
		content, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, err
		}
		if e.Path == "README.md" && repo.Type == haven.Space {
			content = withDuplicatedFrom(content, repo.FullName())
		}
		ops = append(ops, gitstore.Op{Kind: gitstore.OpPut, Path: e.Path, Content: content, Mode: e.Mode})
	}
	return ops, nil
}

// withDuplicatedFrom sets duplicated_from in a card's front matter, adding
// front matter where there is none; the rest of the card is kept as written.
func withDuplicatedFrom(readme []byte, from string) []byte {
	line := []byte("duplicated_from: " + from + "\n")
	if !bytes.HasPrefix(readme, []byte("---\n")) && !bytes.HasPrefix(readme, []byte("---\r\n")) {
		return append(append(append([]byte("---\n"), line...), "---\n"...), readme...)
	}
	lines := bytes.SplitAfter(readme, []byte("\n"))
	out := [][]byte{lines[0]}
	for i, l := range lines[1:] {
		trimmed := bytes.TrimRight(l, "\r\n")
		if bytes.Equal(trimmed, []byte("---")) {
			out = append(out, line)
			out = append(out, lines[1+i:]...)
			return bytes.Join(out, nil)
		}
		if !bytes.HasPrefix(l, []byte("duplicated_from:")) {
			out = append(out, l)
		}
	}
	// An unterminated front matter: leave the card alone.
	return readme
}

// configureSpace hands the Space settings of a create or duplicate request
// to the Spaces service.
func (s *Server) configureSpace(ctx context.Context, repo, from *haven.Repo, set *SpaceSettings) error {
	if repo.Type != haven.Space || s.spaces == nil {
		return nil
	}
	return s.spaces.Configure(ctx, repo, from, set)
}
