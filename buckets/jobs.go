package buckets

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/meta"
)

// folderPrefix turns a folder of a bucket ("", "a", "a/b/") into the string
// prefix of the paths inside it ("", "a/", "a/b/").
func folderPrefix(folder string) (string, error) {
	folder = strings.Trim(folder, "/")
	if folder == "" {
		return "", nil
	}
	if !haven.ValidBucketPath(folder) {
		return "", haven.Errorf(haven.EInvalid, "Invalid bucket folder %q", folder)
	}
	return folder + "/", nil
}

// Materialize writes every file of the bucket bucketID ("namespace/name")
// under the folder prefix into the local folder dst, as regular files at
// their paths relative to prefix, with their mtimes. The actor must be
// allowed to read the bucket.
func (s *Service) Materialize(ctx context.Context, a *auth.Actor, bucketID, prefix, dst string) error {
	b, err := s.find(ctx, a, bucketID)
	if err != nil {
		return err
	}
	base, err := folderPrefix(prefix)
	if err != nil {
		return err
	}
	files, err := s.meta.BucketFiles(ctx, b.ID, base, "", 0)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		rel := strings.TrimPrefix(f.Path, base)
		if !haven.ValidBucketPath(rel) {
			continue
		}
		if err := s.writeLocal(ctx, f, filepath.Join(dst, filepath.FromSlash(rel))); err != nil {
			return err
		}
	}
	return nil
}

// writeLocal writes a bucket file at p through a temporary file beside it.
func (s *Service) writeLocal(ctx context.Context, f *haven.BucketFile, p string) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	rc, err := s.open(ctx, f)
	if err != nil {
		return err
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(filepath.Dir(p), ".bucket-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, rc); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Chtimes(tmp.Name(), f.MTime, f.MTime); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
}

// SyncBack makes the folder prefix of the bucket bucketID hold what the
// local folder src holds: regular files that are new or changed (by size
// or mtime at millisecond precision) are stored through the Xet CAS, as a
// client would upload them, and files under prefix that src no longer has
// are deleted, in one change of the bucket. Symbolic links and other
// non-regular files are skipped. The actor must be allowed to write the
// bucket.
func (s *Service) SyncBack(ctx context.Context, a *auth.Actor, bucketID, prefix, src string) error {
	b, err := s.find(ctx, a, bucketID)
	if err != nil {
		return err
	}
	if err := auth.CanWriteBucket(a, b); err != nil {
		return err
	}
	base, err := folderPrefix(prefix)
	if err != nil {
		return err
	}
	files, err := s.meta.BucketFiles(ctx, b.ID, base, "", 0)
	if err != nil {
		return err
	}
	old := make(map[string]*haven.BucketFile, len(files))
	for _, f := range files {
		old[f.Path] = f
	}
	var ch meta.BucketChange
	seen := map[string]bool{}
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		name := base + filepath.ToSlash(rel)
		if !haven.ValidBucketPath(name) {
			return haven.Errorf(haven.EInvalid, "Cannot store %q in a bucket: invalid path", rel)
		}
		seen[name] = true
		info, err := d.Info()
		if err != nil {
			return err
		}
		mtime := info.ModTime().Truncate(time.Millisecond)
		if f := old[name]; f != nil && f.Size == info.Size() && f.MTime.Equal(mtime) {
			return nil
		}
		f, err := s.upload(ctx, p)
		if err != nil {
			return err
		}
		f.Path, f.MTime = name, mtime
		ch.Put = append(ch.Put, f)
		return nil
	})
	if err != nil {
		return err
	}
	for _, f := range files {
		if !seen[f.Path] {
			ch.Delete = append(ch.Delete, f.Path)
		}
	}
	if len(ch.Put) == 0 && len(ch.Delete) == 0 {
		return nil
	}
	return s.meta.ChangeBucketFiles(ctx, b.ID, ch)
}

// upload stores a local file in the CAS.
func (s *Service) upload(ctx context.Context, p string) (*haven.BucketFile, error) {
	fh, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	h, size, err := s.putContent(ctx, fh)
	if err != nil {
		return nil, err
	}
	return &haven.BucketFile{XetHash: h.String(), Size: size}, nil
}
