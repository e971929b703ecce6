package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ReadManifest reads the manifest of the backup in dir.
func ReadManifest(dir string) (*Manifest, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s has no %s: not a backup, or an unfinished one", dir, ManifestName)
	}
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestName, err)
	}
	if m.Format != Format {
		return nil, fmt.Errorf("%s: format %d, this haven reads format %d", ManifestName, m.Format, Format)
	}
	return &m, nil
}

// Verify checks every file of the backup in dir against its manifest: it
// exists, has its size and, where the manifest has one, its SHA-256.
func Verify(ctx context.Context, dir string, m *Manifest) error {
	var bad []string
	for _, f := range m.Files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := checkRel(f.Path); err != nil {
			return err
		}
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		fi, err := os.Stat(p)
		switch {
		case err != nil:
			bad = append(bad, f.Path+": "+err.Error())
		case fi.Size() != f.Size:
			bad = append(bad, fmt.Sprintf("%s: %d bytes, the manifest says %d", f.Path, fi.Size(), f.Size))
		case f.SHA256 != "":
			h, err := hashFile(p)
			if err != nil {
				bad = append(bad, f.Path+": "+err.Error())
			} else if h != f.SHA256 {
				bad = append(bad, f.Path+": SHA-256 differs from the manifest")
			}
		}
	}
	if len(bad) > 0 {
		if len(bad) > 20 {
			bad = append(bad[:20], fmt.Sprintf("… and %d more", len(bad)-20))
		}
		return fmt.Errorf("the backup is damaged:\n  %s", strings.Join(bad, "\n  "))
	}
	return nil
}

// checkRel refuses manifest paths that would leave the folder.
func checkRel(rel string) error {
	if rel == "" || strings.HasPrefix(rel, "/") || strings.Contains("/"+rel+"/", "/../") || strings.Contains(rel, "\\") {
		return fmt.Errorf("%s: bad path %q", ManifestName, rel)
	}
	return nil
}

// Restore verifies the backup in src and puts its files into the data
// folder data, which must not exist or be empty. Files are hard-linked
// where both are on one file system (none of them is ever changed in
// place: the database is the exception, and it is always copied).
func Restore(ctx context.Context, src, data string, log io.Writer) (*Manifest, error) {
	if log == nil {
		log = io.Discard
	}
	if entries, err := os.ReadDir(data); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%s is not empty: restore only into a new or empty data folder", data)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	m, err := ReadManifest(src)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "verifying %d files\n", len(m.Files))
	if err := Verify(ctx, src, m); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	c := &copier{log: log}
	for _, f := range m.Files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p := filepath.Join(src, filepath.FromSlash(f.Path))
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		// The database and the small mutable files of git repositories
		// (config, refs) are copied, content-addressed files linked.
		if f.SHA256 != "" {
			err = c.copyFile(p, data, f.Path, false, fi.Mode().Perm())
		} else {
			err = c.linkOrCopy(p, data, f.Path, false)
		}
		if err != nil {
			return nil, fmt.Errorf("restoring %s: %w", f.Path, err)
		}
	}
	// Empty folders git expects.
	for _, f := range m.Files {
		if rel, ok := strings.CutSuffix(f.Path, "/HEAD"); ok && strings.HasPrefix(rel, "repos/") {
			for _, d := range []string{"refs/heads", "refs/tags", "objects"} {
				if err := os.MkdirAll(filepath.Join(data, filepath.FromSlash(rel), d), 0o755); err != nil {
					return nil, err
				}
			}
		}
	}
	if err := os.MkdirAll(filepath.Join(data, "blobs"), 0o755); err != nil {
		return nil, err
	}
	return m, nil
}
