package gitstore

import (
	"container/heap"
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Commit is a commit as the hub shows it.
type Commit struct {
	ID      string
	Title   string // first line of the message
	Message string // the rest of the message, trimmed; "" if none
	Author  Signature
	Parents []string
}

func toCommit(c *object.Commit) *Commit {
	title, body, _ := strings.Cut(strings.TrimLeft(c.Message, "\n"), "\n")
	parents := make([]string, len(c.ParentHashes))
	for i, p := range c.ParentHashes {
		parents[i] = p.String()
	}
	return &Commit{
		ID:      c.Hash.String(),
		Title:   strings.TrimSpace(title),
		Message: strings.TrimSpace(body),
		Author:  fromGit(c.Author),
		Parents: parents,
	}
}

// CommitInfo returns the commit with the given sha (any revision is
// accepted, but a full sha saves resolving it).
func (r *Repo) CommitInfo(sha string) (*Commit, error) {
	c, err := r.commitAt(sha)
	if err != nil {
		return nil, err
	}
	return toCommit(c), nil
}

// commitAt loads the commit a revision names; full shas, which is what
// callers hold after Resolve, are looked up directly.
func (r *Repo) commitAt(rev string) (*object.Commit, error) {
	h := plumbing.NewHash(strings.ToLower(rev))
	if len(rev) != 40 || !isHex(rev) {
		var err error
		if h, err = r.resolve(rev); err != nil {
			return nil, err
		}
	}
	c, err := r.commitObject(h)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return nil, revisionNotFound(rev)
	}
	return c, err
}

// Log lists the commits reachable from commit, newest first (by committer
// date, as git log does), skipping offset and returning at most limit
// (0: all). total counts the whole history.
func (r *Repo) Log(commit string, offset, limit int) ([]*Commit, int, error) {
	head, err := r.commitAt(commit)
	if err != nil {
		return nil, 0, err
	}
	order, err := r.historyOf(head)
	if err != nil {
		return nil, 0, err
	}
	total := len(order)
	if offset < 0 {
		offset = 0
	}
	if offset >= total {
		return []*Commit{}, total, nil
	}
	page := order[offset:]
	if limit > 0 && limit < len(page) {
		page = page[:limit]
	}
	out := make([]*Commit, 0, len(page))
	for _, h := range page {
		c, err := r.commitObject(h)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, toCommit(c))
	}
	return out, total, nil
}

// historyOf returns every commit reachable from head in log order. A
// commit's history never changes, so recent answers are kept.
func (r *Repo) historyOf(c *object.Commit) ([]plumbing.Hash, error) {
	head := c.Hash
	if order, ok := r.history.get(head); ok {
		return order, nil
	}
	var order []plumbing.Hash
	seen := map[plumbing.Hash]bool{head: true}
	q := &commitQueue{}
	q.add(c)
	for q.Len() > 0 {
		c := heap.Pop(q).(queued).c
		order = append(order, c.Hash)
		for _, p := range c.ParentHashes {
			if seen[p] {
				continue
			}
			seen[p] = true
			pc, err := r.commitObject(p)
			if err != nil {
				return nil, err
			}
			q.add(pc)
		}
	}
	r.history.put(head, order)
	return order, nil
}

// queued is a commit waiting in the walk; seq keeps equal dates in the
// order they were found, so a linear history comes out child before parent.
type queued struct {
	c   *object.Commit
	seq int
}

type commitQueue struct {
	items []queued
	seq   int
}

func (q *commitQueue) add(c *object.Commit) {
	q.seq++
	heap.Push(q, queued{c: c, seq: q.seq})
}

func (q *commitQueue) Len() int { return len(q.items) }
func (q *commitQueue) Less(i, j int) bool {
	a, b := q.items[i], q.items[j]
	if !a.c.Committer.When.Equal(b.c.Committer.When) {
		return a.c.Committer.When.After(b.c.Committer.When)
	}
	return a.seq < b.seq
}
func (q *commitQueue) Swap(i, j int) { q.items[i], q.items[j] = q.items[j], q.items[i] }
func (q *commitQueue) Push(x any)    { q.items = append(q.items, x.(queued)) }
func (q *commitQueue) Pop() any {
	x := q.items[len(q.items)-1]
	q.items = q.items[:len(q.items)-1]
	return x
}

// historyCacheSize is how many heads' histories a repository keeps.
const historyCacheSize = 8

// historyCache remembers the log order of a few recent heads.
type historyCache struct {
	mu      sync.Mutex
	entries []historyEntry // most recent last
}

type historyEntry struct {
	head  plumbing.Hash
	order []plumbing.Hash
}

func (c *historyCache) get(head plumbing.Hash) ([]plumbing.Hash, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.entries {
		if e.head == head {
			return e.order, true
		}
	}
	return nil, false
}

func (c *historyCache) put(head plumbing.Hash, order []plumbing.Hash) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= historyCacheSize {
		c.entries = c.entries[1:]
	}
	c.entries = append(c.entries, historyEntry{head, order})
}

// forget drops everything; histories stay correct after ref moves (they are
// keyed by commit), this only returns memory after squashes and rewrites.
func (c *historyCache) forget() {
	c.mu.Lock()
	c.entries = nil
	c.mu.Unlock()
}

// pathNode is one segment of the paths LastCommits was asked about.
type pathNode struct {
	path     string // full path, when it was asked for
	wanted   bool
	children map[string]*pathNode
}

