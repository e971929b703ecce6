package gitstore

import (
	"bytes"
	"context"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/havenhub/haven"
)

// OpKind says what an Op does.
type OpKind int

// The kinds of change a commit can make.
const (
	OpPut       OpKind = iota // write a file
	OpDelete                  // delete a file, or a whole directory
	OpDeleteDir               // delete a directory tree
)

// Op is one change in a commit. OpPut writes Content at Path, creating
// parent directories and replacing an existing file; Mode 0 means 0100644.
// OpDelete removes a file or, if Path is a directory, the whole directory.
// OpDeleteDir removes a directory tree only. Deleting a missing path is
// haven.EEntryNotFound.
type Op struct {
	Kind    OpKind
	Path    string
	Content []byte
	Mode    uint32
}

// CommitRequest describes a commit to make on a ref.
type CommitRequest struct {
	// Ref is the full name of the ref to move: "refs/heads/main", "refs/pr/3".
	// A missing ref is created only with CreateRef, or when it is the
	// default branch of a repository that has no commit yet.
	Ref        string
	CreateRef  bool
	StartPoint string // commit sha a created ref starts from; "" for a root commit

	// ParentCommit, if set, is the head the caller expects Ref to be at;
	// any other head is haven.EPrecondition and no retry is made.
	ParentCommit string

	Author  Signature
	Title   string
	Message string
	Ops     []Op

	// AllowEmpty is accepted for clarity only: commits whose tree equals
	// their parent's are always made, as the Hub does.
	AllowEmpty bool
}

// maxCommitAttempts bounds the rebuild-and-retry loop when other writers
// move the ref between reading it and updating it.
const maxCommitAttempts = 20

var errStaleParent = haven.Errorf(haven.EPrecondition,
	"The branch was updated since you opened this page. Please refresh and try again.")

// Commit applies the operations to the tree at the head of req.Ref, writes a
// commit and moves the ref with a compare-and-swap on the head it built on.
// If another writer moved the ref meanwhile, it rebuilds on the new head and
// tries again, unless req.ParentCommit pins the head. Paths must be relative,
// slash-separated, without "", ".", ".." or ".git" segments or NUL, and must
// not start with a backslash or "..\"; anything else is haven.EUnprocessable.
func (r *Repo) Commit(ctx context.Context, req CommitRequest) (string, error) {
	if !strings.HasPrefix(req.Ref, "refs/") || !checkRefFormat(req.Ref) {
		return "", haven.Errorf(haven.EInvalid, "Invalid reference: %q", req.Ref)
	}
	changes, err := r.prepareOps(req.Ops)
	if err != nil {
		return "", err
	}
	ref := plumbing.ReferenceName(req.Ref)
	author := req.Author.toGit()

	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	for attempt := 1; ; attempt++ {
		head, exists, err := r.readRef(ref)
		if err != nil {
			return "", err
		}
		base := head
		if !exists {
			if base, err = r.newRefBase(req); err != nil {
				return "", err
			}
		}
		if req.ParentCommit != "" && !strings.EqualFold(req.ParentCommit, head.String()) {
			return "", errStaleParent
		}
		sha, err := r.buildCommit(base, changes, author, req.Title, req.Message)
		if err != nil {
			return "", err
		}
		moved, err := r.casRef(ctx, ref, sha, head)
		if err != nil {
			return "", err
		}
		if moved {
			return sha.String(), nil
		}
		if req.ParentCommit != "" {
			return "", errStaleParent
		}
		if attempt == maxCommitAttempts {
			return "", haven.Errorf(haven.EConflict, "Too many concurrent updates of %s, please retry", req.Ref)
		}
		backoff(ctx, attempt)
	}
}

