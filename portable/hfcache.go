package portable

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/lfs"
)

// regularFileMax is the largest file the Hub keeps outside LFS.
const regularFileMax = 10 << 20

// cacheFile is one file of a snapshot.
type cacheFile struct {
	path string // in the repository
	file string // on disk, symlinks resolved
	etag string // the blob's name in the cache: a git blob id, or the SHA-256 of an LFS file
	size int64
	oid  string // SHA-256 when the file goes to LFS
}

// openCache turns a huggingface_hub cache folder (models--ns--name with
// blobs/, snapshots/<commit>/ and refs/<branch>) into a temporary git
// repository: one commit per snapshot, in the order the snapshots were
// downloaded and the default branch's last, each holding the snapshot's
// files. Files the Hub kept in LFS (their blob is named by a SHA-256), or
// that its rules send there (.gitattributes, or the Hub's default rules when
// the snapshot has none; 10 MiB and more; binary), become LFS pointers.
func openCache(ctx context.Context, dir string, typ haven.RepoType) (src *source, err error) {
	src = &source{kind: "huggingface_hub cache"}
	if t, id, ok := parseCacheName(filepath.Base(dir)); ok {
		src.typ, src.id = t, id
	}
	if typ == "" {
		typ = src.typ
	}
	if typ == "" {
		typ = haven.Model
	}
	snaps, err := os.ReadDir(filepath.Join(dir, "snapshots"))
	if err != nil {
		return nil, err
	}
	refs, err := cacheRefs(dir)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "haven-import-")
	if err != nil {
		return nil, err
	}
	src.cleanup = func() { os.RemoveAll(tmp) }
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	src.gitDir = filepath.Join(tmp, "repo.git")
	if _, err := git(ctx, "", nil, nil, "init", "--quiet", "--bare", "--template=", "--initial-branch=main", src.gitDir); err != nil {
		return nil, err
	}

	// Order: by download time, the default branch's snapshot last so that
	// every other one is in its history.
	type snapshot struct {
		commit string
		mtime  int64
		isHead bool
	}
	var order []snapshot
	for _, e := range snaps {
		if !e.IsDir() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, err
		}
		order = append(order, snapshot{commit: e.Name(), mtime: info.ModTime().Unix(), isHead: refs["refs/heads/main"] == e.Name()})
	}
	if len(order) == 0 {
		return nil, fmt.Errorf("%s has no snapshot to import", dir)
	}
	sort.Slice(order, func(i, j int) bool {
		a, b := order[i], order[j]
		if a.isHead != b.isHead {
			return b.isHead
		}
		if a.mtime != b.mtime {
			return a.mtime < b.mtime
		}
		return a.commit < b.commit
	})
	objects := map[string]string{} // oid → file
	rebuilt := map[string]string{} // Hub commit → new commit
	parent := ""
	for _, s := range order {
		files, err := snapshotFiles(filepath.Join(dir, "snapshots", s.commit), filepath.Join(dir, "blobs"))
		if err != nil {
			return nil, err
		}
		tree, err := buildSnapshotTree(ctx, src.gitDir, tmp, typ, files)
		if err != nil {
			return nil, fmt.Errorf("snapshot %s: %w", s.commit, err)
		}
		for _, f := range files {
			if f.oid != "" {
				objects[f.oid] = f.file
			}
		}
		args := []string{"commit-tree", tree, "-m", "Snapshot of " + s.commit + " from the huggingface_hub cache"}
		if parent != "" {
			args = append(args, "-p", parent)
		}
		out, err := git(ctx, src.gitDir, nil, signature(unixTime(s.mtime)), args...)
		if err != nil {
			return nil, err
		}
		parent = strings.TrimSpace(string(out))
		rebuilt[s.commit] = parent
	}
	for name, commit := range refs {
		if c, ok := rebuilt[commit]; ok {
			src.refs = append(src.refs, ref{Name: name, Target: c})
		}
	}
	if refs["refs/heads/main"] == "" || rebuilt[refs["refs/heads/main"]] == "" {
		// No snapshot of main: main is the last snapshot.
		src.refs = append(src.refs, ref{Name: "refs/heads/main", Target: parent})
	}
	sort.Slice(src.refs, func(i, j int) bool { return src.refs[i].Name < src.refs[j].Name })
	src.head = "main"
	src.object = func(oid string) string { return objects[oid] }
	return src, nil
}

