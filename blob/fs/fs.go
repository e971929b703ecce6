// Package fs is the local-disk blob backend: one file per object under a
// root folder, written to a temporary file and renamed into place so that an
// object is either complete or absent.
package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/havenhub/haven/blob"
)

// tempDir is the folder under the root that holds objects being written. It
// is on the same file system as the objects, so renaming out of it is atomic.
const tempDir = "tmp"

// tempPattern names temporary files. The leading dot keeps them apart from
// objects, whose key segments never start with a dot.
const tempPattern = ".put-*"

// Driver stores each object in the file root/<key>; the slashes of the key
// make the directory fan-out. Only one process should use a root at a time:
// copyBuffers holds the 1 MiB buffers Put copies through.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// New removes temporary files that it assumes a crash left behind.
type Driver struct {
	root string
	tmp  string
}

var _ blob.Driver = (*Driver)(nil)

// New returns a driver for the folder root, creating it if needed, and
// removes temporary files left by a previous process that died mid-Put.
func New(root string) (*Driver, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("blob/fs: %w", err)
	}
	d := &Driver{root: abs, tmp: filepath.Join(abs, tempDir)}
	if err := os.MkdirAll(d.tmp, 0o755); err != nil {
		return nil, fmt.Errorf("blob/fs: %w", err)
	}
	stale, err := filepath.Glob(filepath.Join(d.tmp, tempPattern))
	if err != nil {
		return nil, fmt.Errorf("blob/fs: %w", err)
	}
	for _, name := range stale {
		if err := os.Remove(name); err != nil && !errors.Is(err, iofs.ErrNotExist) {
			return nil, fmt.Errorf("blob/fs: removing stale temporary file: %w", err)
		}
	}
	return d, nil
}

// Root is the absolute path of the folder that holds the objects.
func (d *Driver) Root() string { return d.root }

// path maps a key to its file. Keys are validated first; the IsLocal check
// is a second guard against escaping the root.
func (d *Driver) path(key string) (string, error) {
	if err := blob.CheckKey(key); err != nil {
		return "", err
	}
	rel := filepath.FromSlash(key)
	if !filepath.IsLocal(rel) {
		return "", fmt.Errorf("%w: %q", blob.ErrInvalidKey, key)
	}
	return filepath.Join(d.root, rel), nil
}

// Put writes r to a temporary file, syncs it and renames it to the key's
// file, so readers see the old object or the complete new one.
func (d *Driver) Put(ctx context.Context, key string, r io.Reader, size int64) (err error) {
	dst, err := d.path(key)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(d.tmp, tempPattern)
	if err != nil {
		return fmt.Errorf("blob/fs: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	// Hiding ReadFrom makes the copy use the large buffer: fewer, larger
	// writes than the 32 KiB chunks of the generic path.
	if _, err := io.CopyBuffer(struct{ io.Writer }{f}, blob.GuardReader(ctx, r, size), *buf); err != nil {
		return fmt.Errorf("blob/fs: put %s: %w", key, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("blob/fs: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("blob/fs: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("blob/fs: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("blob/fs: put %s: %w", key, err)
	}
	if err := os.Rename(f.Name(), dst); err != nil {
		return fmt.Errorf("blob/fs: put %s: %w", key, err)
	}
	committed = true
	// Persist the directory entry too, so that a crash right after Put
	// returns cannot lose the object.
	return syncDir(dir)
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("blob/fs: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("blob/fs: %w", err)
	}
	return nil
}

// Open returns the object's *os.File, which net/http can send with sendfile.
func (d *Driver) Open(ctx context.Context, key string) (io.ReadSeekCloser, blob.Info, error) {
	name, err := d.path(key)
	if err != nil {
		return nil, blob.Info{}, err
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, blob.Info{}, notFound(key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, blob.Info{}, fmt.Errorf("blob/fs: %w", err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, blob.Info{}, fmt.Errorf("%w: %s", blob.ErrNotFound, key)
	}
	return f, info(key, fi), nil
}

// Stat describes the object under key.
func (d *Driver) Stat(ctx context.Context, key string) (blob.Info, error) {
	name, err := d.path(key)
	if err != nil {
		return blob.Info{}, err
	}
	fi, err := os.Stat(name)
	if err != nil {
		return blob.Info{}, notFound(key, err)
	}
	if !fi.Mode().IsRegular() {
		return blob.Info{}, fmt.Errorf("%w: %s", blob.ErrNotFound, key)
	}
	return info(key, fi), nil
}

// Delete removes the object's file. Emptied directories stay: removing them
// would race with a concurrent Put renaming into them, and there are few.
func (d *Driver) Delete(ctx context.Context, key string) error {
	name, err := d.path(key)
	if err != nil {
		return err
	}
	fi, err := os.Lstat(name)
	if err != nil {
		return notFound(key, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s", blob.ErrNotFound, key)
	}
	if err := os.Remove(name); err != nil {
		return notFound(key, err)
	}
	return nil
}

// List walks only the directories that can hold keys starting with prefix.
func (d *Driver) List(ctx context.Context, prefix string, fn func(blob.Info) error) error {
	if err := blob.CheckPrefix(prefix); err != nil {
		return err
	}
	// Start at the deepest directory that the prefix names completely.
	start := d.root
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		start = filepath.Join(d.root, filepath.FromSlash(prefix[:i]))
	}
	return filepath.WalkDir(start, func(p string, e iofs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, iofs.ErrNotExist) || errors.Is(err, errNotDir) {
				return nil // no such prefix, or removed while walking
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == start {
			return nil
		}
		rel, err := filepath.Rel(d.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if strings.HasPrefix(e.Name(), ".") {
			if e.IsDir() {
				return filepath.SkipDir
			}
			return nil // temporary files and anything else that is no object
		}
		if e.IsDir() {
			if !strings.HasPrefix(key+"/", prefix) && !strings.HasPrefix(prefix, key+"/") {
				return filepath.SkipDir
			}
			return nil
		}
		if !e.Type().IsRegular() || !strings.HasPrefix(key, prefix) || !blob.ValidKey(key) {
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			if errors.Is(err, iofs.ErrNotExist) {
				return nil
			}
			return err
		}
		return fn(info(key, fi))
	})
}

// errNotDir is what the system reports when a path goes through a file.
var errNotDir error = syscall.ENOTDIR

func info(key string, fi iofs.FileInfo) blob.Info {
	return blob.Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}
}

// notFound turns "no such file" (also when a parent is a file, not a folder)
// into blob.ErrNotFound and passes other errors on.
func notFound(key string, err error) error {
	if errors.Is(err, iofs.ErrNotExist) || errors.Is(err, errNotDir) {
		return fmt.Errorf("%w: %s", blob.ErrNotFound, key)
	}
	return fmt.Errorf("blob/fs: %w", err)
}
