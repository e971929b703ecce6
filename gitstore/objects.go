package gitstore

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/storage/filesystem/dotgit"
)

// largeObjectThreshold is the blob size above which go-git streams a loose
// object from disk instead of loading it into memory.
const largeObjectThreshold = 1 << 20

// objects is go-git's file-system storage made safe for concurrent use and
// aware of packs that other processes (receive-pack, gc) add or remove.
//
// go-git indexes pack files once and keeps that index in an unsynchronised
// map, so every call is serialised here, and a miss re-indexes when the pack
// directory has changed since the index was built.
type objects struct {
	mu        sync.Mutex
	fs        *filesystem.Storage
	cache     *cache.ObjectLRU
	packDir   string
	packNames string // the pack indexes present when go-git's index was last dropped
}

var _ storer.EncodedObjectStorer = (*objects)(nil)

func newObjects(path string) *objects {
	c := cache.NewObjectLRU(32 * cache.MiByte)
	o := &objects{
		fs: filesystem.NewStorageWithOptions(osfs.New(path, osfs.WithBoundOS()), c,
			filesystem.Options{LargeObjectThreshold: largeObjectThreshold}),
		cache:   c,
		packDir: filepath.Join(path, "objects", "pack"),
	}
	o.packNames = o.listPacks()
	return o
}

// listPacks names the pack indexes on disk. The directory's modification
// time would not do: go-git creates its temporary object files there.
func (o *objects) listPacks() string {
	entries, err := os.ReadDir(o.packDir)
	if err != nil {
		return ""
	}
	var names strings.Builder
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".idx") {
			names.WriteString(e.Name())
			names.WriteByte(' ')
		}
	}
	return names.String()
}

// refreshPacks drops go-git's pack index when packs were added or removed.
// It reports whether anything changed, that is whether a retry may help.
// The caller holds o.mu.
func (o *objects) refreshPacks() bool {
	names := o.listPacks()
	if names == o.packNames {
		return false
	}
	o.packNames = names
	o.fs.Reindex()
	return true
}

// retryable reports whether err may come from a stale pack index: an object
// in a pack not indexed yet, or a pack deleted by a repack.
func retryable(err error) bool {
	return errors.Is(err, plumbing.ErrObjectNotFound) || errors.Is(err, fs.ErrNotExist) ||
		errors.Is(err, dotgit.ErrPackfileNotFound) || errors.Is(err, dotgit.ErrIdxNotFound)
}

func (o *objects) NewEncodedObject() plumbing.EncodedObject { return &plumbing.MemoryObject{} }

func (o *objects) SetEncodedObject(obj plumbing.EncodedObject) (plumbing.Hash, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.fs.SetEncodedObject(obj)
}

func (o *objects) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	obj, err := o.fs.EncodedObject(t, h)
	if err != nil && retryable(err) && o.refreshPacks() {
		obj, err = o.fs.EncodedObject(t, h)
	}
	if errors.Is(err, plumbing.ErrObjectNotFound) && h == emptyTree && (t == plumbing.TreeObject || t == plumbing.AnyObject) {
		// Git knows the empty tree without storing it, and so do commits
		// made by clients that never wrote it.
		empty := &plumbing.MemoryObject{}
		empty.SetType(plumbing.TreeObject)
		return empty, nil
	}
	return obj, err
}

func (o *objects) HasEncodedObject(h plumbing.Hash) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	err := o.fs.HasEncodedObject(h)
	if err != nil && retryable(err) && o.refreshPacks() {
		err = o.fs.HasEncodedObject(h)
	}
	return err
}

func (o *objects) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	size, err := o.fs.EncodedObjectSize(h)
	if err != nil && retryable(err) && o.refreshPacks() {
		size, err = o.fs.EncodedObjectSize(h)
	}
	return size, err
}

// IterEncodedObjects is not offered: it would read packs outside the lock.
func (o *objects) IterEncodedObjects(plumbing.ObjectType) (storer.EncodedObjectIter, error) {
	return nil, errors.New("gitstore: iterating all objects is not supported")
}

func (o *objects) AddAlternate(string) error {
	return errors.New("gitstore: alternates are not supported")
}

// hashesWithPrefix lists the objects whose id starts with the given bytes.
func (o *objects) hashesWithPrefix(prefix []byte) ([]plumbing.Hash, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.refreshPacks()
	return o.fs.HashesWithPrefix(prefix)
}

// forgetCached drops the decoded objects kept in memory, after objects were
// removed from disk, so that they are not served from memory either.
func (o *objects) forgetCached() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.cache.Clear()
	o.refreshPacks()
}

// reference reads one ref, unresolved (symbolic refs stay symbolic).
func (o *objects) reference(name plumbing.ReferenceName) (*plumbing.Reference, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.fs.Reference(name)
}

// references reads every ref, loose and packed.
func (o *objects) references() ([]*plumbing.Reference, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	iter, err := o.fs.IterReferences()
	if err != nil {
		return nil, err
	}
	var refs []*plumbing.Reference
	err = iter.ForEach(func(r *plumbing.Reference) error {
		refs = append(refs, r)
		return nil
	})
	return refs, err
}
