package gitstore

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/lfs"
)

// LFSFile is a Git LFS object that the history of a repository refers to.
type LFSFile struct {
	Pointer lfs.Pointer
	BlobOID string    // the git blob of the pointer where it was first found
	Path    string    // a path at which it occurs
	Ref     string    // a ref whose history holds it
	Time    time.Time // committer time of the newest commit found holding it
}

// LFSFiles lists every LFS object that any ref's history refers to, newest
// first. Branches are walked before tags and other refs, so Ref names a
// branch where one holds the object.
func (r *Repo) LFSFiles(ctx context.Context) ([]LFSFile, error) {
	refs, err := r.objs.references()
	if err != nil {
		return nil, err
	}
	sort.Slice(refs, func(i, j int) bool {
		bi, bj := refs[i].Name().IsBranch(), refs[j].Name().IsBranch()
		if bi != bj {
			return bi
		}
		return refs[i].Name() < refs[j].Name()
	})
	found := map[string]*LFSFile{}
	seenCommits := map[string]bool{}
	seenTrees := map[plumbing.Hash]bool{}
	seenBlobs := map[plumbing.Hash]bool{}
	for _, ref := range refs {
		if ref.Type() != plumbing.HashReference {
			continue
		}
		out, err := runGit(ctx, r.path, nil, "rev-list", "--date-order", ref.Hash().String())
		if err != nil {
			return nil, err
		}
		for _, sha := range strings.Fields(string(out)) {
			if seenCommits[sha] {
				continue
			}
			seenCommits[sha] = true
			c, err := r.commitObject(plumbing.NewHash(sha))
			if err != nil {
				return nil, err
			}
			err = r.walkTree(ctx, c.TreeHash, "", seenTrees, func(path string, h plumbing.Hash) {
				if seenBlobs[h] {
					return
				}
				seenBlobs[h] = true
				p, ok := r.blobPointer(h)
				if !ok || found[p.OID] != nil {
					return
				}
				found[p.OID] = &LFSFile{Pointer: p, BlobOID: h.String(), Path: path, Ref: ref.Name().String(), Time: c.Committer.When.UTC()}
			})
			if err != nil {
				return nil, err
			}
		}
	}
	out := make([]LFSFile, 0, len(found))
	for _, f := range found {
		out = append(out, *f)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.After(out[j].Time)
		}
		return out[i].Pointer.OID < out[j].Pointer.OID
	})
	return out, nil
}

// walkTree calls fn for every regular file under tree h, skipping trees in
// seen, which it extends.
func (r *Repo) walkTree(ctx context.Context, h plumbing.Hash, dir string, seen map[plumbing.Hash]bool, fn func(path string, blob plumbing.Hash)) error {
	if seen[h] {
		return nil
	}
	seen[h] = true
	if err := ctx.Err(); err != nil {
		return err
	}
	t, err := object.GetTree(r.objs, h)
	if err != nil {
		return err
	}
	for _, e := range t.Entries {
		path := e.Name
		if dir != "" {
			path = dir + "/" + e.Name
		}
		switch e.Mode {
		case filemode.Dir:
			if err := r.walkTree(ctx, e.Hash, path, seen, fn); err != nil {
				return err
			}
		case filemode.Regular, filemode.Executable:
			fn(path, e.Hash)
		}
	}
	return nil
}

// blobPointer reports whether blob h is an LFS pointer, through the cache
// that Pointer shares.
func (r *Repo) blobPointer(h plumbing.Hash) (lfs.Pointer, bool) {
	if p, ok := pointers.Get(h.String()); ok {
		return p, p.OID != ""
	}
	size, err := r.objs.EncodedObjectSize(h)
	if err != nil || size > lfs.MaxPointerSize {
		return lfs.Pointer{}, false
	}
	return r.Pointer(Entry{Type: TypeFile, OID: h.String(), Size: size})
}

// maxRewriteAttempts bounds how often DropLFSFiles starts again when a ref
// moved while it rewrote.
const maxRewriteAttempts = 5

// DropLFSFiles rewrites the history of every ref without the files that are
// LFS pointers to the objects in oids (SHA-256s), and returns the refs it
// moved. Commits keep their authors, dates and messages; a directory left
// empty goes too. Refs move with compare-and-swap, so a push that lands
// meanwhile is never lost: the rewrite starts again from it. The commits
// and trees that only the old history reached are then removed from disk,
// so that the old commit ids no longer resolve.
func (r *Repo) DropLFSFiles(ctx context.Context, oids map[string]bool) ([]string, error) {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	for attempt := 1; ; attempt++ {
		moved, conflict, err := r.dropLFSFiles(ctx, oids)
		if err != nil {
			return moved, err
		}
		if !conflict {
			if len(moved) > 0 {
				r.history.forget()
				err = r.pruneUnreachable(ctx)
			}
			return moved, err
		}
		if attempt == maxRewriteAttempts {
			return moved, haven.Errorf(haven.EConflict, "Too many concurrent updates, please retry")
		}
		backoff(ctx, attempt)
	}
}

