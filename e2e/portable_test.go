package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// refList lists the refs of a git repository as "name target" lines.
func refList(t *testing.T, g *gitEnv, gitDir string) string {
	t.Helper()
	return g.run(t, "", "--git-dir="+gitDir, "for-each-ref", "--format=%(refname) %(objectname)")
}

// lfsFiles maps the oid of every LFS object in an export (or any folder
// laid out as lfs/objects) to the SHA-256 of its bytes.
func lfsFiles(t *testing.T, lfsDir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(filepath.Join(lfsDir, "objects"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out[filepath.Base(p)] = sha256Hex(readFile(t, p))
		}
		return nil
	})
	return out
}

type exportManifest struct {
	Type          string            `json:"type"`
	ID            string            `json:"id"`
	Private       bool              `json:"private"`
	DefaultBranch string            `json:"default_branch"`
	CardData      map[string]any    `json:"card_data"`
	Refs          map[string]string `json:"refs"`
	LFSObjects    []struct {
		OID    string `json:"oid"`
		Size   int64  `json:"size"`
		SHA256 string `json:"sha256"`
		Xet    bool   `json:"xet"`
	} `json:"lfs_objects"`
	HavenVersion string `json:"haven_version"`
}

func readExportManifest(t *testing.T, dir string) exportManifest {
	t.Helper()
	var m exportManifest
	if err := json.Unmarshal(readFile(t, filepath.Join(dir, "haven-export.json")), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestPortable exports a model with history, a branch, an annotated tag, a
// pull request and LFS files (one uploaded through Xet) while the server
// runs; clones the export with git and git-lfs and no server; imports it
// into a fresh server and exports it again, byte for byte the same; then
// imports the huggingface_hub cache that snapshot_download fills from that
// server. A dataset's parquet conversion travels on refs/convert/parquet.
func TestPortable(t *testing.T) {
	g := newGitEnv(t)
	s := startServer(t, serverOpts{})
	f := s.setupAccounts()
	alice := s.api(f.Alice)
	alice.createRepo("model", "alice", "tiny", true)

	// History through git and git-lfs: main, dev, an annotated tag.
	work := filepath.Join(t.TempDir(), "work")
	g.run(t, "", "clone", gitURL(s, "", "alice/tiny", "alice", f.Alice), work)
	want := map[string][]byte{ // LFS files by branch:path
		"main:weights.bin": randomBytes(61, 300<<10),
		"dev:dev.bin":      randomBytes(62, 120<<10),
	}
	writeFile(t, filepath.Join(work, "weights.bin"), want["main:weights.bin"])
	writeFile(t, filepath.Join(work, "README.md"), []byte("---\nlicense: mit\ntags: [portable]\n---\n# Tiny\n"))
	g.run(t, work, "add", ".")
	g.run(t, work, "commit", "-q", "-m", "weights and card")
	g.run(t, work, "push", "-q", "origin", "main")
	g.run(t, work, "checkout", "-q", "-b", "dev")
	writeFile(t, filepath.Join(work, "dev.bin"), want["dev:dev.bin"])
	g.run(t, work, "add", ".")
	g.run(t, work, "commit", "-q", "-m", "dev weights")
	g.run(t, work, "push", "-q", "origin", "dev")
	g.run(t, work, "checkout", "-q", "main")
	g.run(t, work, "tag", "-a", "v1", "-m", "first release")
	g.run(t, work, "push", "-q", "origin", "v1")

	// A file uploaded through Xet, then a pull request.
	cas, tok := alice.xetToken("models", "alice/tiny", "write", "main")
	up := prepareXet(t, randomBytes(63, 2<<20))
	if status, body := casDo(t, "POST", cas+"/v1/xorbs/default/"+up.xorbHash.String(), tok, up.xorb); status != 200 {
		t.Fatalf("xorb: %d %s", status, body)
	}
	if status, body := casDo(t, "POST", cas+"/v1/shards", tok, up.shard.MarshalUpload()); status != 200 {
		t.Fatalf("shard: %d %s", status, body)
	}
	alice.commit("models", "alice/tiny", "main", "add xet weights", commitLine{Key: "lfsFile", Value: map[string]any{
		"path": "xet/weights.bin", "algo": "sha256", "oid": up.sha256Hex, "size": len(up.data)}})
	want["main:xet/weights.bin"] = up.data
	var pr bytes.Buffer
	enc := json.NewEncoder(&pr)
	enc.Encode(commitLine{Key: "header", Value: map[string]any{"summary": "a proposal"}})
	enc.Encode(commitLine{Key: "file", Value: map[string]any{"path": "notes.txt", "encoding": "base64", "content": b64([]byte("proposal\n"))}})
	if resp, body := alice.do("POST", "/api/models/alice/tiny/commit/main?create_pr=1", pr.Bytes(),
		map[string]string{"Content-Type": "application/x-ndjson"}); resp.StatusCode != 200 {
		t.Fatalf("commit with create_pr: %d %s", resp.StatusCode, body)
	}

	// A dataset, which the viewer converts to parquet on refs/convert/parquet.
	alice.createRepo("dataset", "alice", "rows", false)
	var csv strings.Builder
	csv.WriteString("id,text\n")
	for i := 0; i < 50; i++ {
		csv.WriteString(strings.Repeat("x", i%7) + "," + "row\n")
	}
	alice.commit("datasets", "alice/rows", "main", "data", commitLine{Key: "file", Value: map[string]any{
		"path": "data/train.csv", "encoding": "base64", "content": b64([]byte(csv.String()))}})
	converted := false
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		var refs struct {
			Converts []struct{ Ref string } `json:"converts"`
		}
		alice.json("GET", "/api/datasets/alice/rows/refs", nil, http.StatusOK, &refs)
		if len(refs.Converts) > 0 {
			converted = true
			break
		}
	}

	// Export while the server runs.
	exportDir := filepath.Join(t.TempDir(), "tiny-export")
	out := s.admin("export", "alice/tiny", exportDir)
	if !strings.Contains(out, "3 LFS objects") {
		t.Errorf("haven export said: %s", out)
	}
	man := readExportManifest(t, exportDir)
	if man.Type != "model" || man.ID != "alice/tiny" || !man.Private || man.DefaultBranch != "main" || man.CardData["license"] != "mit" || man.HavenVersion == "" {
		t.Errorf("manifest: %+v", man)
	}
	for _, r := range []string{"refs/heads/main", "refs/heads/dev", "refs/tags/v1", "refs/pr/1"} {
		if man.Refs[r] == "" {
			t.Errorf("manifest lacks %s: %v", r, man.Refs)
		}
	}
	xetSeen := false
	for _, o := range man.LFSObjects {
		if o.SHA256 != o.OID {
			t.Errorf("manifest object %+v", o)
		}
		xetSeen = xetSeen || (o.Xet && o.OID == up.sha256Hex)
	}
	if !xetSeen {
		t.Errorf("the Xet file is not marked as rebuilt from Xet: %+v", man.LFSObjects)
	}
	dsExport := filepath.Join(t.TempDir(), "rows-export")
	if converted {
		s.admin("export", "alice/rows", dsExport, "--type", "dataset")
		dm := readExportManifest(t, dsExport)
		if dm.Refs["refs/convert/parquet"] == "" || len(dm.LFSObjects) == 0 {
			t.Errorf("dataset export lacks the parquet conversion: refs %v, %d LFS objects", dm.Refs, len(dm.LFSObjects))
		}
	} else {
		t.Log("the viewer made no parquet conversion within 90 s; the dataset part is skipped")
	}
	s.Stop()

	// No Haven: git clone and git lfs pull from the folder.
	g.run(t, exportDir, "fsck", "--full", "--strict")
	clone := filepath.Join(t.TempDir(), "clone")
	g.runEnv(t, "", []string{"GIT_LFS_SKIP_SMUDGE=1"}, "clone", "-q", "file://"+exportDir, clone)
	g.run(t, clone, "lfs", "pull")
	g.run(t, clone, "fsck", "--full")
	for key, data := range want {
		branch, path, _ := strings.Cut(key, ":")
		g.run(t, clone, "checkout", "-q", branch)
		g.run(t, clone, "lfs", "pull")
		if got := readFile(t, filepath.Join(clone, path)); sha256Hex(got) != sha256Hex(data) {
			t.Errorf("%s in the clone of the export: %d bytes, SHA-256 %s; want %s", key, len(got), sha256Hex(got), sha256Hex(data))
		}
	}
	if tags := g.run(t, clone, "tag"); strings.TrimSpace(tags) != "v1" {
		t.Errorf("tags in the clone: %q", tags)
	}
	if remote := g.run(t, clone, "ls-remote", "origin"); !strings.Contains(remote, "refs/pr/1") {
		t.Errorf("ls-remote of the export lacks refs/pr/1:\n%s", remote)
	}

	// Into a fresh server, and out again, the same.
	s2 := startServer(t, serverOpts{})
	f2 := s2.setupAccounts()
	out = s2.admin("import", exportDir)
	if !strings.Contains(out, "model alice/tiny") || !strings.Contains(out, "3 stored") {
		t.Errorf("haven import said: %s", out)
	}
	imported := filepath.Join(s2.DataDir, "repos", "models", "alice", "tiny.git")
	if a, b := refList(t, g, exportDir), refList(t, g, imported); a != b {
		t.Errorf("refs after import:\n%s\nwant:\n%s", b, a)
	}
	again := filepath.Join(t.TempDir(), "tiny-again")
	s2.admin("export", "alice/tiny", again)
	if a, b := refList(t, g, exportDir), refList(t, g, again); a != b {
		t.Errorf("refs of the second export:\n%s\nwant:\n%s", b, a)
	}
	objects := func(dir string) string {
		return g.run(t, "", "--git-dir="+dir, "cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(objecttype) %(objectsize)")
	}
	if objects(exportDir) != objects(again) {
		t.Error("the second export holds other git objects than the first")
	}
	l1, l2 := lfsFiles(t, filepath.Join(exportDir, "lfs")), lfsFiles(t, filepath.Join(again, "lfs"))
	if len(l1) != 3 || len(l1) != len(l2) {
		t.Errorf("LFS objects: %d in the first export, %d in the second", len(l1), len(l2))
	}
	for oid, sum := range l1 {
		if sum != oid || l2[oid] != sum {
			t.Errorf("LFS object %s: %s in the first export, %s in the second", oid, sum, l2[oid])
		}
	}
	alice2 := s2.api(f2.Alice)
	var info struct {
		SHA      string         `json:"sha"`
		Private  bool           `json:"private"`
		CardData map[string]any `json:"cardData"`
		Tags     []string       `json:"tags"`
	}
	alice2.json("GET", "/api/models/alice/tiny", nil, http.StatusOK, &info)
	if info.SHA != man.Refs["refs/heads/main"] || !info.Private || info.CardData["license"] != "mit" || !strings.Contains(strings.Join(info.Tags, ","), "portable") {
		t.Errorf("repo info after import (metadata not derived?): %+v", info)
	}
	if got, _ := alice2.resolve("", "alice/tiny", "main", "xet/weights.bin"); !bytes.Equal(got, up.data) {
		t.Error("the Xet file downloads with other bytes after import")
	}
	if man2 := readExportManifest(t, again); man2.CardData["license"] != "mit" || !man2.Private {
		t.Errorf("second manifest: %+v", man2)
	}

	// A huggingface_hub cache filled by snapshot_download from that server.
	if err := exec.Command(filepath.Join(repoRoot, ".venv", "bin", "python"), "-c", "import huggingface_hub").Run(); err != nil {
		skipOrFail(t, "huggingface_hub is not installed in .venv")
	}
	cache := filepath.Join(t.TempDir(), "hf-cache")
	py := exec.Command(filepath.Join(repoRoot, ".venv", "bin", "python"), "-c", `
import os, sys
from huggingface_hub import snapshot_download
for rev in ("dev", "main"):
    snapshot_download("alice/tiny", revision=rev, cache_dir=sys.argv[1], token=os.environ["HAVEN_TOKEN"])
`, cache)
	py.Env = s2.clientEnv(t, f2)
	runLogged(t, 3*time.Minute, py)
	out = s2.admin("import", filepath.Join(cache, "models--alice--tiny"), "--as", "alice/from-cache", "--private")
	if !strings.Contains(out, "huggingface_hub cache") {
		t.Errorf("haven import of the cache said: %s", out)
	}
	var refs struct {
		Branches []struct {
			Name string `json:"name"`
		} `json:"branches"`
	}
	alice2.json("GET", "/api/models/alice/from-cache/refs", nil, http.StatusOK, &refs)
	if len(refs.Branches) != 2 {
		t.Errorf("branches of the cache import: %+v", refs.Branches)
	}
	for key, data := range want {
		branch, path, _ := strings.Cut(key, ":")
		got, _ := alice2.resolve("", "alice/from-cache", branch, path)
		if !bytes.Equal(got, data) {
			t.Errorf("%s of the cache import: other bytes", key)
		}
		if e := alice2.tree("models", "alice/from-cache", branch)[path]; e.LFS == nil || e.LFS.Oid != sha256Hex(data) {
			t.Errorf("%s of the cache import is not an LFS file: %+v", key, e)
		}
	}
	if got, _ := alice2.resolve("", "alice/from-cache", "main", "README.md"); !strings.Contains(string(got), "license: mit") {
		t.Errorf("README.md of the cache import: %q", got)
	}

	if converted {
		s2.admin("import", dsExport)
		var dsRefs struct {
			Converts []struct {
				Ref string `json:"ref"`
			} `json:"converts"`
		}
		alice2.json("GET", "/api/datasets/alice/rows/refs", nil, http.StatusOK, &dsRefs)
		if len(dsRefs.Converts) != 1 || dsRefs.Converts[0].Ref != "refs/convert/parquet" {
			t.Errorf("the imported dataset's conversions: %+v", dsRefs.Converts)
		}
	}
}