// parseCacheName reads "models--ns--name" (or datasets--, spaces--).
func parseCacheName(base string) (haven.RepoType, haven.RepoID, bool) {
	parts := strings.Split(base, "--")
	if len(parts) != 3 {
		return "", haven.RepoID{}, false
	}
	t, err := haven.ParseRepoType(parts[0])
	if err != nil || !strings.HasSuffix(parts[0], "s") || !haven.ValidName(parts[1]) || !haven.ValidName(parts[2]) {
		return "", haven.RepoID{}, false
	}
	return t, haven.RepoID{Namespace: parts[1], Name: parts[2]}, true
}

// cacheRefs reads refs/: "main" names a branch, "refs/pr/1" a full ref.
func cacheRefs(dir string) (map[string]string, error) {
	refs := map[string]string{}
	root := filepath.Join(dir, "refs")
	if !exists(root) {
		return refs, nil
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if !strings.HasPrefix(name, "refs/") {
			name = "refs/heads/" + name
		}
		for _, ns := range importRefs {
			if strings.HasPrefix(name, ns) {
				refs[name] = strings.TrimSpace(string(b))
			}
		}
		return nil
	})
	return refs, err
}

// snapshotFiles lists the files of one snapshot, following its links into
// blobs/.
func snapshotFiles(snap, blobs string) ([]cacheFile, error) {
	var files []cacheFile
	err := filepath.WalkDir(snap, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(snap, p)
		if err != nil {
			return err
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			return fmt.Errorf("%s: %w (an interrupted download?)", p, err)
		}
		fi, err := os.Stat(real)
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", p)
		}
		f := cacheFile{path: filepath.ToSlash(rel), file: real, size: fi.Size()}
		if filepath.Dir(real) == blobs || sameDir(filepath.Dir(real), blobs) {
			f.etag = filepath.Base(real)
		}
		files = append(files, f)
		return nil
	})
	sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })
	return files, err
}

func sameDir(a, b string) bool {
	ra, err1 := filepath.EvalSymlinks(a)
	rb, err2 := filepath.EvalSymlinks(b)
	return err1 == nil && err2 == nil && ra == rb
}

