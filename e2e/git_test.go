package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gitEnv is an isolated environment for git and git-lfs: a temporary HOME
// with a gitconfig that names the author and installs the LFS filters, no
// system config, and no prompts.
type gitEnv struct {
	env []string
}

func newGitEnv(t *testing.T) *gitEnv {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		skipOrFail(t, "git is not installed")
	}
	if err := exec.Command("git", "lfs", "version").Run(); err != nil {
		skipOrFail(t, "git-lfs is not installed")
	}
	home := t.TempDir()
	env := filterEnv(os.Environ(), "GIT_", "HOME=", "XDG_CONFIG_HOME=")
	env = append(env,
		"HOME="+home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_ASKPASS=/bin/false",
	)
	g := &gitEnv{env: env}
	g.run(t, "", "config", "--global", "user.name", "Alice Liddell")
	g.run(t, "", "config", "--global", "user.email", "alice@example.test")
	g.run(t, "", "config", "--global", "init.defaultBranch", "main")
	g.run(t, "", "lfs", "install")
	return g
}

// cmd builds a git command in dir with extra environment entries.
func (g *gitEnv) cmd(dir string, extraEnv []string, args ...string) *exec.Cmd {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(append([]string{}, g.env...), extraEnv...)
	return cmd
}

// run runs git and fails the test if it fails; it returns standard output.
func (g *gitEnv) run(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return g.runEnv(t, dir, nil, args...)
}

func (g *gitEnv) runEnv(t *testing.T, dir string, extraEnv []string, args ...string) string {
	t.Helper()
	cmd := g.cmd(dir, extraEnv, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("git %s (in %s): %v\nstdout:\n%s\nstderr:\n%s", redact(strings.Join(args, " ")), dir, err, stdout.String(), stderr.String())
		}
	case <-time.After(3 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("git %s: timed out\nstderr:\n%s", redact(strings.Join(args, " ")), stderr.String())
	}
	return stdout.String()
}

// fails runs git, expects it to fail, and returns its standard error.
func (g *gitEnv) fails(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := g.cmd(dir, nil, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil {
		t.Fatalf("git %s succeeded, want failure", redact(strings.Join(args, " ")))
	}
	return stderr.String()
}

// redact hides tokens in command lines that are printed.
func redact(s string) string {
	for _, f := range strings.Fields(s) {
		if u, err := url.Parse(f); err == nil && u.User != nil {
			if _, ok := u.User.Password(); ok {
				s = strings.ReplaceAll(s, f, u.Redacted())
			}
		}
	}
	return s
}

// gitURL is the clone URL of a repository, with user:token credentials when token is set.
func gitURL(s *server, prefix, id, user, token string) string {
	u, err := url.Parse(s.URL + "/" + prefix + id)
	if err != nil {
		panic(err)
	}
	if token != "" {
		u.User = url.UserPassword(user, token)
	}
	return u.String()
}

// randomBytes returns n pseudo-random bytes from seed.
func randomBytes(seed uint64, n int) []byte {
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), 7})
	b := make([]byte, n)
	r.Read(b)
	return b
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// resolve downloads a file through the HTTP API and checks status 200.
func (a *api) resolve(prefix, id, rev, path string) ([]byte, http.Header) {
	a.t.Helper()
	resp, data := a.do("GET", "/"+prefix+id+"/resolve/"+url.PathEscape(rev)+"/"+path, nil, nil)
	if resp.StatusCode != http.StatusOK {
		a.t.Fatalf("GET resolve %s%s@%s/%s: status %d, X-Error-Code %q: %s", prefix, id, rev, path,
			resp.StatusCode, resp.Header.Get("X-Error-Code"), truncate(data, 300))
	}
	return data, resp.Header
}

type treeEntry struct {
	Type string `json:"type"`
	Path string `json:"path"`
	Oid  string `json:"oid"`
	Size int64  `json:"size"`
	LFS  *struct {
		Oid         string `json:"oid"`
		Size        int64  `json:"size"`
		PointerSize int64  `json:"pointerSize"`
	} `json:"lfs"`
}

