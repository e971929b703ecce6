// Package backup copies the data folder of a Haven that runs on its
// embedded defaults (SQLite, bare git repositories and large files on local
// disk) into a backup folder, restores such a backup into an empty data
// folder, and checks a data folder for inconsistencies (Doctor).
//
// A backup is taken while the server runs:
//
//   - the database with VACUUM INTO, which reads one consistent snapshot;
//   - then each git repository: its refs are read first, its objects copied
//     next (git writes objects before the refs that point to them, so every
//     object the saved refs reach is there), and the saved refs written into
//     the copy last; a copy whose refs miss objects (a repack ran meanwhile)
//     copies the objects again;
//   - then the blob store folder: hard links where the backup is on the same
//     file system, copies otherwise (content-addressed files never change);
//   - secret.key;
//   - manifest.json last, listing every file with its size and, for the
//     files whose name is not already their hash, its SHA-256. A folder
//     without a manifest is an unfinished backup.
package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/havenhub/haven/meta"
)

// ManifestName is the file that describes a finished backup.
const ManifestName = "manifest.json"

// Format is the manifest's format version.
const Format = 1

// Manifest describes a backup.
type Manifest struct {
	Format  int       `json:"format"`
	Created time.Time `json:"created"`
	Source  string    `json:"source"` // the data folder it was taken from
	Repos   int       `json:"repos"`
	Files   []File    `json:"files"`
	Bytes   int64     `json:"bytes"`
	Linked  int       `json:"linked"` // files hard-linked rather than copied
}

// File is one file of a backup, by its slash-separated path in the folder.
type File struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"` // empty for content-addressed files
}

// Options configure a backup.
type Options struct {
	Data string      // the live data folder
	Meta *meta.Store // its open SQLite database
	Log  io.Writer   // progress lines; nil for none
}

// Backup writes a backup of the data folder into dest, which must not exist
// or be empty.
func Backup(ctx context.Context, o Options, dest string) (*Manifest, error) {
	if err := emptyDir(dest); err != nil {
		return nil, err
	}
	c := &copier{log: o.Log}
	if c.log == nil {
		c.log = io.Discard
	}
	m := &Manifest{Format: Format, Created: time.Now().UTC(), Source: o.Data}

	// The database first: repositories created after it are left out, and
	// every repository it lists is copied below (one deleted meanwhile
	// shows as missing in Doctor).
	fmt.Fprintln(c.log, "database: snapshot")
	if err := o.Meta.Snapshot(ctx, filepath.Join(dest, "haven.db")); err != nil {
		return nil, fmt.Errorf("database snapshot: %w", err)
	}
	if err := c.record(dest, "haven.db", true); err != nil {
		return nil, err
	}

	repos, err := listRepos(filepath.Join(o.Data, "repos"))
	if err != nil {
		return nil, err
	}
	for _, rel := range repos {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fmt.Fprintln(c.log, "git:", rel)
		if err := c.copyRepo(ctx, filepath.Join(o.Data, "repos", rel), dest, filepath.ToSlash(filepath.Join("repos", rel))); err != nil {
			return nil, fmt.Errorf("copying repository %s: %w", rel, err)
		}
		m.Repos++
	}

	fmt.Fprintln(c.log, "blobs")
	err = c.copyTree(ctx, filepath.Join(o.Data, "blobs"), dest, "blobs", func(rel string) bool {
		return rel != "blobs/tmp" && !strings.HasPrefix(path0(rel), ".")
	}, false)
	if err != nil {
		return nil, fmt.Errorf("copying the blob store: %w", err)
	}

	if _, err := os.Stat(filepath.Join(o.Data, "secret.key")); err == nil {
		if err := c.copyFile(filepath.Join(o.Data, "secret.key"), dest, "secret.key", true, 0o600); err != nil {
			return nil, err
		}
	}

	m.Files, m.Linked = c.files, c.linked
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Path < m.Files[j].Path })
	for _, f := range m.Files {
		m.Bytes += f.Size
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeFileSync(filepath.Join(dest, ManifestName), append(data, '\n'), 0o644); err != nil {
		return nil, err
	}
	return m, nil
}