// dropLFSFiles is one attempt of DropLFSFiles; conflict reports a ref that
// moved meanwhile.
func (r *Repo) dropLFSFiles(ctx context.Context, oids map[string]bool) (moved []string, conflict bool, err error) {
	refs, err := r.objs.references()
	if err != nil {
		return nil, false, err
	}
	var tips []string
	for _, ref := range refs {
		if ref.Type() == plumbing.HashReference {
			tips = append(tips, ref.Hash().String())
		}
	}
	if len(tips) == 0 {
		return nil, false, nil
	}
	// Parents come before their children, so each commit is rewritten
	// after its parents.
	out, err := runGit(ctx, r.path, nil, append([]string{"rev-list", "--topo-order", "--reverse"}, tips...)...)
	if err != nil {
		return nil, false, err
	}
	rw := &rewriter{r: r, oids: oids, trees: map[plumbing.Hash]plumbing.Hash{}}
	commits := map[plumbing.Hash]plumbing.Hash{}
	for _, sha := range strings.Fields(string(out)) {
		h := plumbing.NewHash(sha)
		c, err := r.commitObject(h)
		if err != nil {
			return nil, false, err
		}
		tree, err := rw.tree(ctx, c.TreeHash)
		if err != nil {
			return nil, false, err
		}
		changed := tree != c.TreeHash
		parents := make([]plumbing.Hash, len(c.ParentHashes))
		for i, p := range c.ParentHashes {
			parents[i] = commits[p]
			changed = changed || parents[i] != p
		}
		if !changed {
			commits[h] = h
			continue
		}
		nc := &object.Commit{Author: c.Author, Committer: c.Committer, Message: c.Message, TreeHash: tree,
			ParentHashes: parents, Encoding: c.Encoding, ExtraHeaders: c.ExtraHeaders}
		if commits[h], err = r.writeEncoded(plumbing.CommitObject, nc); err != nil {
			return nil, false, err
		}
	}
	for _, ref := range refs {
		if ref.Type() != plumbing.HashReference {
			continue
		}
		old := ref.Hash()
		target, err := rw.retarget(old, commits)
		if err != nil {
			return moved, false, err
		}
		if target == old {
			continue
		}
		ok, err := r.casRef(ctx, ref.Name(), target, old)
		if err != nil {
			return moved, false, err
		}
		if !ok {
			return moved, true, nil
		}
		moved = append(moved, ref.Name().String())
	}
	return moved, false, nil
}

// rewriter rebuilds trees without the pointers to oids, once per tree.
type rewriter struct {
	r     *Repo
	oids  map[string]bool
	trees map[plumbing.Hash]plumbing.Hash // old tree → new tree (zero: empty)
}

func (w *rewriter) tree(ctx context.Context, h plumbing.Hash) (plumbing.Hash, error) {
	if n, ok := w.trees[h]; ok {
		return n, nil
	}
	if err := ctx.Err(); err != nil {
		return plumbing.ZeroHash, err
	}
	t, err := object.GetTree(w.r.objs, h)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	entries := make([]object.TreeEntry, 0, len(t.Entries))
	changed := false
	for _, e := range t.Entries {
		switch e.Mode {
		case filemode.Dir:
			sub, err := w.tree(ctx, e.Hash)
			if err != nil {
				return plumbing.ZeroHash, err
			}
			if sub != e.Hash {
				changed = true
				if sub == emptyTree {
					continue
				}
				e.Hash = sub
			}
		case filemode.Regular, filemode.Executable:
			if p, ok := w.r.blobPointer(e.Hash); ok && w.oids[p.OID] {
				changed = true
				continue
			}
		}
		entries = append(entries, e)
	}
	n := h
	if changed {
		if n, err = w.r.writeEncoded(plumbing.TreeObject, &object.Tree{Entries: entries}); err != nil {
			return plumbing.ZeroHash, err
		}
	}
	w.trees[h] = n
	return n, nil
}

// emptyTree is the id of the tree with no entries.
var emptyTree = plumbing.NewHash("4b825dc642cb6eb9a060e54bf8d69288fbee4904")

// retarget maps a ref's target through the rewritten commits; an annotated
// tag gets a new tag object when its commit changed.
func (w *rewriter) retarget(h plumbing.Hash, commits map[plumbing.Hash]plumbing.Hash) (plumbing.Hash, error) {
	if n, ok := commits[h]; ok {
		return n, nil
	}
	tag, err := object.GetTag(w.r.objs, h)
	if err != nil {
		return h, nil // neither a commit nor a tag: nothing of it to rewrite
	}
	target, err := w.retarget(tag.Target, commits)
	if err != nil || target == tag.Target {
		return h, err
	}
	nt := &object.Tag{Name: tag.Name, Tagger: tag.Tagger, Message: tag.Message, TargetType: tag.TargetType, Target: target}
	return w.r.writeEncoded(plumbing.TagObject, nt)
}

// pruneUnreachable removes the commits, trees and tags that no ref reaches
// any more. Packed ones go with a repack, which keeps only what refs reach;
// loose ones are deleted one by one, never blobs: an API commit writes its
// blobs before it takes writeMu, and they must survive until its ref moves.
// Trees and commits are only written under writeMu, which the caller holds.
// A push's objects wait in git's quarantine folder until it is accepted, out
// of reach of both steps.
func (r *Repo) pruneUnreachable(ctx context.Context) error {
	if _, err := runGit(ctx, r.path, nil, "repack", "-a", "-d", "-q"); err != nil {
		return err
	}
	out, err := runGit(ctx, r.path, nil, "prune", "--dry-run", "--expire=now")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(out), "\n") {
		sha, kind, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok || len(sha) != 40 || kind == "blob" {
			continue
		}
		err := os.Remove(filepath.Join(r.path, "objects", sha[:2], sha[2:]))
		if err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	r.objs.forgetCached()
	return nil
}