// buildSnapshotTree writes the blobs and trees of a snapshot into gitDir
// and returns the root tree. LFS files get their SHA-256 (cacheFile.oid)
// and a pointer in the tree; .gitattributes gets a rule for any of them
// its rules do not cover.
func buildSnapshotTree(ctx context.Context, gitDir, tmp string, typ haven.RepoType, files []cacheFile) (string, error) {
	attrs := lfs.DefaultAttributes(typ)
	attrsAt := -1
	for i, f := range files {
		if f.path == ".gitattributes" {
			b, err := os.ReadFile(f.file)
			if err != nil {
				return "", err
			}
			attrs, attrsAt = b, i
		}
	}
	rules := lfs.ParseAttributes(attrs)
	newAttrs := attrs
	// What goes into git, by path: a file on disk or bytes.
	type entry struct {
		file    string
		content []byte
		etag    string // checked against the git blob id when 40 hex digits
	}
	entries := map[string]entry{}
	for i := range files {
		f := &files[i]
		if f.path == ".gitattributes" {
			continue
		}
		if isSHA256(f.etag) || rules.LFS(f.path) || f.size >= regularFileMax || looksBinary(f.file) {
			sum, err := fileSHA256(f.file)
			if err != nil {
				return "", err
			}
			if isSHA256(f.etag) && sum != f.etag {
				return "", fmt.Errorf("%s has SHA-256 %s, not the %s its blob is named by: the cache is damaged", f.path, sum, f.etag)
			}
			f.oid = sum
			newAttrs = lfs.WithPattern(newAttrs, f.path)
			entries[f.path] = entry{content: lfs.Pointer{OID: sum, Size: f.size}.Bytes()}
			continue
		}
		entries[f.path] = entry{file: f.file, etag: f.etag}
	}
	if attrsAt < 0 || !bytes.Equal(newAttrs, attrs) {
		entries[".gitattributes"] = entry{content: newAttrs}
	} else {
		entries[".gitattributes"] = entry{file: files[attrsAt].file, etag: files[attrsAt].etag}
	}

	// Write every blob in one git hash-object: contents go through files.
	paths := make([]string, 0, len(entries))
	for p := range entries {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var list strings.Builder
	for i, p := range paths {
		e := entries[p]
		name := e.file
		if name == "" {
			name = filepath.Join(tmp, fmt.Sprintf("content-%d", i))
			if err := os.WriteFile(name, e.content, 0o644); err != nil {
				return "", err
			}
		}
		list.WriteString(name + "\n")
	}
	out, err := git(ctx, gitDir, strings.NewReader(list.String()), nil, "hash-object", "-w", "--no-filters", "--stdin-paths")
	if err != nil {
		return "", err
	}
	ids := strings.Fields(string(out))
	if len(ids) != len(paths) {
		return "", fmt.Errorf("git hash-object wrote %d blobs for %d files", len(ids), len(paths))
	}
	root := &treeNode{}
	for i, p := range paths {
		if e := entries[p]; len(e.etag) == 40 && e.etag != ids[i] {
			return "", fmt.Errorf("%s is git blob %s, not the %s its blob is named by: the cache is damaged", p, ids[i], e.etag)
		}
		if err := root.add(strings.Split(p, "/"), ids[i]); err != nil {
			return "", err
		}
	}
	return root.write(ctx, gitDir)
}

// treeNode is a folder of a tree being built.
type treeNode struct {
	blobs map[string]string
	dirs  map[string]*treeNode
}

func (n *treeNode) add(parts []string, blobID string) error {
	for _, p := range parts {
		if p == "" || p == "." || p == ".." || p == ".git" {
			return fmt.Errorf("invalid path segment %q in %s", p, path.Join(parts...))
		}
	}
	if n.blobs == nil {
		n.blobs, n.dirs = map[string]string{}, map[string]*treeNode{}
	}
	if len(parts) == 1 {
		n.blobs[parts[0]] = blobID
		return nil
	}
	d := n.dirs[parts[0]]
	if d == nil {
		d = &treeNode{}
		n.dirs[parts[0]] = d
	}
	return d.add(parts[1:], blobID)
}

func (n *treeNode) write(ctx context.Context, gitDir string) (string, error) {
	var b strings.Builder
	for name, id := range n.blobs {
		fmt.Fprintf(&b, "100644 blob %s\t%s\n", id, name)
	}
	for name, d := range n.dirs {
		id, err := d.write(ctx, gitDir)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "040000 tree %s\t%s\n", id, name)
	}
	// git mktree sorts the entries itself.
	out, err := git(ctx, gitDir, strings.NewReader(b.String()), nil, "mktree")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

func isSHA256(s string) bool { return lfs.ValidOID(s) }

// looksBinary applies the Hub's preupload test: a NUL byte in the first
// 512 bytes.
func looksBinary(file string) bool {
	f, err := os.Open(file)
	if err != nil {
		return false
	}
	defer f.Close()
	buf := make([]byte, 512)
	n, _ := io.ReadFull(f, buf)
	return bytes.IndexByte(buf[:n], 0) >= 0
}

func fileSHA256(file string) (string, error) {
	f, err := os.Open(file)
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