// BuildCommit writes a commit that applies ops to the tree of parent (""
// for a root commit) and returns its id without moving any ref: the caller
// moves refs once every object it needs is stored (a mirror's sync).
// Author's time is the commit's time.
func (r *Repo) BuildCommit(parent string, ops []Op, author Signature, title, message string) (string, error) {
	changes, err := r.prepareOps(ops)
	if err != nil {
		return "", err
	}
	base := plumbing.ZeroHash
	if parent != "" {
		if base, err = r.resolve(parent); err != nil {
			return "", err
		}
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	sha, err := r.buildCommit(base, changes, author.toGit(), title, message)
	return sha.String(), err
}

// newRefBase decides where a ref that does not exist yet starts.
func (r *Repo) newRefBase(req CommitRequest) (plumbing.Hash, error) {
	if !req.CreateRef {
		// The first commit of a new repository creates its default branch.
		head, err := r.headBranch()
		if err != nil || head != plumbing.ReferenceName(req.Ref) {
			return plumbing.ZeroHash, revisionNotFound(req.Ref)
		}
		return plumbing.ZeroHash, nil
	}
	if req.StartPoint == "" {
		return plumbing.ZeroHash, nil
	}
	return r.resolve(req.StartPoint)
}

// backoff waits a little, more on each attempt, with jitter so that
// competing writers fall out of step.
func backoff(ctx context.Context, attempt int) {
	d := time.Duration(1+rand.IntN(5*attempt)) * time.Millisecond
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// change is a validated Op with its blob already written.
type change struct {
	kind OpKind
	path []string
	mode filemode.FileMode
	blob plumbing.Hash
}

// prepareOps validates every op and writes the blobs, which do not depend
// on the head and so need not be redone when a commit is retried.
func (r *Repo) prepareOps(ops []Op) ([]change, error) {
	changes := make([]change, 0, len(ops))
	for _, op := range ops {
		segs, err := splitPath(op.Path)
		if err != nil {
			return nil, err
		}
		c := change{kind: op.Kind, path: segs}
		switch op.Kind {
		case OpPut:
			if c.mode, err = fileMode(op.Mode, op.Path); err != nil {
				return nil, err
			}
			if c.blob, err = r.writeObject(plumbing.BlobObject, op.Content); err != nil {
				return nil, err
			}
		case OpDelete, OpDeleteDir:
		default:
			return nil, haven.Errorf(haven.EInvalid, "Unknown operation %d on %q", op.Kind, op.Path)
		}
		changes = append(changes, c)
	}
	return changes, nil
}

func fileMode(mode uint32, path string) (filemode.FileMode, error) {
	switch filemode.FileMode(mode) {
	case 0:
		return filemode.Regular, nil
	case filemode.Regular, filemode.Executable, filemode.Symlink:
		return filemode.FileMode(mode), nil
	}
	return 0, haven.Errorf(haven.EUnprocessable, "Invalid file mode %o for %q", mode, path)
}

// splitPath validates a path inside the repository and splits it into
// segments.
func splitPath(p string) ([]string, error) {
	invalid := func() ([]string, error) {
		return nil, haven.Errorf(haven.EUnprocessable, "Invalid path: %q", p)
	}
	// A backslash is an ordinary character in git file names, but not at the
	// start, where Windows clients would read "..\\x" as leaving the folder.
	if p == "" || strings.ContainsRune(p, 0) || strings.HasPrefix(p, `\`) || strings.HasPrefix(p, `..\`) || strings.HasPrefix(p, `.\`) {
		return invalid()
	}
	segs := strings.Split(p, "/")
	for _, s := range segs {
		if s == "" || s == "." || s == ".." || strings.EqualFold(s, ".git") || len(s) > 4 && strings.EqualFold(s[:5], `.git\`) {
			return invalid()
		}
	}
	return segs, nil
}

// writeObject stores an object unless it is already there.
func (r *Repo) writeObject(t plumbing.ObjectType, content []byte) (plumbing.Hash, error) {
	h := plumbing.ComputeHash(t, content)
	if r.objs.HasEncodedObject(h) == nil {
		return h, nil
	}
	obj := &plumbing.MemoryObject{}
	obj.SetType(t)
	if _, err := obj.Write(content); err != nil {
		return plumbing.ZeroHash, err
	}
	return r.objs.SetEncodedObject(obj)
}

// writeEncoded encodes a tree, commit or tag and stores it.
func (r *Repo) writeEncoded(t plumbing.ObjectType, o interface {
	Encode(plumbing.EncodedObject) error
}) (plumbing.Hash, error) {
	obj := &plumbing.MemoryObject{}
	obj.SetType(t)
	if err := o.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	rd, err := obj.Reader()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(rd); err != nil {
		return plumbing.ZeroHash, err
	}
	return r.writeObject(t, buf.Bytes())
}

// buildCommit applies changes to base's tree and writes a commit on top of
// base (a root commit when base is zero).
func (r *Repo) buildCommit(base plumbing.Hash, changes []change, author object.Signature, title, message string) (plumbing.Hash, error) {
	// A root commit's tree is written even with no changes: it is the
	// empty tree, which readers must find.
	root := &dirNode{loaded: true, changed: true, entries: map[string]*dirEntry{}}
	var parents []plumbing.Hash
	if !base.IsZero() {
		c, err := r.commitObject(base)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		root = &dirNode{hash: c.TreeHash}
		parents = []plumbing.Hash{base}
	}
	for _, c := range changes {
		var err error
		switch c.kind {
		case OpPut:
			err = root.put(r, c.path, c.mode, c.blob)
		default:
			err = root.remove(r, c.path, c.kind)
		}
		if err != nil {
			return plumbing.ZeroHash, err
		}
	}
	tree, err := root.write(r)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return r.writeCommit(tree, parents, author, title, message)
}

func (r *Repo) writeCommit(tree plumbing.Hash, parents []plumbing.Hash, author object.Signature, title, message string) (plumbing.Hash, error) {
	c := &object.Commit{
		Author:       author,
		Committer:    author,
		Message:      commitMessage(title, message),
		TreeHash:     tree,
		ParentHashes: parents,
	}
	return r.writeEncoded(plumbing.CommitObject, c)
}

// commitMessage joins a title and a body the way git does.
func commitMessage(title, message string) string {
	msg := strings.TrimSpace(title)
	if body := strings.TrimSpace(message); body != "" {
		msg += "\n\n" + body
	}
	return msg + "\n"
}

// dirNode is a directory being edited. Its entries are read from the
// stored tree only when an operation reaches into it; untouched
// directories keep their stored hash.
type dirNode struct {
	hash    plumbing.Hash
	loaded  bool
	changed bool
	entries map[string]*dirEntry
}

type dirEntry struct {
	mode filemode.FileMode
	hash plumbing.Hash
	dir  *dirNode // set once an operation reaches into this directory
}

func (n *dirNode) load(r *Repo) error {
	if n.loaded {
		return nil
	}
	t, err := object.GetTree(r.objs, n.hash)
	if err != nil {
		return err
	}
	n.entries = make(map[string]*dirEntry, len(t.Entries))
	for _, e := range t.Entries {
		n.entries[e.Name] = &dirEntry{mode: e.Mode, hash: e.Hash}
	}
	n.loaded = true
	return nil
}

func (e *dirEntry) open() *dirNode {
	if e.dir == nil {
		e.dir = &dirNode{hash: e.hash}
	}
	return e.dir
}

func (n *dirNode) put(r *Repo, path []string, mode filemode.FileMode, blob plumbing.Hash) error {
	if err := n.load(r); err != nil {
		return err
	}
	name := path[0]
	e := n.entries[name]
	if len(path) == 1 {
		if e != nil && e.mode == filemode.Dir {
			return haven.Errorf(haven.EUnprocessable, "Cannot write file %q: a directory of that name exists", name)
		}
		n.entries[name] = &dirEntry{mode: mode, hash: blob}
		n.changed = true
		return nil
	}
	if e == nil {
		e = &dirEntry{mode: filemode.Dir, dir: &dirNode{loaded: true, entries: map[string]*dirEntry{}}}
		n.entries[name] = e
	} else if e.mode != filemode.Dir {
		return haven.Errorf(haven.EUnprocessable, "Cannot create directory %q: a file of that name exists", name)
	}
	n.changed = true
	return e.open().put(r, path[1:], mode, blob)
}

func (n *dirNode) remove(r *Repo, path []string, kind OpKind) error {
	if err := n.load(r); err != nil {
		return err
	}
	name := path[0]
	e := n.entries[name]
	if e == nil {
		return entryNotFound()
	}
	if len(path) == 1 {
		if kind == OpDeleteDir && e.mode != filemode.Dir {
			return entryNotFound()
		}
		delete(n.entries, name)
		n.changed = true
		return nil
	}
	if e.mode != filemode.Dir {
		return entryNotFound()
	}
	child := e.open()
	if err := child.remove(r, path[1:], kind); err != nil {
		return err
	}
	n.changed = true
	// Git has no empty directories.
	if len(child.entries) == 0 {
		delete(n.entries, name)
	}
	return nil
}

// write stores the changed trees under n, bottom up, and returns n's hash.
func (n *dirNode) write(r *Repo) (plumbing.Hash, error) {
	if !n.changed {
		return n.hash, nil
	}
	t := &object.Tree{Entries: make([]object.TreeEntry, 0, len(n.entries))}
	for name, e := range n.entries {
		if e.dir != nil {
			h, err := e.dir.write(r)
			if err != nil {
				return plumbing.ZeroHash, err
			}
			e.hash = h
		}
		t.Entries = append(t.Entries, object.TreeEntry{Name: name, Mode: e.mode, Hash: e.hash})
	}
	sortTreeEntries(t.Entries)
	h, err := r.writeEncoded(plumbing.TreeObject, t)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	n.hash, n.changed = h, false
	return h, nil
}

// sortTreeEntries puts entries in git's tree order, where a directory sorts
// as if its name ended with "/".
func sortTreeEntries(entries []object.TreeEntry) {
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	sort.Slice(entries, func(i, j int) bool { return key(entries[i]) < key(entries[j]) })
}

// Signature is who made a commit or tag, and when.
type Signature struct {
	Name  string
	Email string
	When  time.Time
}

func (s Signature) toGit() object.Signature {
	when := s.When
	if when.IsZero() {
		when = time.Now()
	}
	// Git stores whole seconds.
	return object.Signature{Name: s.Name, Email: s.Email, When: when.Truncate(time.Second)}
}

func fromGit(s object.Signature) Signature {
	return Signature{Name: s.Name, Email: s.Email, When: s.When}
}
