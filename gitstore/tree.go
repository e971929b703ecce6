package gitstore

import (
	"errors"
	"io"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/havenhub/haven"
)

// Entry types.
const (
	TypeFile      = "file"
	TypeDirectory = "directory"
)

// Entry is a file or directory in a commit's tree.
type Entry struct {
	Path string // full path from the repository root, no leading slash
	Type string // TypeFile or TypeDirectory
	OID  string // blob sha1 for files, tree sha1 for directories
	Size int64  // blob size in bytes (of the pointer for LFS files); 0 for directories
	Mode uint32 // git file mode: 0100644, 0100755, 0120000, 040000, ...
}

func entryNotFound() error { return haven.Errorf(haven.EEntryNotFound, "Entry not found") }

// rootTree returns the tree of a commit, preferably given by its full sha.
func (r *Repo) rootTree(commit string) (*object.Tree, error) {
	c, err := r.commitAt(commit)
	if err != nil {
		return nil, err
	}
	return object.GetTree(r.objs, c.TreeHash)
}

// cleanPath trims the slashes callers tend to leave around a path.
func cleanPath(p string) string { return strings.Trim(p, "/") }

// Stat returns the entry at path in commit; path "" is the root directory.
// A missing path is haven.EEntryNotFound. Here and in the other readers,
// commit is best the full sha from Resolve; other revisions are resolved.
func (r *Repo) Stat(commit, path string) (Entry, error) {
	root, err := r.rootTree(commit)
	if err != nil {
		return Entry{}, err
	}
	path = cleanPath(path)
	if path == "" {
		return Entry{Path: "", Type: TypeDirectory, OID: root.Hash.String(), Mode: uint32(filemode.Dir)}, nil
	}
	te, err := r.findEntry(root, path)
	if err != nil {
		return Entry{}, err
	}
	return r.entry(path, te)
}

// findEntry walks from root to the entry at path; anything missing on the
// way, or a file where a directory should be, is haven.EEntryNotFound.
func (r *Repo) findEntry(root *object.Tree, path string) (*object.TreeEntry, error) {
	tree := root
	for {
		name, rest, more := strings.Cut(path, "/")
		var te *object.TreeEntry
		for i := range tree.Entries {
			if tree.Entries[i].Name == name {
				te = &tree.Entries[i]
				break
			}
		}
		if te == nil {
			return nil, entryNotFound()
		}
		if !more {
			return te, nil
		}
		if te.Mode != filemode.Dir {
			return nil, entryNotFound()
		}
		sub, err := object.GetTree(r.objs, te.Hash)
		if err != nil {
			return nil, err
		}
		tree, path = sub, rest
	}
}

func (r *Repo) entry(path string, te *object.TreeEntry) (Entry, error) {
	e := Entry{Path: path, OID: te.Hash.String(), Mode: uint32(te.Mode)}
	switch te.Mode {
	case filemode.Dir:
		e.Type = TypeDirectory
	case filemode.Submodule:
		// A submodule's commit is not in this repository; show it as an
		// empty file rather than failing the whole listing.
		e.Type = TypeFile
	default:
		e.Type = TypeFile
		size, err := r.blobSize(te.Hash)
		if err != nil {
			return Entry{}, err
		}
		e.Size = size
	}
	return e, nil
}

// List returns the entries under dir ("" is the root): its direct children,
// or with recursive all its descendants including directories, depth-first
// in git tree order. A dir that is missing or not a directory is
// haven.EEntryNotFound.
func (r *Repo) List(commit, dir string, recursive bool) ([]Entry, error) {
	root, err := r.rootTree(commit)
	if err != nil {
		return nil, err
	}
	dir = cleanPath(dir)
	tree := root
	if dir != "" {
		te, err := r.findEntry(root, dir)
		if err != nil {
			return nil, err
		}
		if te.Mode != filemode.Dir {
			return nil, entryNotFound()
		}
		if tree, err = object.GetTree(r.objs, te.Hash); err != nil {
			return nil, err
		}
	}
	var out []Entry
	err = r.listTree(tree, dir, recursive, &out)
	return out, err
}

func (r *Repo) listTree(tree *object.Tree, dir string, recursive bool, out *[]Entry) error {
	for i := range tree.Entries {
		te := &tree.Entries[i]
		path := te.Name
		if dir != "" {
			path = dir + "/" + te.Name
		}
		e, err := r.entry(path, te)
		if err != nil {
			return err
		}
		*out = append(*out, e)
		if recursive && te.Mode == filemode.Dir {
			sub, err := object.GetTree(r.objs, te.Hash)
			if err != nil {
				return err
			}
			if err := r.listTree(sub, path, true, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// Blob opens the blob with the given sha1 and returns its size.
func (r *Repo) Blob(oid string) (io.ReadCloser, int64, error) {
	if len(oid) != 40 || !isHex(oid) {
		return nil, 0, entryNotFound()
	}
	b, err := object.GetBlob(r.objs, plumbing.NewHash(strings.ToLower(oid)))
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return nil, 0, entryNotFound()
	}
	if err != nil {
		return nil, 0, err
	}
	rc, err := b.Reader()
	if err != nil {
		return nil, 0, err
	}
	return rc, b.Size, nil
}

// ReadFile returns the content of the file at path in commit. It is meant
// for small files; a missing path or a directory is haven.EEntryNotFound.
func (r *Repo) ReadFile(commit, path string) ([]byte, error) {
	e, err := r.Stat(commit, path)
	if err != nil {
		return nil, err
	}
	if e.Type != TypeFile || e.Mode == uint32(filemode.Submodule) {
		return nil, entryNotFound()
	}
	rc, _, err := r.Blob(e.OID)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// blobSize returns a blob's size, from a cache because listings ask for the
// same immutable blobs over and over.
func (r *Repo) blobSize(h plumbing.Hash) (int64, error) {
	if size, ok := r.sizes.get(h); ok {
		return size, nil
	}
	size, err := r.objs.EncodedObjectSize(h)
	if err != nil {
		return 0, err
	}
	r.sizes.put(h, size)
	return size, nil
}

// sizeCacheLimit bounds the blob size cache; it is simply cleared when full.
const sizeCacheLimit = 200_000

type sizeCache struct {
	mu sync.RWMutex
	m  map[plumbing.Hash]int64
}

func (c *sizeCache) get(h plumbing.Hash) (int64, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	size, ok := c.m[h]
	return size, ok
}

func (c *sizeCache) put(h plumbing.Hash, size int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= sizeCacheLimit {
		c.m = make(map[plumbing.Hash]int64)
	}
	c.m[h] = size
}
