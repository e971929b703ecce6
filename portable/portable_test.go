package portable

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/gitstore"
	"github.com/havenhub/haven/internal/storetest"
	"github.com/havenhub/haven/lfs"
	"github.com/havenhub/haven/xet"
	"github.com/havenhub/haven/xet/casstore"
)

// hub is one Haven's stores with the user alice.
type hub struct {
	*storetest.Stores
	st Stores
}

func newHub(t *testing.T, users ...string) *hub {
	t.Helper()
	s := storetest.Open(t)
	h := &hub{Stores: s, st: Stores{Meta: s.Meta, Git: s.Git, Blobs: s.Blobs}}
	for _, u := range users {
		if err := s.Meta.CreateUser(context.Background(), &haven.User{Name: u}, ""); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.NewChaCha8([32]byte{byte(seed), 9})
	b := make([]byte, n)
	r.Read(b)
	return b
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func pointerOp(path string, data []byte) gitstore.Op {
	return gitstore.Op{Kind: gitstore.OpPut, Path: path, Content: lfs.Pointer{OID: sha(data), Size: int64(len(data))}.Bytes()}
}

// putXet stores data through Xet only, as a Xet client uploads it.
func putXet(t *testing.T, blobs blob.Driver, data []byte) {
	t.Helper()
	var chunks [][]byte
	rest := data
	for _, n := range xet.Chunks(data) {
		chunks = append(chunks, rest[:n])
		rest = rest[n:]
	}
	xorb, xh := xet.EncodeXorb(chunks)
	xi := xet.XorbInfo{Hash: xh}
	var refs []xet.ChunkRef
	var hashes []xet.Hash
	for _, c := range chunks {
		h := xet.ChunkHash(c)
		xi.Chunks = append(xi.Chunks, xet.XorbInfoChunk{Hash: h, Offset: xi.BytesInXorb, Size: uint32(len(c))})
		xi.BytesInXorb += uint32(len(c))
		refs = append(refs, xet.ChunkRef{Hash: h, Size: uint64(len(c))})
		hashes = append(hashes, h)
	}
	sum, _ := xet.ParseHash(sha(data))
	shard := &xet.Shard{
		Files: []xet.FileInfo{{
			Hash:      xet.FileHash(refs),
			Terms:     []xet.FileTerm{{Xorb: xh, Size: xi.BytesInXorb, End: uint32(len(chunks)), Verification: xet.VerificationHash(hashes)}},
			Verified:  true,
			SHA256:    sum,
			HasSHA256: true,
		}},
		Xorbs: []xet.XorbInfo{xi},
	}
	cas := casstore.New(blobs)
	ctx := context.Background()
	if _, err := cas.PutXorb(ctx, xh, bytes.NewReader(xorb)); err != nil {
		t.Fatal(err)
	}
	if _, err := cas.PutShard(ctx, bytes.NewReader(shard.MarshalUpload())); err != nil {
		t.Fatal(err)
	}
}

// fixture is what makeRepo stored.
var (
	weights = randomBytes(1, 200<<10)
	xetFile = randomBytes(2, 300<<10)
	devFile = randomBytes(3, 50<<10)
)

// makeRepo creates alice/tiny with history on main, a branch, an
// annotated tag, a pull request ref and a parquet conversion ref; one LFS
// file is stored through Xet only.
func makeRepo(t *testing.T, h *hub) {
	t.Helper()
	ctx := context.Background()
	repo := &haven.Repo{Type: haven.Model, Namespace: "alice", Name: "tiny", Private: true}
	if err := h.Meta.CreateRepo(ctx, repo); err != nil {
		t.Fatal(err)
	}
	if err := h.Git.Init(ctx, repo.Type, repo.RepoID()); err != nil {
		t.Fatal(err)
	}
	g, err := h.Git.Open(ctx, repo.Type, repo.RepoID())
	if err != nil {
		t.Fatal(err)
	}
	for oid, data := range map[string][]byte{sha(weights): weights, sha(devFile): devFile} {
		if err := blob.PutVerified(ctx, h.Blobs, blob.LFSKey(oid), bytes.NewReader(data), oid, int64(len(data))); err != nil {
			t.Fatal(err)
		}
	}
	putXet(t, h.Blobs, xetFile)
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	commit := func(ref string, create bool, start string, ops ...gitstore.Op) string {
		t.Helper()
		when = when.Add(time.Minute)
		c, err := g.Commit(ctx, gitstore.CommitRequest{Ref: ref, CreateRef: create, StartPoint: start, Title: "change " + ref,
			Author: gitstore.Signature{Name: "Alice", Email: "alice@example.test", When: when}, Ops: ops})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	first := commit("refs/heads/main", true, "",
		gitstore.Op{Kind: gitstore.OpPut, Path: ".gitattributes", Content: lfs.DefaultAttributes(haven.Model)},
		gitstore.Op{Kind: gitstore.OpPut, Path: "README.md", Content: []byte("---\nlicense: mit\ntags: [tiny]\n---\n# Tiny\n")},
		pointerOp("weights.bin", weights))
	second := commit("refs/heads/main", false, "", pointerOp("sub/xet.bin", xetFile), gitstore.Op{Kind: gitstore.OpPut, Path: "config.json", Content: []byte(`{"a":1}`)})
	commit("refs/heads/dev", true, first, pointerOp("dev.bin", devFile))
	if err := g.CreateTag(ctx, "v1", second, "first release", gitstore.Signature{Name: "Alice", Email: "alice@example.test", When: when}); err != nil {
		t.Fatal(err)
	}
	commit("refs/pr/1", true, second, gitstore.Op{Kind: gitstore.OpPut, Path: "notes.txt", Content: []byte("proposal\n")})
	commit("refs/convert/parquet", true, "", gitstore.Op{Kind: gitstore.OpPut, Path: "default/train/0000.parquet", Content: []byte("PAR1")})
}

func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// exportTree is everything of an export but its manifest's time and
// version: refs, objects of the git repository, LFS files.
func exportTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(gitOut(t, dir, "for-each-ref", "--format=%(refname) %(objectname)")), "\n") {
		name, target, _ := strings.Cut(line, " ")
		out["ref "+name] = target
	}
	objs := gitOut(t, dir, "cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(objecttype)")
	for _, line := range strings.Split(strings.TrimSpace(objs), "\n") {
		out["object "+line] = ""
	}
	filepath.WalkDir(filepath.Join(dir, "lfs", "objects"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			out["lfs "+filepath.Base(p)] = sha(b)
		}
		return nil
	})
	out["head"] = strings.TrimSpace(gitOut(t, dir, "symbolic-ref", "HEAD"))
	return out
}

