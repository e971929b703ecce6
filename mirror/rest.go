package mirror

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/gitstore"
	"github.com/havenhub/haven/lfs"
)

// maxRESTFile bounds a regular file read into memory while rebuilding a
// commit; larger files are LFS files on any Hub-compatible server.
const maxRESTFile = 64 << 20

// pullREST syncs a pull mirror from a source that does not serve git,
// through its HTTP API: for each ref, the commits the mirror lacks (the
// commit listing, newest first, up to the first commit already rebuilt),
// each rebuilt oldest first from the source's file list at that commit
// (only changed files downloaded, through resolve; large files stored by
// their SHA-256). History is rebuilt as a line per ref, with the source's
// messages, authors and dates; commit ids differ from the source's, so
// state maps each source commit to its rebuilt one. Refs move at the end,
// all at once, as for a git source.
func (s *Service) pullREST(ctx context.Context, m *haven.Mirror, repo *haven.Repo, h *hub, st pullState, p Progress) (pullState, error) {
	g, err := s.cfg.Git.Open(ctx, repo.Type, repo.RepoID())
	if err != nil {
		return st, err
	}
	if st.Commits == nil {
		st.Commits = map[string]string{}
	}
	refs, err := h.refs(ctx, m.RemoteType, m.RemoteID)
	if err != nil {
		return st, err
	}
	source := map[string]string{} // full ref → source commit
	var order []string
	add := func(prefix string, list []remoteRef) {
		for _, r := range list {
			full := r.Ref
			if full == "" {
				full = prefix + r.Name
			}
			if r.TargetCommit != "" && gitstore.ValidRefName(strings.TrimPrefix(full, "refs/")) {
				source[full] = r.TargetCommit
				order = append(order, full)
			}
		}
	}
	// Branches first, the default one before the others, so that the
	// commits other refs share with it are rebuilt once.
	sort.SliceStable(refs.Branches, func(i, j int) bool {
		return refs.Branches[i].Name == repo.DefaultBranch() && refs.Branches[j].Name != repo.DefaultBranch()
	})
	add("refs/heads/", refs.Branches)
	add("refs/convert/", refs.Converts)
	add("refs/pr/", refs.PullRequests)
	for _, ref := range order {
		if _, done := st.Commits[source[ref]]; done {
			continue
		}
		p.Step("rebuilding %s from %s's API", ref, h.name())
		if err := s.rebuildRef(ctx, m, g, h, ref, st, p); err != nil {
			return st, fmt.Errorf("%s: %w", ref, err)
		}
	}
	// Tags point at rebuilt commits (the tag objects themselves are not served).
	for _, t := range refs.Tags {
		if _, ok := st.Commits[t.TargetCommit]; ok {
			source["refs/tags/"+t.Name] = t.TargetCommit
		}
	}
	current, err := mirroredRefs(ctx, g)
	if err != nil {
		return st, err
	}
	var updates []haven.RefUpdate
	wanted := map[string]string{}
	for ref, sc := range source {
		local, ok := st.Commits[sc]
		if !ok {
			continue
		}
		wanted[ref] = local
		if current[ref] != local {
			updates = append(updates, haven.RefUpdate{Ref: ref, OldSHA: current[ref], NewSHA: local})
		}
	}
	for ref, sha := range current {
		if _, ok := wanted[ref]; !ok {
			updates = append(updates, haven.RefUpdate{Ref: ref, OldSHA: sha})
		}
	}
	sort.Slice(updates, func(i, j int) bool { return updates[i].Ref < updates[j].Ref })
	if len(updates) > 0 {
		if err := s.apply(ctx, repo, func() error { return g.UpdateRefs(ctx, updates) }); err != nil {
			return st, err
		}
	}
	st.Refs = source
	p.Step("in step with %s: %d refs, %d refs moved, %d commits rebuilt in all", m.RemoteURL(), len(source), len(updates), len(st.Commits))
	return st, nil
}

// fileState is what a rebuilt tree holds at a path: the git id of a
// regular file or the SHA-256 of an LFS file.
type fileState struct{ oid, lfsOID string }

