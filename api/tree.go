package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/gitstore"
)

func errorsIsNotFound(err error) bool { return errors.Is(err, blob.ErrNotFound) }

// treeEntry is a file or folder as the tree and paths-info endpoints list it.
type treeEntry struct {
	Type       string      `json:"type"`
	OID        string      `json:"oid"`
	Size       int64       `json:"size"`
	Path       string      `json:"path"`
	LFS        *lfsInfo    `json:"lfs,omitempty"`
	XetHash    string      `json:"xetHash,omitempty"`
	LastCommit *lastCommit `json:"lastCommit,omitempty"`
}

type lfsInfo struct {
	OID         string `json:"oid"`
	Size        int64  `json:"size"`
	PointerSize int64  `json:"pointerSize"`
}

type lastCommit struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Date  string `json:"date"`
}

func (s *Server) toTreeEntry(g *gitstore.Repo, e gitstore.Entry) treeEntry {
	te := treeEntry{Type: e.Type, OID: e.OID, Size: e.Size, Path: e.Path}
	if e.Type == "file" {
		if p, ok := g.Pointer(e); ok {
			te.LFS = &lfsInfo{OID: p.OID, Size: p.Size, PointerSize: e.Size}
			te.XetHash = s.xetHashOf(context.Background(), p.OID)
			te.Size = p.Size
		}
	} else {
		te.Size = 0
	}
	return te
}

// addLastCommits fills lastCommit for every entry with one history walk.
func addLastCommits(g *gitstore.Repo, sha string, entries []treeEntry) error {
	paths := make([]string, len(entries))
	for i, e := range entries {
		paths[i] = e.Path
	}
	lc, err := g.LastCommits(sha, paths)
	if err != nil {
		return err
	}
	for i := range entries {
		if c := lc[entries[i].Path]; c != nil {
			entries[i].LastCommit = &lastCommit{ID: c.ID, Title: c.Title, Date: haven.FormatTime(c.Author.When)}
		}
	}
	return nil
}

// handleTree lists a folder: GET /api/{types}/{id}/tree/{rev}[/{path}].
func (s *Server) handleTree(w http.ResponseWriter, r *http.Request, repo *haven.Repo, segs []string) {
	// A page already answered for this commit and URL is served from the
	// cache without touching git. (Pages with lastCommit are not cached.)
	cacheable := !flag(r.URL.Query().Get("expand"))
	var kb [256]byte
	if rev, rest := splitRevision(segs, nil); cacheable && rev != "" {
		if sha, ok := s.cache.rev(repo.ID, rev); ok {
			if b, ok := s.cache.renderKey(treePageKey(kb[:0], repo, sha, rest, r)); ok {
				link, body, _ := bytes.Cut(b, []byte{0})
				if len(link) > 0 {
					w.Header().Set("Link", string(link))
				}
				writeJSONBytes(w, http.StatusOK, body)
				return
			}
		}
	}
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
	q := r.URL.Query()
	recursive, expand := flag(q.Get("recursive")), flag(q.Get("expand"))
	dir := strings.Trim(strings.Join(rest, "/"), "/")
	entries, err := s.listTree(repo, g, sha, dir, recursive)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	pageSize := 1000
	if expand {
		pageSize = 50
	}
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 && n < pageSize {
		pageSize = n
	}
	offset := cursorOffset(q.Get("cursor"))
	if offset > len(entries) {
		offset = len(entries)
	}
	end := min(offset+pageSize, len(entries))
	if end < len(entries) {
		s.setNextLink(w, r, end)
	}
	// Pages without lastCommit depend only on the commit: render them once.
	key := ""
	if !expand {
		key = fmt.Sprintf("tree\x00%d\x00%s\x00%s\x00%t\x00%d\x00%d", repo.ID, sha, dir, recursive, offset, end)
		if b, ok := s.cache.render(key); ok {
			writeJSONBytes(w, http.StatusOK, b)
			return
		}
	}
	page := make([]treeEntry, 0, end-offset)
	for _, e := range entries[offset:end] {
		page = append(page, s.toTreeEntry(g, e))
	}
	if expand {
		if err := addLastCommits(g, sha, page); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	b, err := marshalJSON(page)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if key != "" {
		s.cache.putRender(key, b)
		if r1, rest1 := splitRevision(segs, nil); r1 == rev && strings.Join(rest1, "/") == strings.Join(rest, "/") {
			s.cache.putRev(repo.ID, rev, sha)
			whole := append([]byte(w.Header().Get("Link")+"\x00"), b...)
			s.cache.putRender(string(treePageKey(kb[:0], repo, sha, rest, r)), whole)
		}
	}
	writeJSONBytes(w, http.StatusOK, b)
}

// treePageKey names a whole tree answer (Link header and body) by commit, folder
// and query; it is appended to b.
func treePageKey(b []byte, repo *haven.Repo, sha string, rest []string, r *http.Request) []byte {
	b = append(b, "treepage\x00"...)
	b = strconv.AppendInt(b, repo.ID, 10)
	b = append(append(append(b, 0), sha...), 0)
	for i, seg := range rest {
		if i > 0 {
			b = append(b, '/')
		}
		b = append(b, seg...)
	}
	return append(append(b, 0), r.URL.RawQuery...)
}

// handlePathsInfo answers POST /api/{types}/{id}/paths-info/{rev} for a list
// of paths, form-encoded (Python) or JSON (JS). Unknown paths are left out.
func (s *Server) handlePathsInfo(w http.ResponseWriter, r *http.Request, repo *haven.Repo, segs []string) {
	g, sha, err := s.openRev(r.Context(), repo, strings.Join(segs, "/"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req struct {
		Paths  []string `json:"paths"`
		Expand any      `json:"expand"`
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	body := http.MaxBytesReader(w, r.Body, 8<<20)
	if ct == "application/json" {
		if err := json.NewDecoder(body).Decode(&req); err != nil {
			s.writeError(w, r, errInvalid("Invalid JSON body: %v", err))
			return
		}
	} else {
		r.Body = body
		if err := r.ParseForm(); err != nil {
			s.writeError(w, r, errInvalid("Invalid form body: %v", err))
			return
		}
		req.Paths = r.PostForm["paths"]
		req.Expand = r.PostForm.Get("expand")
	}
	if len(req.Paths) > 1000 {
		s.writeError(w, r, haven.Errorf(haven.ETooLarge, "Too many paths: at most 1000 per request"))
		return
	}
	out := make([]treeEntry, 0, len(req.Paths))
	for _, p := range req.Paths {
		e, err := g.Stat(sha, strings.Trim(p, "/"))
		if err != nil {
			if haven.IsCode(err, haven.EEntryNotFound) {
				continue
			}
			s.writeError(w, r, err)
			return
		}
		if e.Path == "" {
			continue
		}
		out = append(out, s.toTreeEntry(g, e))
	}
	if flagAny(req.Expand) {
		if err := addLastCommits(g, sha, out); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// flag parses "1"/"true" in any case as true.
func flag(v string) bool {
	return v == "1" || strings.EqualFold(v, "true")
}

func flagAny(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return flag(x)
	case float64:
		return x != 0
	}
	return false
}
