package web

import (
	"net/http"
	"net/url"
	"sort"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/gitstore"
)

// fileDiff is the change of one file in a commit.
type fileDiff struct {
	Path     string
	Status   string // "added", "deleted", "modified"
	Hunks    []hunk
	Adds     int
	Dels     int
	Note     string // why no lines are shown (binary, LFS, too large)
	OldLFS   string // SHA-256 of the LFS object before, if any
	NewLFS   string
	ViewURL  string
	TooLarge bool
}

type commitData struct {
	*repoView
	Commit    *gitstore.Commit
	Parent    string
	Files     []fileDiff
	Truncated int // files left out of the page
	Adds      int
	Dels      int
}

// Bounds of one commit page: files shown in full, and the size of each
// side of a text diff.
const (
	maxDiffFiles = 100
	maxDiffBytes = 512 << 10
)

// commit answers GET /{repo}/commit/{sha}: the commit and the diff of its
// text files against its first parent.
func (h *Handler) commit(w http.ResponseWriter, r *http.Request, repo *haven.Repo, rev string) {
	g, err := h.git.Open(r.Context(), repo.Type, repo.RepoID())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	sha, err := g.Resolve(rev)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v, err := h.view(r.Context(), r, repo, "commits", sha)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v.Rev = repo.DefaultBranch()
	c, err := g.CommitInfo(sha)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := commitData{repoView: v, Commit: c}
	if len(c.Parents) > 0 {
		d.Parent = c.Parents[0]
	}
	if d.Files, d.Adds, d.Dels, d.Truncated, err = h.treeDiff(g, repo, d.Parent, sha); err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "commit", c.Title+" · "+repo.FullName(), d)
}

// treeDiff compares the files of two commits (oldSHA "" for none): the
// changed files, at most maxDiffFiles of them, their added and deleted
// lines, and how many files were left out.
func (h *Handler) treeDiff(g *gitstore.Repo, repo *haven.Repo, oldSHA, sha string) (files []fileDiff, adds, dels, truncated int, err error) {
	newFiles, err := fileMap(g, sha)
	if err != nil {
		return nil, 0, 0, 0, err
	}
	oldFiles := map[string]gitstore.Entry{}
	if oldSHA != "" {
		if oldFiles, err = fileMap(g, oldSHA); err != nil {
			return nil, 0, 0, 0, err
		}
	}
	var paths []string
	for p, e := range newFiles {
		if o, ok := oldFiles[p]; !ok || o.OID != e.OID || o.Mode != e.Mode {
			paths = append(paths, p)
		}
	}
	for p := range oldFiles {
		if _, ok := newFiles[p]; !ok {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	if len(paths) > maxDiffFiles {
		truncated = len(paths) - maxDiffFiles
		paths = paths[:maxDiffFiles]
	}
	for _, p := range paths {
		o, hadOld := oldFiles[p]
		n, hasNew := newFiles[p]
		fd := fileDiff{Path: p, Status: "modified"}
		switch {
		case !hadOld:
			fd.Status = "added"
		case !hasNew:
			fd.Status = "deleted"
		}
		if hasNew {
			fd.ViewURL = repoURL(repo, "/blob/", url.PathEscape(sha), "/", escPath(p))
		}
		h.diffFile(g, &fd, o, hadOld, n, hasNew)
		adds += fd.Adds
		dels += fd.Dels
		files = append(files, fd)
	}
	return files, adds, dels, truncated, nil
}

// fileMap lists every file of a commit by path.
func fileMap(g *gitstore.Repo, sha string) (map[string]gitstore.Entry, error) {
	entries, err := g.List(sha, "", true)
	if err != nil {
		return nil, err
	}
	m := make(map[string]gitstore.Entry, len(entries))
	for _, e := range entries {
		if e.Type == gitstore.TypeFile {
			m[e.Path] = e
		}
	}
	return m, nil
}

// diffFile fills in the lines of a file's change, or the note that says
// why there are none.
func (h *Handler) diffFile(g *gitstore.Repo, fd *fileDiff, o gitstore.Entry, hadOld bool, n gitstore.Entry, hasNew bool) {
	side := func(e gitstore.Entry, present bool) (text []string, lfsOID string, ok bool) {
		if !present {
			return nil, "", true
		}
		if p, isPtr := g.Pointer(e); isPtr {
			return nil, p.OID, false
		}
		if e.Size > maxDiffBytes {
			fd.TooLarge = true
			return nil, "", false
		}
		b, err := readBlob(g, e.OID, maxDiffBytes)
		if err != nil || !isText(b) {
			return nil, "", false
		}
		return splitLines(string(b)), "", true
	}
	a, oldLFS, okA := side(o, hadOld)
	b, newLFS, okB := side(n, hasNew)
	fd.OldLFS, fd.NewLFS = oldLFS, newLFS
	switch {
	case oldLFS != "" || newLFS != "":
		fd.Note = "Large file stored with LFS."
		return
	case fd.TooLarge:
		fd.Note = "This file is too large to show its changes."
		return
	case !okA || !okB:
		fd.Note = "Binary file."
		return
	case len(a)+len(b) > maxDiffLines:
		fd.Note = "This diff is too large to show."
		return
	}
	lines := lineDiff(a, b)
	for _, l := range lines {
		switch l.Kind {
		case '+':
			fd.Adds++
		case '-':
			fd.Dels++
		}
	}
	fd.Hunks = hunks(lines)
	if len(fd.Hunks) == 0 {
		fd.Note = "Only the file mode changed."
	}
}
