package viewer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/havenhub/haven/blob"
)

// Cache keeps local copies of LFS objects (the parquet shards of exports) by
// SHA-256, because DuckDB reads only local files. With the blob store on
// local disk a cached file is a hard link to the stored object, which costs
// no space; with S3 it is a downloaded copy.
type Cache struct {
	// Xet, when set, opens the objects uploaded through Xet, which the blob
	// store holds as chunks rather than under their LFS key.
	Xet func(ctx context.Context, oid string) (io.ReadSeekCloser, int64, error)

	dir   string
	blobs blob.Driver
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// NewCache returns a cache in dir.
func NewCache(dir string, blobs blob.Driver) (*Cache, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	return &Cache{dir: abs, blobs: blobs, locks: map[string]*sync.Mutex{}}, nil
}

// Dir is the cache's directory.
func (c *Cache) Dir() string { return c.dir }

func (c *Cache) path(oid string) string { return filepath.Join(c.dir, oid[:2], oid+".parquet") }

func (c *Cache) lock(oid string) func() {
	c.mu.Lock()
	l, ok := c.locks[oid]
	if !ok {
		l = &sync.Mutex{}
		c.locks[oid] = l
	}
	c.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// Path returns the local file of the object oid, fetching it first if needed.
func (c *Cache) Path(ctx context.Context, oid string) (string, error) {
	if !blob.ValidOID(oid) {
		return "", fmt.Errorf("invalid oid %q", oid)
	}
	p := c.path(oid)
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	defer c.lock(oid)()
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", err
	}
	if err := c.Materialize(ctx, oid, p); err != nil {
		return "", err
	}
	return p, nil
}

// Materialize writes the object oid to dst: a hard link when the blob store
// hands out local files, else a copy made under a temporary name.
func (c *Cache) Materialize(ctx context.Context, oid, dst string) error {
	var rc io.ReadCloser
	rc, _, err := c.blobs.Open(ctx, blob.LFSKey(oid))
	if errors.Is(err, blob.ErrNotFound) && c.Xet != nil {
		rc, _, err = c.Xet(ctx, oid)
	}
	if err != nil {
		if errors.Is(err, blob.ErrNotFound) {
			return Errorf(500, "FileNotFoundError", "The large file %s is missing from the store", oid)
		}
		return err
	}
	defer rc.Close()
	if f, ok := rc.(*os.File); ok {
		if err := os.Link(f.Name(), dst); err == nil || errors.Is(err, os.ErrExist) {
			return nil
		}
	}
	tmp := dst + ".part"
	out, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, rc); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, dst)
}

// Adopt adds a local file that has the object oid's content to the cache.
func (c *Cache) Adopt(file, oid string) error {
	p := c.path(oid)
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := os.Link(file, p); err == nil || errors.Is(err, os.ErrExist) {
		return nil
	}
	in, err := os.Open(file)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := p + ".part"
	out, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	out.Close()
	return os.Rename(tmp, p)
}
