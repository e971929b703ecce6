package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/commitreq"
	"github.com/havenhub/haven/gitstore"
	"github.com/havenhub/haven/lfs"
)

// regularFileMax is the largest file accepted outside LFS, as on the Hub.
const regularFileMax = 10 << 20

// canWriteOrPropose checks write access, or, when the change opens a pull
// request, that the caller may open discussions on the repository.
func canWriteOrPropose(a *auth.Actor, repo *haven.Repo, createPR bool) error {
	if createPR && !a.Anonymous() {
		return auth.CanPropose(a, repo)
	}
	return auth.Can(a, auth.Write, repo)
}

// handlePreupload answers POST /api/{types}/{id}/preupload/{rev}: for each
// file, whether it goes to LFS, whether .gitignore excludes it, and the id of
// the file currently at that path.
func (s *Server) handlePreupload(w http.ResponseWriter, r *http.Request, repo *haven.Repo, segs []string) {
	createPR := flag(r.URL.Query().Get("create_pr"))
	if err := s.canCommit(r.Context(), actorOf(r), repo, strings.Join(segs, "/"), createPR); err != nil {
		s.writeError(w, r, err)
		return
	}
	var req struct {
		Files []struct {
			Path   string `json:"path"`
			Size   int64  `json:"size"`
			Sample string `json:"sample"`
		} `json:"files"`
		GitIgnore     *string `json:"gitIgnore"`
		GitAttributes *string `json:"gitAttributes"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	g, sha, err := s.openRev(r.Context(), repo, strings.Join(segs, "/"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	attrsText := []byte(nil)
	if req.GitAttributes != nil {
		attrsText = []byte(*req.GitAttributes)
	} else if b, err := g.ReadFile(sha, ".gitattributes"); err == nil {
		attrsText = b
	}
	attrs := lfs.ParseAttributes(attrsText)
	ignoreText := ""
	if req.GitIgnore != nil {
		ignoreText = *req.GitIgnore
	} else if b, err := g.ReadFile(sha, ".gitignore"); err == nil {
		ignoreText = string(b)
	}
	ignore := parseGitignore(ignoreText)

	type fileResult struct {
		Path         string `json:"path"`
		UploadMode   string `json:"uploadMode"`
		ShouldIgnore bool   `json:"shouldIgnore"`
		OID          string `json:"oid,omitempty"`
	}
	out := make([]fileResult, 0, len(req.Files))
	for _, f := range req.Files {
		p, err := commitreq.CleanPath(f.Path)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		sample, _ := base64.StdEncoding.DecodeString(f.Sample)
		mode := "regular"
		if attrs.LFS(p) || f.Size >= regularFileMax || bytes.IndexByte(sample, 0) >= 0 {
			mode = "lfs"
		}
		res := fileResult{Path: f.Path, UploadMode: mode, ShouldIgnore: ignore != nil && ignore.Match(strings.Split(p, "/"), false)}
		if e, err := g.Stat(sha, p); err == nil && e.Type == "file" {
			if ptr, ok := g.Pointer(e); ok {
				res.OID = ptr.OID
			} else {
				res.OID = e.OID
			}
		}
		out = append(out, res)
	}
	writeJSON(w, http.StatusOK, map[string]any{"files": out})
}

func parseGitignore(text string) gitignore.Matcher {
	var ps []gitignore.Pattern
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ps = append(ps, gitignore.ParsePattern(line, nil))
	}
	if len(ps) == 0 {
		return nil
	}
	return gitignore.NewMatcher(ps)
}

// handleCommit answers POST /api/{types}/{id}/commit/{rev} with an NDJSON
// body of operations, applied as one git commit (or not at all).
func (s *Server) handleCommit(w http.ResponseWriter, r *http.Request, repo *haven.Repo, segs []string) {
	actor := actorOf(r)
	createPR := flag(r.URL.Query().Get("create_pr"))
	if err := s.canCommit(r.Context(), actor, repo, strings.Join(segs, "/"), createPR); err != nil {
		s.writeError(w, r, err)
		return
	}
	g, err := s.git.Open(r.Context(), repo.Type, repo.RepoID())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rev := strings.Join(segs, "/")
	if rev == "" || rev == "HEAD" {
		rev = repo.DefaultBranch()
	}
	ref := rev
	if !strings.HasPrefix(ref, "refs/") {
		ref = "refs/heads/" + rev
	}
	if !g.IsBranch(rev) || (createPR && strings.HasPrefix(rev, "refs/")) {
		s.writeError(w, r, haven.Errorf(haven.ERevisionNotFound, "Invalid rev id: %s", rev))
		return
	}
	req, err := commitreq.Parse(http.MaxBytesReader(w, r.Body, maxCommitBody), commitreq.DefaultLimits)
	if err != nil {
		if strings.Contains(err.Error(), "request body too large") {
			err = haven.Errorf(haven.ETooLarge, "Commit payload larger than %d bytes", maxCommitBody)
		}
		s.writeError(w, r, err)
		return
	}
	head, err := g.Resolve(ref)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ops, err := s.gitOps(r.Context(), g, head, req.Ops)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	creq := gitstore.CommitRequest{
		Ref:          ref,
		ParentCommit: req.Header.ParentCommit,
		Author:       signature(actor),
		Title:        req.Header.Summary,
		Message:      req.Header.Description,
		Ops:          ops,
	}
	if creq.Title == "" {
		creq.Title = "Upload files"
	}
	prNum := 0
	if createPR {
		if creq.ParentCommit != "" && creq.ParentCommit != head {
			s.writeError(w, r, haven.Errorf(haven.EPrecondition, "The branch was updated since you opened this page. Please refresh and try again."))
			return
		}
		if s.pulls != nil {
			prNum, err = s.pulls.Open(r.Context(), repo, actor, creq.Title, creq.Message, ref, head)
		} else {
			prNum, err = s.openPullRequestRef(r.Context(), g, head)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		creq.Ref = "refs/pr/" + strconv.Itoa(prNum)
		creq.ParentCommit = ""
	}
	sha, err := g.Commit(context.WithoutCancel(r.Context()), creq)
	s.changed(repo)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if creq.Ref == "refs/heads/"+repo.DefaultBranch() {
		s.refreshAfterWrite(r, repo)
	}
	if n := pullRequestNum(creq.Ref); n > 0 && s.pulls != nil {
		s.pulls.Committed(context.WithoutCancel(r.Context()), repo, actor, n, head, sha)
	}
	// The commit moved its one ref: a new pull request ref from nothing,
	// a branch from the commit's parent (concurrent writers may have moved
	// it past head meanwhile). No need to compare every ref.
	if s.events != nil {
		old := ""
		if c, err := g.CommitInfo(sha); err == nil && !createPR && len(c.Parents) > 0 {
			old = c.Parents[0]
		}
		s.tellMoved(r.Context(), repo, []haven.RefUpdate{{Ref: creq.Ref, OldSHA: old, NewSHA: sha}})
	}
	resp := map[string]any{
		"success":    true,
		"commitOid":  sha,
		"commitUrl":  s.repoURL(repo) + "/commit/" + sha,
		"hookOutput": "",
	}
	if createPR {
		resp["pullRequestUrl"] = s.repoURL(repo) + "/discussions/" + strconv.Itoa(prNum)
	}
	writeJSON(w, http.StatusOK, resp)
}

// maxCommitBody bounds an NDJSON commit body (regular files are at most
// 10 MiB each, base64-encoded).
const maxCommitBody = 1 << 30

// openPullRequestRef creates refs/pr/N at head with the next free number.
func (s *Server) openPullRequestRef(ctx context.Context, g *gitstore.Repo, head string) (int, error) {
	for range 10 {
		refs, err := g.Refs()
		if err != nil {
			return 0, err
		}
		n := 1
		for _, pr := range refs.PullRequests {
			if k, err := strconv.Atoi(pr.Name); err == nil && k >= n {
				n = k + 1
			} else if k, err := strconv.Atoi(strings.TrimPrefix(pr.Ref, "refs/pr/")); err == nil && k >= n {
				n = k + 1
			}
		}
		err = g.CreateRef(ctx, "refs/pr/"+strconv.Itoa(n), head)
		if err == nil {
			return n, nil
		}
		if !haven.IsCode(err, haven.EConflict) {
			return 0, err
		}
	}
	return 0, haven.Errorf(haven.EConflict, "Could not allocate a pull request number, please retry")
}

// gitOps turns commit operations into git changes: LFS files become
// pointers (their objects must be stored already), and .gitattributes gains
// a rule for any LFS path no rule covers, so that git clients see the
// pointer as LFS.
func (s *Server) gitOps(ctx context.Context, g *gitstore.Repo, head string, in []commitreq.Op) ([]gitstore.Op, error) {
	var ops []gitstore.Op
	var attrs []byte
	attrsInCommit := -1
	for _, op := range in {
		if op.Kind == "file" && op.Path == ".gitattributes" {
			attrs = op.Content
		}
	}
	if attrs == nil {
		attrs, _ = g.ReadFile(head, ".gitattributes")
	}
	parsed := lfs.ParseAttributes(attrs)
	newAttrs := attrs
	for _, op := range in {
		switch op.Kind {
		case "file":
			if op.OldPath != "" && op.OldPath != op.Path {
				ops = append(ops, gitstore.Op{Kind: gitstore.OpDelete, Path: op.OldPath})
			}
			if op.Path == ".gitattributes" {
				attrsInCommit = len(ops)
			}
			ops = append(ops, gitstore.Op{Kind: gitstore.OpPut, Path: op.Path, Content: op.Content})
		case "lfsFile":
			size, err := s.statObject(ctx, op.OID)
			if err != nil {
				if errorsIsNotFound(err) {
					return nil, errInvalid("LFS object %s for %s was not uploaded: upload it through the LFS batch API first", op.OID, op.Path)
				}
				return nil, err
			}
			if op.Size >= 0 && op.Size != size {
				return nil, errInvalid("LFS object %s has size %d, not %d as declared for %s", op.OID, size, op.Size, op.Path)
			}
			if op.OldPath != "" && op.OldPath != op.Path {
				ops = append(ops, gitstore.Op{Kind: gitstore.OpDelete, Path: op.OldPath})
			}
			ptr := lfs.Pointer{OID: op.OID, Size: size}
			ops = append(ops, gitstore.Op{Kind: gitstore.OpPut, Path: op.Path, Content: ptr.Bytes()})
			if !parsed.LFS(op.Path) {
				newAttrs = lfs.WithPattern(newAttrs, op.Path)
				parsed = lfs.ParseAttributes(newAttrs)
			}
		case "deletedFile":
			ops = append(ops, gitstore.Op{Kind: gitstore.OpDelete, Path: op.Path})
		case "deletedFolder":
			ops = append(ops, gitstore.Op{Kind: gitstore.OpDeleteDir, Path: op.Path})
		default:
			return nil, errInvalid("Unknown operation %q", op.Kind)
		}
	}
	if !bytes.Equal(newAttrs, attrs) {
		if attrsInCommit >= 0 {
			ops[attrsInCommit].Content = newAttrs
		} else {
			ops = append(ops, gitstore.Op{Kind: gitstore.OpPut, Path: ".gitattributes", Content: newAttrs})
		}
	}
	return ops, nil
}
