package gitstore

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// LFSOpener opens the bytes of an LFS object by its SHA-256.
type LFSOpener func(ctx context.Context, oid string) (io.ReadSeekCloser, int64, error)

// WriteEntry writes the file e to path: its blob, or for an LFS pointer
// the object's bytes through open (nil: the pointer itself).
func (r *Repo) WriteEntry(ctx context.Context, e Entry, path string, open LFSOpener) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	var src io.ReadCloser
	if p, ok := r.Pointer(e); ok && open != nil {
		f, _, err := open(ctx, p.OID)
		if err != nil {
			return err
		}
		src = f
	} else {
		rc, _, err := r.Blob(e.OID)
		if err != nil {
			return err
		}
		src = rc
	}
	defer src.Close()
	mode := os.FileMode(0o644)
	if e.Mode == 0o100755 {
		mode = 0o755
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Checkout writes every file of commit into the folder dst, which must
// not exist yet. It is built beside dst under a temporary name and renamed
// when whole, so that a checkout is complete or absent, never half there.
func (r *Repo) Checkout(ctx context.Context, commit, dst string, open LFSOpener) error {
	entries, err := r.List(commit, "", true)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dst), ".checkout-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, e := range entries {
		if e.Type != TypeFile {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := r.WriteEntry(ctx, e, filepath.Join(tmp, filepath.FromSlash(e.Path)), open); err != nil {
			return fmt.Errorf("checking out %s: %w", e.Path, err)
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}