// LastCommits returns, for each path (file or directory), the newest commit
// reachable from commit along first parents that changed it. Paths that do
// not exist at commit are left out. All paths share one walk of history.
func (r *Repo) LastCommits(commit string, paths []string) (map[string]*Commit, error) {
	head, err := r.commitAt(commit)
	if err != nil {
		return nil, err
	}
	root := &pathNode{}
	for _, p := range paths {
		p = cleanPath(p)
		if p == "" {
			continue
		}
		n := root
		for _, seg := range strings.Split(p, "/") {
			if n.children == nil {
				n.children = map[string]*pathNode{}
			}
			child := n.children[seg]
			if child == nil {
				child = &pathNode{}
				n.children[seg] = child
			}
			n = child
		}
		n.wanted, n.path = true, p
	}
	w := &lastCommitWalk{r: r, result: map[string]*Commit{}, trees: map[plumbing.Hash]*object.Tree{}}
	// Only paths present at the start can be settled; the rest would make
	// the walk run to the root commit for nothing.
	pending, err := w.present(head.TreeHash, root)
	if err != nil {
		return nil, err
	}
	c := head
	for pending > 0 {
		var parentTree plumbing.Hash
		var parent *object.Commit
		if len(c.ParentHashes) > 0 {
			if parent, err = r.commitObject(c.ParentHashes[0]); err != nil {
				return nil, err
			}
			parentTree = parent.TreeHash
		}
		n, err := w.compare(c, c.TreeHash, parentTree, root)
		if err != nil {
			return nil, err
		}
		pending -= n
		if parent == nil {
			break
		}
		// Trees seen two commits ago will not be asked for again.
		if len(w.trees) > 4096 {
			w.trees = map[plumbing.Hash]*object.Tree{}
		}
		c = parent
	}
	return w.result, nil
}

type lastCommitWalk struct {
	r      *Repo
	result map[string]*Commit
	trees  map[plumbing.Hash]*object.Tree
}

func (w *lastCommitWalk) tree(h plumbing.Hash) (*object.Tree, error) {
	if h.IsZero() {
		return &object.Tree{}, nil
	}
	if t, ok := w.trees[h]; ok {
		return t, nil
	}
	t, err := object.GetTree(w.r.objs, h)
	if err != nil {
		return nil, err
	}
	w.trees[h] = t
	return t, nil
}

// present counts the asked-for paths under n that exist in tree.
func (w *lastCommitWalk) present(tree plumbing.Hash, n *pathNode) (int, error) {
	t, err := w.tree(tree)
	if err != nil {
		return 0, err
	}
	count := 0
	for name, child := range n.children {
		e := findChild(t, name)
		if e == nil {
			continue
		}
		if child.wanted {
			count++
		}
		if len(child.children) > 0 && e.Mode == filemode.Dir {
			n, err := w.present(e.Hash, child)
			if err != nil {
				return 0, err
			}
			count += n
		}
	}
	return count, nil
}

// compare finds the asked-for paths under n whose entries differ between
// the trees of c and of its parent, and credits them to c. It returns how
// many paths it settled.
func (w *lastCommitWalk) compare(c *object.Commit, tree, parentTree plumbing.Hash, n *pathNode) (int, error) {
	if tree == parentTree {
		return 0, nil
	}
	t, err := w.tree(tree)
	if err != nil {
		return 0, err
	}
	pt, err := w.tree(parentTree)
	if err != nil {
		return 0, err
	}
	settled := 0
	for name, child := range n.children {
		e, pe := findChild(t, name), findChild(pt, name)
		if e == nil && pe == nil {
			continue
		}
		if child.wanted && e != nil && (pe == nil || e.Hash != pe.Hash || e.Mode != pe.Mode) {
			if _, done := w.result[child.path]; !done {
				w.result[child.path] = toCommit(c)
				settled++
			}
		}
		if len(child.children) == 0 {
			continue
		}
		var sub, psub plumbing.Hash
		if e != nil && e.Mode == filemode.Dir {
			sub = e.Hash
		}
		if pe != nil && pe.Mode == filemode.Dir {
			psub = pe.Hash
		}
		s, err := w.compare(c, sub, psub, child)
		if err != nil {
			return 0, err
		}
		settled += s
	}
	return settled, nil
}

func findChild(t *object.Tree, name string) *object.TreeEntry {
	for i := range t.Entries {
		if t.Entries[i].Name == name {
			return &t.Entries[i]
		}
	}
	return nil
}

// WalkBlobs calls fn once for every blob reachable from any ref, with one
// path at which it appears.
func (r *Repo) WalkBlobs(ctx context.Context, fn func(path, oid string) error) error {
	refs, err := r.objs.references()
	if err != nil {
		return err
	}
	seenCommits := map[plumbing.Hash]bool{}
	seenTrees := map[plumbing.Hash]bool{}
	seenBlobs := map[plumbing.Hash]bool{}
	var walkTree func(h plumbing.Hash, dir string) error
	walkTree = func(h plumbing.Hash, dir string) error {
		if seenTrees[h] {
			return nil
		}
		seenTrees[h] = true
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
				if err := walkTree(e.Hash, path); err != nil {
					return err
				}
			case filemode.Submodule:
			default:
				if !seenBlobs[e.Hash] {
					seenBlobs[e.Hash] = true
					if err := fn(path, e.Hash.String()); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	for _, ref := range refs {
		if ref.Type() != plumbing.HashReference {
			continue
		}
		start, err := r.peelToCommit(ref.Hash())
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		stack := []plumbing.Hash{start}
		for len(stack) > 0 {
			h := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if seenCommits[h] {
				continue
			}
			seenCommits[h] = true
			c, err := r.commitObject(h)
			if err != nil {
				return err
			}
			if err := walkTree(c.TreeHash, ""); err != nil {
				return err
			}
			stack = append(stack, c.ParentHashes...)
		}
	}
	return nil
}