// tree lists a revision recursively.
func (a *api) tree(typePlural, id, rev string) map[string]treeEntry {
	a.t.Helper()
	var entries []treeEntry
	a.json("GET", "/api/"+typePlural+"/"+id+"/tree/"+url.PathEscape(rev)+"?recursive=true&expand=false", nil, http.StatusOK, &entries)
	m := map[string]treeEntry{}
	for _, e := range entries {
		m[e.Path] = e
	}
	return m
}

// TestGit drives the server with git and git-lfs over smart HTTP.
func TestGit(t *testing.T) {
	g := newGitEnv(t)
	s := startServer(t, serverOpts{})
	f := s.setupAccounts()
	alice := s.api(f.Alice)
	alice.createRepo("model", "alice", "git-model", false)
	alice.createRepo("model", "alice", "git-secret", true)
	alice.createRepo("dataset", "alice", "git-data", false)

	work := t.TempDir()
	weights := randomBytes(1, 3<<20+17)
	notes := []byte("pushed with git\n")
	feature := []byte("on a branch\n")

	t.Run("clone, push LFS and a branch", func(t *testing.T) {
		dir := filepath.Join(work, "model")
		g.run(t, work, "clone", gitURL(s, "", "alice/git-model", "alice", f.Alice), dir)
		attrs := string(readFile(t, filepath.Join(dir, ".gitattributes")))
		if !strings.Contains(attrs, "*.bin filter=lfs diff=lfs merge=lfs -text") {
			t.Fatalf("a new repository's .gitattributes should track *.bin with LFS; got:\n%s", attrs)
		}
		g.run(t, dir, "lfs", "track", "weights/*.dat")
		writeFile(t, filepath.Join(dir, "weights", "model.dat"), weights)
		writeFile(t, filepath.Join(dir, "notes.txt"), notes)
		g.run(t, dir, "add", "-A")
		g.run(t, dir, "commit", "-q", "-m", "Add weights through git")
		if got := g.run(t, dir, "lfs", "ls-files", "-n"); strings.TrimSpace(got) != "weights/model.dat" {
			t.Fatalf("git lfs ls-files = %q, want weights/model.dat", got)
		}
		g.run(t, dir, "push", "-q", "origin", "main")
		g.run(t, dir, "checkout", "-q", "-b", "feature")
		writeFile(t, filepath.Join(dir, "feature.txt"), feature)
		g.run(t, dir, "add", "feature.txt")
		g.run(t, dir, "commit", "-q", "-m", "Add a feature")
		g.run(t, dir, "push", "-q", "origin", "feature")
		localMain := strings.TrimSpace(g.run(t, dir, "rev-parse", "main"))
		localFeature := strings.TrimSpace(g.run(t, dir, "rev-parse", "feature"))

		// The HTTP API sees what git pushed.
		var refs struct {
			Branches []struct{ Name, TargetCommit string } `json:"branches"`
		}
		alice.json("GET", "/api/models/alice/git-model/refs", nil, http.StatusOK, &refs)
		got := map[string]string{}
		for _, b := range refs.Branches {
			got[b.Name] = b.TargetCommit
		}
		if got["main"] != localMain || got["feature"] != localFeature {
			t.Fatalf("refs after push = %v, want main=%s feature=%s", got, localMain, localFeature)
		}
		body, hdr := alice.resolve("", "alice/git-model", "main", "weights/model.dat")
		if !bytes.Equal(body, weights) {
			t.Fatalf("resolve of the LFS file pushed by git: %d bytes (sha256 %s), want %d bytes (sha256 %s)",
				len(body), sha256Hex(body), len(weights), sha256Hex(weights))
		}
		if etag := strings.Trim(strings.TrimPrefix(hdr.Get("X-Linked-Etag"), "W/"), `"`); etag != sha256Hex(weights) {
			t.Errorf("X-Linked-Etag = %q, want the sha256 %s", hdr.Get("X-Linked-Etag"), sha256Hex(weights))
		}
		if c := hdr.Get("X-Repo-Commit"); c != localMain {
			t.Errorf("X-Repo-Commit = %q, want %s", c, localMain)
		}
		tree := alice.tree("models", "alice/git-model", "main")
		e, ok := tree["weights/model.dat"]
		if !ok || e.LFS == nil || e.LFS.Oid != sha256Hex(weights) || e.Size != int64(len(weights)) {
			t.Fatalf("tree entry of weights/model.dat = %+v (lfs %+v), want an LFS file of %d bytes with oid %s",
				e, e.LFS, len(weights), sha256Hex(weights))
		}
		if _, ok := tree["weights"]; !ok || tree["weights"].Type != "directory" {
			t.Errorf("recursive tree should list the folder weights as a directory; got %+v", tree["weights"])
		}
		if b, _ := alice.resolve("", "alice/git-model", "main", "notes.txt"); !bytes.Equal(b, notes) {
			t.Errorf("notes.txt = %q, want %q", b, notes)
		}
		if b, _ := alice.resolve("", "alice/git-model", "feature", "feature.txt"); !bytes.Equal(b, feature) {
			t.Errorf("feature.txt on branch feature = %q, want %q", b, feature)
		}
		resp, _ := alice.do("GET", "/alice/git-model/resolve/main/feature.txt", nil, nil)
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("X-Error-Code") != "EntryNotFound" {
			t.Errorf("feature.txt on main: status %d code %q, want 404 EntryNotFound", resp.StatusCode, resp.Header.Get("X-Error-Code"))
		}
	})

	t.Run("fresh clone smudges LFS files", func(t *testing.T) {
		dir := filepath.Join(work, "fresh")
		g.run(t, work, "clone", "-q", gitURL(s, "", "alice/git-model", "alice", f.Alice), dir)
		if got := readFile(t, filepath.Join(dir, "weights", "model.dat")); !bytes.Equal(got, weights) {
			t.Fatalf("fresh clone: weights/model.dat is %d bytes (%.40q…), want the %d pushed bytes", len(got), got, len(weights))
		}
		g.run(t, dir, "checkout", "-q", "feature")
		if got := readFile(t, filepath.Join(dir, "feature.txt")); !bytes.Equal(got, feature) {
			t.Fatalf("feature.txt = %q, want %q", got, feature)
		}

		// Anonymous clone of a public repository, without smudging: the file is the pointer.
		plain := filepath.Join(work, "pointer")
		g.runEnv(t, work, []string{"GIT_LFS_SKIP_SMUDGE=1"}, "clone", "-q", gitURL(s, "", "alice/git-model", "", ""), plain)
		ptr := string(readFile(t, filepath.Join(plain, "weights", "model.dat")))
		want := fmt.Sprintf("version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n", sha256Hex(weights), len(weights))
		if ptr != want {
			t.Fatalf("with GIT_LFS_SKIP_SMUDGE the checkout should hold the pointer\n%q\ngot\n%q", want, ptr)
		}
	})

	t.Run("files uploaded through the API are cloned", func(t *testing.T) {
		api := []byte("committed through the HTTP API\n")
		large := randomBytes(4, 1<<20)
		alice.uploadLFS("alice/git-model", large)
		alice.commit("models", "alice/git-model", "main", "API commit",
			commitLine{Key: "file", Value: map[string]any{"path": "api.txt", "encoding": "base64", "content": b64(api)}},
			commitLine{Key: "lfsFile", Value: map[string]any{"path": "api-large.bin", "algo": "sha256", "oid": sha256Hex(large), "size": len(large)}})
		dir := filepath.Join(work, "api-clone")
		g.run(t, work, "clone", "-q", gitURL(s, "", "alice/git-model", "alice", f.Alice), dir)
		if got := readFile(t, filepath.Join(dir, "api.txt")); !bytes.Equal(got, api) {
			t.Fatalf("api.txt in a clone = %q, want %q", got, api)
		}
		if got := readFile(t, filepath.Join(dir, "api-large.bin")); !bytes.Equal(got, large) {
			t.Fatalf("api-large.bin (uploaded through the LFS batch API) in a clone: %d bytes (%.40q…), want %d bytes",
				len(got), got, len(large))
		}
	})

	t.Run("private repository", func(t *testing.T) {
		secret := []byte("top secret\n")
		alice.commit("models", "alice/git-secret", "main", "secret",
			commitLine{Key: "file", Value: map[string]any{"path": "secret.txt", "encoding": "base64", "content": b64(secret)}})
		dir := filepath.Join(work, "secret-alice")
		g.run(t, work, "clone", "-q", gitURL(s, "", "alice/git-secret", "alice", f.Alice), dir)
		if got := readFile(t, filepath.Join(dir, "secret.txt")); !bytes.Equal(got, secret) {
			t.Fatalf("owner clone of a private repo: secret.txt = %q", got)
		}
		g.fails(t, work, "clone", "-q", gitURL(s, "", "alice/git-secret", "bob", f.Bob), filepath.Join(work, "secret-bob"))
		g.fails(t, work, "clone", "-q", gitURL(s, "", "alice/git-secret", "", ""), filepath.Join(work, "secret-anon"))
		if _, err := os.Stat(filepath.Join(work, "secret-bob", "secret.txt")); err == nil {
			t.Fatal("bob's failed clone still checked out secret.txt")
		}
	})

	t.Run("push without write access is refused", func(t *testing.T) {
		dir := filepath.Join(work, "bob-clone")
		g.run(t, work, "clone", "-q", gitURL(s, "", "alice/git-model", "bob", f.Bob), dir)
		writeFile(t, filepath.Join(dir, "bob.txt"), []byte("bob was here\n"))
		g.run(t, dir, "add", "bob.txt")
		g.run(t, dir, "commit", "-q", "-m", "bob's change")
		g.fails(t, dir, "push", "-q", "origin", "main")
		resp, _ := alice.do("GET", "/alice/git-model/resolve/main/bob.txt", nil, nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("bob.txt on main after a refused push: status %d, want 404", resp.StatusCode)
		}
	})

	t.Run("a pull request's author pushes to its ref", func(t *testing.T) {
		bob := s.api(f.Bob)
		var opened struct{ Num int }
		bob.json("POST", "/api/models/alice/git-model/discussions", map[string]any{"title": "Bob's fix", "pullRequest": true}, http.StatusOK, &opened)
		var alices struct{ Num int }
		alice.json("POST", "/api/models/alice/git-model/discussions", map[string]any{"title": "Alice's idea", "pullRequest": true}, http.StatusOK, &alices)
		mainBefore := strings.TrimSpace(g.run(t, work, "ls-remote", gitURL(s, "", "alice/git-model", "", ""), "refs/heads/main"))

		dir := filepath.Join(work, "bob-pr")
		g.run(t, work, "clone", "-q", gitURL(s, "", "alice/git-model", "bob", f.Bob), dir)
		pr := fmt.Sprintf("refs/pr/%d", opened.Num)
		g.run(t, dir, "fetch", "-q", "origin", pr+":pr")
		g.run(t, dir, "checkout", "-q", "pr")
		fix := randomBytes(3, 64<<10)
		writeFile(t, filepath.Join(dir, "fix.bin"), fix)
		g.run(t, dir, "add", "fix.bin")
		g.run(t, dir, "commit", "-q", "-m", "bob's fix")
		head := strings.TrimSpace(g.run(t, dir, "rev-parse", "HEAD"))
		g.run(t, dir, "push", "-q", "origin", "HEAD:"+pr)

		if b, _ := alice.resolve("", "alice/git-model", pr, "fix.bin"); !bytes.Equal(b, fix) {
			t.Fatalf("fix.bin on %s after bob's push: %d bytes, want the %d bytes pushed (LFS)", pr, len(b), len(fix))
		}
		var details struct {
			Events []struct {
				Type string
				Data struct{ Oid, Subject string }
			}
		}
		alice.json("GET", fmt.Sprintf("/api/models/alice/git-model/discussions/%d", opened.Num), nil, http.StatusOK, &details)
		found := false
		for _, e := range details.Events {
			found = found || (e.Type == "commit" && e.Data.Oid == head)
		}
		if !found {
			t.Errorf("pull request #%d has no commit event for the pushed %s; events %+v", opened.Num, head, details.Events)
		}

		// Everything else stays out of reach, and a refused push changes nothing.
		for _, refspec := range []string{
			"HEAD:main",
			fmt.Sprintf("HEAD:refs/pr/%d", alices.Num),
			fmt.Sprintf("HEAD:refs/pr/%d", alices.Num+10),
			":" + pr,
		} {
			if msg := g.fails(t, dir, "push", "-q", "origin", refspec); !strings.Contains(msg, "403") {
				t.Errorf("git push %s: want a 403, got %s", refspec, msg)
			}
		}
		if msg := g.fails(t, dir, "push", "-q", "origin", "HEAD:main", "HEAD:"+pr); !strings.Contains(msg, "403") {
			t.Errorf("a push to main and %s at once: want a 403, got %s", pr, msg)
		}
		if got := strings.TrimSpace(g.run(t, work, "ls-remote", gitURL(s, "", "alice/git-model", "", ""), "refs/heads/main")); got != mainBefore {
			t.Fatalf("main moved after refused pushes: %q, was %q", got, mainBefore)
		}
		if got := strings.Fields(g.run(t, work, "ls-remote", gitURL(s, "", "alice/git-model", "alice", f.Alice), pr)); len(got) == 0 || got[0] != head {
			t.Fatalf("%s after refused pushes = %v, want %s", pr, got, head)
		}
	})

	t.Run("dataset repository", func(t *testing.T) {
		dir := filepath.Join(work, "data")
		g.run(t, work, "clone", "-q", gitURL(s, "datasets/", "alice/git-data", "alice", f.Alice), dir)
		csv := []byte("a,b\n1,2\n3,4\n")
		parquet := randomBytes(2, 200<<10)
		writeFile(t, filepath.Join(dir, "data", "train.csv"), csv)
		writeFile(t, filepath.Join(dir, "data", "train.parquet"), parquet)
		g.run(t, dir, "add", "-A")
		g.run(t, dir, "commit", "-q", "-m", "Add data")
		if got := g.run(t, dir, "lfs", "ls-files", "-n"); strings.TrimSpace(got) != "data/train.parquet" {
			t.Fatalf("*.parquet should be LFS-tracked by the dataset's default .gitattributes; git lfs ls-files = %q", got)
		}
		g.run(t, dir, "push", "-q", "origin", "main")
		if b, _ := alice.resolve("datasets/", "alice/git-data", "main", "data/train.csv"); !bytes.Equal(b, csv) {
			t.Fatalf("train.csv = %q, want %q", b, csv)
		}
		if b, _ := alice.resolve("datasets/", "alice/git-data", "main", "data/train.parquet"); !bytes.Equal(b, parquet) {
			t.Fatalf("train.parquet: %d bytes, want %d", len(b), len(parquet))
		}
		fresh := filepath.Join(work, "data-fresh")
		g.run(t, work, "clone", "-q", gitURL(s, "datasets/", "alice/git-data", "", ""), fresh)
		if got := readFile(t, filepath.Join(fresh, "data", "train.parquet")); !bytes.Equal(got, parquet) {
			t.Fatalf("anonymous clone of a public dataset: train.parquet is %d bytes, want %d", len(got), len(parquet))
		}
	})
}