func readManifest(t *testing.T, dir string) Manifest {
	t.Helper()
	var m Manifest
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestPortableExportImportRoundTrip(t *testing.T) {
	ctx := context.Background()
	a := newHub(t, "alice")
	makeRepo(t, a)
	dir1 := filepath.Join(t.TempDir(), "export")
	man, err := Export(ctx, a.st, ExportOptions{Type: haven.Model, ID: haven.RepoID{Namespace: "alice", Name: "tiny"}, Dir: dir1, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if man.ID != "alice/tiny" || man.Type != haven.Model || !man.Private || man.DefaultBranch != "main" || man.HavenVersion != "test" {
		t.Errorf("manifest: %+v", man)
	}
	for _, r := range []string{"refs/heads/main", "refs/heads/dev", "refs/tags/v1", "refs/pr/1", "refs/convert/parquet"} {
		if man.Refs[r] == "" {
			t.Errorf("manifest lacks %s: %v", r, man.Refs)
		}
	}
	if len(man.LFSObjects) != 3 {
		t.Fatalf("manifest lists %d LFS objects, want 3: %+v", len(man.LFSObjects), man.LFSObjects)
	}
	for _, o := range man.LFSObjects {
		if o.SHA256 != o.OID || o.Xet != (o.OID == sha(xetFile)) {
			t.Errorf("manifest object %+v", o)
		}
	}
	if got := readManifest(t, dir1); got.ID != "alice/tiny" || len(got.LFSObjects) != 3 {
		t.Errorf("manifest on disk: %+v", got)
	}
	gitOut(t, dir1, "fsck", "--full", "--strict")
	for _, data := range [][]byte{weights, xetFile, devFile} {
		got, err := os.ReadFile(lfsObjectPath(filepath.Join(dir1, "lfs"), sha(data)))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("LFS object %s in the export: %v", sha(data), err)
		}
	}
	if !strings.Contains(gitOut(t, dir1, "cat-file", "-t", "refs/tags/v1"), "tag") {
		t.Error("the annotated tag lost its tag object")
	}

	// Into another Haven, and out again: the same bytes.
	b := newHub(t, "alice")
	var refreshed []string
	res, err := Import(ctx, b.st, ImportOptions{Dir: dir1, Refresh: func(_ context.Context, r *haven.Repo) error {
		refreshed = append(refreshed, r.FullName())
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Source != "Haven export" || res.Refs != 5 || res.LFSObjects != 3 || res.Stored != 3 || !res.Repo.Private || res.Repo.Type != haven.Model {
		t.Errorf("import result %+v, repo %+v", res, res.Repo)
	}
	if len(refreshed) != 1 || refreshed[0] != "alice/tiny" {
		t.Errorf("refreshed %v", refreshed)
	}
	for _, data := range [][]byte{weights, xetFile, devFile} {
		if _, err := b.Blobs.Stat(ctx, blob.LFSKey(sha(data))); err != nil {
			t.Errorf("LFS object %s not stored: %v", sha(data), err)
		}
	}
	dir2 := filepath.Join(t.TempDir(), "again")
	if _, err := Export(ctx, b.st, ExportOptions{Type: haven.Model, ID: haven.RepoID{Namespace: "alice", Name: "tiny"}, Dir: dir2}); err != nil {
		t.Fatal(err)
	}
	t1, t2 := exportTree(t, dir1), exportTree(t, dir2)
	if len(t1) != len(t2) {
		t.Errorf("exports differ in size: %d and %d entries", len(t1), len(t2))
	}
	for k, v := range t1 {
		if t2[k] != v {
			t.Errorf("second export: %s = %q, first %q", k, t2[k], v)
		}
	}

	// A second import of the same name is refused, the Haven unchanged.
	if _, err := Import(ctx, b.st, ImportOptions{Dir: dir1}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("importing over an existing repository: %v", err)
	}
	// Exports go into new or empty folders only.
	if _, err := Export(ctx, a.st, ExportOptions{Type: haven.Model, ID: haven.RepoID{Namespace: "alice", Name: "tiny"}, Dir: dir1}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("export into a full folder: %v", err)
	}
}

// copyDir copies an export so that a test can damage it.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy")
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	return dst
}

// assertNothing checks that a failed import left no row, git repository or
// LFS object.
func assertNothing(t *testing.T, h *hub, oids ...string) {
	t.Helper()
	ctx := context.Background()
	if _, err := h.Meta.RepoByName(ctx, haven.Model, "alice", "tiny"); err == nil {
		t.Error("a failed import left a repository row")
	}
	if _, err := os.Stat(h.Git.Path(haven.Model, haven.RepoID{Namespace: "alice", Name: "tiny"})); err == nil {
		t.Error("a failed import left a git repository")
	}
	for _, oid := range oids {
		if _, err := h.Blobs.Stat(ctx, blob.LFSKey(oid)); err == nil {
			t.Errorf("a failed import stored %s", oid)
		}
	}
}

func TestPortableImportRefusals(t *testing.T) {
	ctx := context.Background()
	a := newHub(t, "alice")
	makeRepo(t, a)
	dir := filepath.Join(t.TempDir(), "export")
	if _, err := Export(ctx, a.st, ExportOptions{Type: haven.Model, ID: haven.RepoID{Namespace: "alice", Name: "tiny"}, Dir: dir}); err != nil {
		t.Fatal(err)
	}

	t.Run("missing namespace", func(t *testing.T) {
		b := newHub(t)
		_, err := Import(ctx, b.st, ImportOptions{Dir: dir})
		if err == nil || !strings.Contains(err.Error(), `namespace "alice" does not exist`) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("missing LFS object", func(t *testing.T) {
		b := newHub(t, "alice")
		damaged := copyDir(t, dir)
		os.Remove(lfsObjectPath(filepath.Join(damaged, "lfs"), sha(devFile)))
		_, err := Import(ctx, b.st, ImportOptions{Dir: damaged})
		if err == nil || !strings.Contains(err.Error(), sha(devFile)+" (dev.bin)") {
			t.Errorf("err = %v", err)
		}
		assertNothing(t, b, sha(weights), sha(xetFile))
	})
	t.Run("LFS object with other bytes", func(t *testing.T) {
		b := newHub(t, "alice")
		damaged := copyDir(t, dir)
		p := lfsObjectPath(filepath.Join(damaged, "lfs"), sha(xetFile))
		data, _ := os.ReadFile(p)
		data[len(data)/2] ^= 1
		os.Chmod(p, 0o644)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Import(ctx, b.st, ImportOptions{Dir: damaged})
		if err == nil || !strings.Contains(err.Error(), "Hash mismatch") || !strings.Contains(err.Error(), sha(xetFile)) {
			t.Errorf("err = %v", err)
		}
		assertNothing(t, b, sha(xetFile))
	})
	t.Run("under another name and type", func(t *testing.T) {
		b := newHub(t, "alice", "acme")
		res, err := Import(ctx, b.st, ImportOptions{Dir: dir, ID: haven.RepoID{Namespace: "ACME", Name: "copy"}, Type: haven.Dataset})
		if err != nil {
			t.Fatal(err)
		}
		if res.Repo.FullName() != "acme/copy" || res.Repo.Type != haven.Dataset {
			t.Errorf("imported as %s %s", res.Repo.Type, res.Repo.FullName())
		}
	})
}

func TestPortableImportGitClone(t *testing.T) {
	ctx := context.Background()
	work := t.TempDir()
	env := []string{"GIT_AUTHOR_NAME=A", "GIT_AUTHOR_EMAIL=a@example.test", "GIT_COMMITTER_NAME=A", "GIT_COMMITTER_EMAIL=a@example.test",
		"GIT_CONFIG_NOSYSTEM=1", "HOME=" + t.TempDir()}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir, cmd.Env = work, append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run("init", "-q", "-b", "main")
	big := randomBytes(7, 100<<10)
	os.WriteFile(filepath.Join(work, ".gitattributes"), lfs.DefaultAttributes(haven.Model), 0o644)
	os.WriteFile(filepath.Join(work, "model.bin"), lfs.Pointer{OID: sha(big), Size: int64(len(big))}.Bytes(), 0o644)
	os.WriteFile(filepath.Join(work, "README.md"), []byte("---\nlicense: apache-2.0\n---\n"), 0o644)
	run("add", ".")
	run("commit", "-q", "-m", "first")
	head := run("rev-parse", "HEAD")
	// A branch of origin with no local branch comes along.
	run("update-ref", "refs/remotes/origin/feature", head)

	b := newHub(t, "alice")
	_, err := Import(ctx, b.st, ImportOptions{Dir: work, ID: haven.RepoID{Namespace: "alice", Name: "tiny"}})
	if err == nil || !strings.Contains(err.Error(), sha(big)+" (model.bin)") {
		t.Fatalf("import without the LFS object: %v", err)
	}
	if _, err := Import(ctx, b.st, ImportOptions{Dir: work}); err == nil || !strings.Contains(err.Error(), "--as") {
		t.Errorf("import of a git repository without a name: %v", err)
	}
	obj := lfsObjectPath(filepath.Join(work, ".git", "lfs"), sha(big))
	os.MkdirAll(filepath.Dir(obj), 0o755)
	os.WriteFile(obj, big, 0o644)
	res, err := Import(ctx, b.st, ImportOptions{Dir: work, ID: haven.RepoID{Namespace: "alice", Name: "tiny"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Source != "git repository" || res.Refs != 2 || res.Stored != 1 {
		t.Errorf("result %+v", res)
	}
	g, err := b.Git.Open(ctx, haven.Model, haven.RepoID{Namespace: "alice", Name: "tiny"})
	if err != nil {
		t.Fatal(err)
	}
	for _, rev := range []string{"main", "feature"} {
		if got, err := g.Resolve(rev); err != nil || got != head {
			t.Errorf("%s = %s, %v; want %s", rev, got, err, head)
		}
	}
}

// writeCache lays out a huggingface_hub cache folder as snapshot_download
// leaves it and returns its path.
func writeCache(t *testing.T, snapshots map[string]map[string][]byte, refs map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "models--alice--cached")
	when := time.Now().Add(-time.Hour)
	for _, commit := range []string{"1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222"} {
		files, ok := snapshots[commit]
		if !ok {
			continue
		}
		for p, data := range files {
			etag := sha(data)
			if !strings.HasSuffix(p, ".safetensors") {
				cmd := exec.Command("git", "hash-object", "--stdin")
				cmd.Stdin = bytes.NewReader(data)
				out, err := cmd.Output()
				if err != nil {
					t.Fatal(err)
				}
				etag = strings.TrimSpace(string(out))
			}
			blobPath := filepath.Join(dir, "blobs", etag)
			os.MkdirAll(filepath.Dir(blobPath), 0o755)
			os.WriteFile(blobPath, data, 0o644)
			link := filepath.Join(dir, "snapshots", commit, p)
			os.MkdirAll(filepath.Dir(link), 0o755)
			rel, _ := filepath.Rel(filepath.Dir(link), blobPath)
			if err := os.Symlink(rel, link); err != nil {
				t.Fatal(err)
			}
		}
		// Snapshots in download order.
		os.Chtimes(filepath.Join(dir, "snapshots", commit), when, when)
		when = when.Add(time.Minute)
	}
	for name, commit := range refs {
		p := filepath.Join(dir, "refs", name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(commit), 0o644)
	}
	return dir
}

func TestPortableImportCache(t *testing.T) {
	ctx := context.Background()
	tensors := randomBytes(11, 150<<10)
	c1, c2 := "1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222"
	dir := writeCache(t, map[string]map[string][]byte{
		c1: {"config.json": []byte(`{"v":1}`), "README.md": []byte("---\nlicense: mit\n---\n")},
		c2: {"config.json": []byte(`{"v":2}`), "README.md": []byte("---\nlicense: mit\n---\n"), "model.safetensors": tensors,
			"extra/data.dat": append([]byte{0, 1, 2}, randomBytes(12, 4000)...)},
	}, map[string]string{"main": c2, "old": c1})
	b := newHub(t, "alice")
	var refreshed int
	res, err := Import(ctx, b.st, ImportOptions{Dir: dir, Refresh: func(context.Context, *haven.Repo) error { refreshed++; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Repo.FullName() != "alice/cached" || res.Repo.Type != haven.Model || res.Source != "huggingface_hub cache" || res.Refs != 2 || res.Stored != 2 || refreshed != 1 {
		t.Fatalf("result %+v, repo %s", res, res.Repo.FullName())
	}
	g, err := b.Git.Open(ctx, haven.Model, haven.RepoID{Namespace: "alice", Name: "cached"})
	if err != nil {
		t.Fatal(err)
	}
	main, _ := g.Resolve("main")
	old, _ := g.Resolve("old")
	log, total, err := g.Log(main, 0, 10)
	if err != nil || total != 2 || log[1].ID != old || !strings.Contains(log[0].Title, c2) {
		t.Fatalf("history of main: %d commits, %+v, %v (old = %s)", total, log, err, old)
	}
	if got, _ := g.ReadFile(old, "config.json"); string(got) != `{"v":1}` {
		t.Errorf("config.json at old: %q", got)
	}
	for path, data := range map[string][]byte{"model.safetensors": tensors} {
		content, err := g.ReadFile(main, path)
		p, ok := lfs.Parse(content)
		if err != nil || !ok || p.OID != sha(data) {
			t.Errorf("%s is not an LFS pointer to its bytes: %q %v", path, content, err)
		}
		if _, err := b.Blobs.Stat(ctx, blob.LFSKey(sha(data))); err != nil {
			t.Errorf("%s not stored: %v", path, err)
		}
	}
	// The binary file goes to LFS as the Hub would send it, with a rule.
	if content, _ := g.ReadFile(main, "extra/data.dat"); !bytes.HasPrefix(content, []byte("version https://git-lfs")) {
		t.Errorf("extra/data.dat: %q", content)
	}
	attrs, _ := g.ReadFile(main, ".gitattributes")
	if rules := lfs.ParseAttributes(attrs); !rules.LFS("extra/data.dat") || !rules.LFS("model.safetensors") {
		t.Errorf(".gitattributes does not cover the LFS files:\n%s", attrs)
	}

	t.Run("damaged cache", func(t *testing.T) {
		bad := writeCache(t, map[string]map[string][]byte{c1: {"model.safetensors": tensors}}, map[string]string{"main": c1})
		blobFile := filepath.Join(bad, "blobs", sha(tensors))
		data, _ := os.ReadFile(blobFile)
		data[10] ^= 1
		os.WriteFile(blobFile, data, 0o644)
		_, err := Import(ctx, newHub(t, "alice").st, ImportOptions{Dir: bad})
		if err == nil || !strings.Contains(err.Error(), "damaged") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestPortableImportBareRepository(t *testing.T) {
	ctx := context.Background()
	bare := filepath.Join(t.TempDir(), "old.git")
	gitOut(t, "", "init", "-q", "--bare", "-b", "master", bare)
	work := t.TempDir()
	gitOut(t, work, "init", "-q", "-b", "master")
	os.WriteFile(filepath.Join(work, "a.txt"), []byte("a\n"), 0o644)
	gitOut(t, work, "add", ".")
	gitOut(t, work, "-c", "user.name=A", "-c", "user.email=a@example.test", "commit", "-q", "-m", "one")
	gitOut(t, work, "push", "-q", bare, "master", "HEAD:refs/pr/3")
	head := strings.TrimSpace(gitOut(t, work, "rev-parse", "HEAD"))

	b := newHub(t, "alice")
	res, err := Import(ctx, b.st, ImportOptions{Dir: bare, ID: haven.RepoID{Namespace: "alice", Name: "old"}, Type: haven.Space, Private: true})
	if err != nil {
		t.Fatal(err)
	}
	if r := res.Repo; r.DefaultBranch() != "master" || r.Type != haven.Space || !r.Private || res.Refs != 2 {
		t.Errorf("result %+v, repo %+v", res, r)
	}
	g, err := b.Git.Open(ctx, haven.Space, haven.RepoID{Namespace: "alice", Name: "old"})
	if err != nil {
		t.Fatal(err)
	}
	if branch, err := g.DefaultBranch(); err != nil || branch != "master" {
		t.Errorf("HEAD names %q, %v", branch, err)
	}
	if got, err := g.Resolve("refs/pr/3"); err != nil || got != head {
		t.Errorf("refs/pr/3 = %s, %v", got, err)
	}

	shallow := filepath.Join(t.TempDir(), "shallow")
	gitOut(t, "", "clone", "-q", "--depth=1", "file://"+bare, shallow)
	if _, err := Import(ctx, b.st, ImportOptions{Dir: shallow, ID: haven.RepoID{Namespace: "alice", Name: "shallow"}}); err == nil || !strings.Contains(err.Error(), "shallow") {
		t.Errorf("import of a shallow clone: %v", err)
	}
}