// path0 returns the last element of a slash-separated path.
func path0(rel string) string { return rel[strings.LastIndexByte(rel, '/')+1:] }

// listRepos returns the bare repositories under root as
// {type}/{namespace}/{name}.git paths.
func listRepos(root string) ([]string, error) {
	var out []string
	types, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for _, t := range types {
		if !t.IsDir() || strings.HasPrefix(t.Name(), ".") {
			continue
		}
		nss, err := os.ReadDir(filepath.Join(root, t.Name()))
		if err != nil {
			return nil, err
		}
		for _, ns := range nss {
			if !ns.IsDir() || strings.HasPrefix(ns.Name(), ".") {
				continue
			}
			names, err := os.ReadDir(filepath.Join(root, t.Name(), ns.Name()))
			if err != nil {
				return nil, err
			}
			for _, n := range names {
				if n.IsDir() && strings.HasSuffix(n.Name(), ".git") && !strings.HasPrefix(n.Name(), ".") {
					out = append(out, filepath.Join(t.Name(), ns.Name(), n.Name()))
				}
			}
		}
	}
	return out, nil
}

// copier copies files into a backup or a data folder, hard-linking where
// it can, and records what it wrote.
type copier struct {
	log     io.Writer
	files   []File
	linked  int
	noLinks bool // a link failed across file systems: copy from now on
}

// record adds the file at dest/rel to the list, hashing it when hash is set.
func (c *copier) record(dest, rel string, hash bool) error {
	p := filepath.Join(dest, filepath.FromSlash(rel))
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	f := File{Path: rel, Size: fi.Size()}
	if hash {
		if f.SHA256, err = hashFile(p); err != nil {
			return err
		}
	}
	c.files = append(c.files, f)
	return nil
}