// rebuildRef rebuilds the commits of ref the mirror lacks.
func (s *Service) rebuildRef(ctx context.Context, m *haven.Mirror, g *gitstore.Repo, h *hub, ref string, st pullState, p Progress) error {
	var known string
	// The Hub names branches by their short name; other refs in full.
	rev := strings.TrimPrefix(ref, "refs/heads/")
	fresh, err := h.commits(ctx, m.RemoteType, m.RemoteID, rev, func(id string) bool {
		if _, ok := st.Commits[id]; ok {
			known = id
			return true
		}
		return false
	})
	if err != nil {
		return err
	}
	parent := ""
	files := map[string]fileState{}
	if known != "" {
		parent = st.Commits[known]
		entries, err := g.List(parent, "", true)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.Type != "file" {
				continue
			}
			fs := fileState{oid: e.OID}
			if ptr, ok := g.Pointer(e); ok {
				fs = fileState{lfsOID: ptr.OID}
			}
			files[e.Path] = fs
		}
	}
	for i := len(fresh) - 1; i >= 0; i-- {
		c := fresh[i]
		tree, err := h.tree(ctx, m.RemoteType, m.RemoteID, c.ID)
		if err != nil {
			return err
		}
		next := map[string]fileState{}
		var ops []gitstore.Op
		for _, e := range tree {
			fs := fileState{oid: e.OID}
			if e.LFS != nil {
				fs = fileState{lfsOID: e.LFS.OID}
			}
			next[e.Path] = fs
			if files[e.Path] == fs {
				continue
			}
			content, err := s.fetchFile(ctx, m, h, c.ID, e)
			if err != nil {
				return err
			}
			ops = append(ops, gitstore.Op{Kind: gitstore.OpPut, Path: e.Path, Content: content})
		}
		for path := range files {
			if _, ok := next[path]; !ok {
				ops = append(ops, gitstore.Op{Kind: gitstore.OpDelete, Path: path})
			}
		}
		sha, err := g.BuildCommit(parent, ops, authorOf(c, h), c.Title, c.Message)
		if err != nil {
			return err
		}
		st.Commits[c.ID] = sha
		parent, files = sha, next
	}
	return nil
}

// fetchFile returns what a rebuilt commit holds at e's path: the file's
// bytes, or for an LFS file its pointer, once the object is stored.
func (s *Service) fetchFile(ctx context.Context, m *haven.Mirror, h *hub, commit string, e remoteEntry) ([]byte, error) {
	if e.LFS != nil {
		ptr := lfs.Pointer{OID: e.LFS.OID, Size: e.LFS.Size}
		ok, err := s.cfg.Has(ctx, ptr.OID)
		if err != nil {
			return nil, err
		}
		if !ok {
			body, err := h.download(ctx, m.RemoteType, m.RemoteID, commit, e.Path)
			if err != nil {
				return nil, err
			}
			err = blob.PutVerified(ctx, s.cfg.Blobs, blob.LFSKey(ptr.OID), body, ptr.OID, ptr.Size)
			body.Close()
			if err != nil {
				return nil, fmt.Errorf("large file %s: %w", e.Path, err)
			}
		}
		return ptr.Bytes(), nil
	}
	if e.Size > maxRESTFile {
		return nil, fmt.Errorf("%s is a %d-byte file outside LFS", e.Path, e.Size)
	}
	body, err := h.download(ctx, m.RemoteType, m.RemoteID, commit, e.Path)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, maxRESTFile+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) != e.Size {
		return nil, fmt.Errorf("%s: %s sent %d bytes of a %d-byte file", e.Path, h.name(), len(b), e.Size)
	}
	return b, nil
}

// authorOf is the signature of a rebuilt commit: the source's first
// author at the source's date.
func authorOf(c remoteCommit, h *hub) gitstore.Signature {
	name := "unknown"
	if len(c.Authors) > 0 && c.Authors[0].User != "" {
		name = c.Authors[0].User
	}
	when, err := time.Parse(time.RFC3339, c.Date)
	if err != nil {
		when = time.Now()
	}
	host := h.name()
	if u, err := url.Parse(h.base); err == nil {
		host = u.Hostname()
	}
	return gitstore.Signature{Name: name, Email: name + "@" + host, When: when}
}