// copyFile puts src at dest/rel, as a hard link when link is set and the
// file systems allow it, else as a copy synced to disk.
func (c *copier) copyFile(src, dest, rel string, hash bool, perm fs.FileMode) error {
	dst := filepath.Join(dest, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := copyBytes(src, dst, perm); err != nil {
		return err
	}
	return c.record(dest, rel, hash)
}

// linkOrCopy hard-links src to dest/rel, or copies it when linking fails.
func (c *copier) linkOrCopy(src, dest, rel string, hash bool) error {
	dst := filepath.Join(dest, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if !c.noLinks {
		err := os.Link(src, dst)
		if err == nil {
			c.linked++
			return c.record(dest, rel, hash)
		}
		if errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if errors.Is(err, syscall.EXDEV) || errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EMLINK) {
			c.noLinks = errors.Is(err, syscall.EXDEV)
		} else if !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	if err := copyBytes(src, dst, fi.Mode().Perm()); err != nil {
		return err
	}
	return c.record(dest, rel, hash)
}

// copyTree links or copies every regular file under srcRoot into
// dest/rel, skipping paths keep refuses and files that vanish meanwhile
// (deleted by garbage collection while the copy ran).
func (c *copier) copyTree(ctx context.Context, srcRoot, dest, rel string, keep func(rel string) bool, hash bool) error {
	return filepath.WalkDir(srcRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		sub, err := filepath.Rel(srcRoot, p)
		if err != nil {
			return err
		}
		r := rel
		if sub != "." {
			r = rel + "/" + filepath.ToSlash(sub)
		}
		if keep != nil && !keep(r) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		err = c.linkOrCopy(p, dest, r, hash)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	})
}

// copyRepo copies the bare repository src into dest/rel consistently with
// a concurrent push: refs read first, objects copied, refs written last.
func (c *copier) copyRepo(ctx context.Context, src, dest, rel string) error {
	refs, err := git(ctx, src, "for-each-ref", "--format=%(objectname) %(refname)")
	if err != nil {
		return err
	}
	head, err := os.ReadFile(filepath.Join(src, "HEAD"))
	if err != nil {
		return err
	}
	dstRepo := filepath.Join(dest, filepath.FromSlash(rel))
	// Everything but the objects and the refs: config, description, info.
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		switch n := e.Name(); {
		case n == "objects" || n == "refs" || n == "packed-refs" || n == "HEAD":
		case strings.HasSuffix(n, ".lock"):
		case e.IsDir():
			if err := c.copyFileTree(filepath.Join(src, n), dest, rel+"/"+n); err != nil {
				return err
			}
		case e.Type().IsRegular():
			if err := c.copyFile(filepath.Join(src, n), dest, rel+"/"+n, true, 0o644); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	for _, d := range []string{"objects", "refs/heads", "refs/tags"} {
		if err := os.MkdirAll(filepath.Join(dstRepo, filepath.FromSlash(d)), 0o755); err != nil {
			return err
		}
	}
	// Objects: loose objects and packs never change once written. A repack
	// during the copy may move objects into a pack that appeared after the
	// walk passed by; then the check below fails and another pass picks up
	// what is new.
	copied := map[string]bool{}
	copyObjects := func() error {
		return filepath.WalkDir(filepath.Join(src, "objects"), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if !d.Type().IsRegular() || strings.HasPrefix(d.Name(), "tmp_") || strings.HasPrefix(d.Name(), ".tmp") {
				return nil
			}
			sub, _ := filepath.Rel(src, p)
			r := rel + "/" + filepath.ToSlash(sub)
			if copied[r] {
				return nil
			}
			// objects/info/* (alternates, packs) is small and rewritten in
			// place: copy it rather than link it.
			if strings.HasPrefix(filepath.ToSlash(sub), "objects/info/") {
				err = c.copyFile(p, dest, r, false, 0o644)
			} else {
				err = c.linkOrCopy(p, dest, r, false)
			}
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			copied[r] = err == nil
			return err
		})
	}
	// The saved refs, as a packed-refs file.
	var packed bytes.Buffer
	packed.WriteString("# pack-refs with: peeled fully-peeled sorted \n")
	lines := strings.Split(strings.TrimSpace(string(refs)), "\n")
	sort.Strings(lines)
	var tips []string
	for _, l := range lines {
		oid, name, ok := strings.Cut(l, " ")
		if !ok {
			continue
		}
		packed.WriteString(oid + " " + name + "\n")
		tips = append(tips, oid)
	}
	// HEAD (a symbolic ref) now, so that git sees a repository.
	if err := writeFileSync(filepath.Join(dstRepo, "HEAD"), head, 0o644); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		if err := copyObjects(); err != nil {
			return err
		}
		err := checkObjects(ctx, dstRepo, tips)
		if err == nil {
			break
		}
		if attempt == 2 {
			return err
		}
	}
	if err := writeFileSync(filepath.Join(dstRepo, "packed-refs"), packed.Bytes(), 0o644); err != nil {
		return err
	}
	if err := c.record(dest, rel+"/packed-refs", true); err != nil {
		return err
	}
	return c.record(dest, rel+"/HEAD", true)
}

// copyFileTree copies (never links) the small files under src.
func (c *copier) copyFileTree(src, dest, rel string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		sub, _ := filepath.Rel(src, p)
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		err = c.copyFile(p, dest, rel+"/"+filepath.ToSlash(sub), true, fi.Mode().Perm())
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	})
}

// checkObjects checks that the full history of every tip is in the
// repository at dir, its trees and blobs included.
func checkObjects(ctx context.Context, dir string, tips []string) error {
	if len(tips) == 0 {
		return nil
	}
	cmd := exec.CommandContext(ctx, "git", "rev-list", "--objects", "--quiet", "--stdin")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_DIR="+dir)
	cmd.Stdin = strings.NewReader(strings.Join(tips, "\n") + "\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("objects missing in the copy: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// git runs a git command in the bare repository dir and returns its output.
func git(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_DIR="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// emptyDir creates dir if it does not exist and fails unless it is empty.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("%s is not empty", dir)
	}
	return nil
}

func hashFile(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// copyBytes copies src to dst through a temporary file, synced, renamed.
func copyBytes(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".partial"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Sync(); err != nil {
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

func writeFileSync(p string, data []byte, perm fs.FileMode) error {
	tmp := p + ".partial"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}
