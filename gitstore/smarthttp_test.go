package gitstore_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/gitstore"
)

// gitServer serves the store's model repositories at /{namespace}/{name}.git/...
func gitServer(t *testing.T, s *gitstore.Store) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 3)
		if len(parts) != 3 || !strings.HasSuffix(parts[1], ".git") {
			http.NotFound(w, r)
			return
		}
		id := haven.RepoID{Namespace: parts[0], Name: strings.TrimSuffix(parts[1], ".git")}
		if err := s.ServeSmartHTTP(w, r, haven.Model, id, parts[2]); err != nil {
			status := http.StatusInternalServerError
			switch haven.ErrorCode(err) {
			case haven.ERepoNotFound, haven.ENotFound:
				status = http.StatusNotFound
			case haven.EInvalid:
				status = http.StatusBadRequest
			case haven.EForbidden:
				status = http.StatusForbidden
			}
			http.Error(w, err.Error(), status)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// gitFails runs git and returns its output, failing the test if git succeeds.
func gitFails(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(cmd.Environ(), "GIT_LFS_SKIP_SMUDGE=1", "GIT_TERMINAL_PROMPT=0")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("git %s succeeded, want failure:\n%s", strings.Join(args, " "), out)
	}
	return string(out)
}

func TestSmartHTTP(t *testing.T) {
	s, r := newRepo(t)
	base := commit(t, r, "refs/heads/main", "initial", put("README.md", "# tiny\n"), put("data/a.txt", "a"))
	srv := gitServer(t, s)
	url := srv.URL + "/alice/tiny.git"
	work := t.TempDir()

	for _, proto := range []string{"0", "2"} {
		t.Run("clone protocol v"+proto, func(t *testing.T) {
			dir := filepath.Join(work, "clone-v"+proto)
			git(t, work, "-c", "protocol.version="+proto, "clone", "--quiet", url, dir)
			if got := git(t, dir, "rev-parse", "HEAD"); got != base {
				t.Fatalf("cloned HEAD %s, want %s", got, base)
			}
			if data, _ := os.ReadFile(filepath.Join(dir, "data/a.txt")); string(data) != "a" {
				t.Fatalf("data/a.txt = %q", data)
			}
		})
	}

	dir := filepath.Join(work, "clone-v2")
	git(t, dir, "config", "user.name", "Bob")
	git(t, dir, "config", "user.email", "bob@example.com")

	// Push a commit to main.
	os.WriteFile(filepath.Join(dir, "pushed.txt"), []byte("from git"), 0o644)
	git(t, dir, "add", "pushed.txt")
	git(t, dir, "commit", "--quiet", "-m", "Pushed with git")
	git(t, dir, "push", "--quiet", "origin", "main")
	pushed := git(t, dir, "rev-parse", "HEAD")
	if got, err := r.Resolve("main"); err != nil || got != pushed {
		t.Fatalf("main = %s, %v; want %s", got, err, pushed)
	}
	if data, err := r.ReadFile(pushed, "pushed.txt"); err != nil || string(data) != "from git" {
		t.Fatalf("ReadFile = %q, %v", data, err)
	}
	info, err := r.CommitInfo(pushed)
	if err != nil || info.Title != "Pushed with git" || info.Author.Name != "Bob" {
		t.Fatalf("CommitInfo = %+v, %v", info, err)
	}

	// The API builds on pushed history, and the clone fetches it back.
	api := commit(t, r, "refs/heads/main", "From the API", put("api.txt", "api"))
	git(t, dir, "pull", "--quiet", "--ff-only")
	if got := git(t, dir, "rev-parse", "HEAD"); got != api {
		t.Fatalf("pulled %s, want %s", got, api)
	}

	// A new branch, a tag, and a force push.
	git(t, dir, "checkout", "--quiet", "-b", "feature")
	os.WriteFile(filepath.Join(dir, "feature.txt"), []byte("f"), 0o644)
	git(t, dir, "add", "feature.txt")
	git(t, dir, "commit", "--quiet", "-m", "feature")
	git(t, dir, "tag", "-a", "v1", "-m", "version one")
	git(t, dir, "push", "--quiet", "origin", "feature", "v1")
	feature := git(t, dir, "rev-parse", "HEAD")
	if !r.IsBranch("feature") {
		t.Fatal("pushed branch missing")
	}
	if got, _ := r.Resolve("v1"); got != feature {
		t.Fatalf("tag v1 = %s, want %s", got, feature)
	}
	git(t, dir, "reset", "--quiet", "--hard", base)
	git(t, dir, "push", "--quiet", "--force", "origin", "HEAD:main")
	if got, _ := r.Resolve("main"); got != base {
		t.Fatalf("after force push main = %s, want %s", got, base)
	}

	// Deleting the default branch is refused; other branches may go.
	out := gitFails(t, dir, "push", "origin", ":main")
	if !strings.Contains(out, "deletion of the current branch prohibited") {
		t.Fatalf("unexpected refusal: %s", out)
	}
	git(t, dir, "push", "--quiet", "origin", ":feature")
	if r.IsBranch("feature") {
		t.Fatal("deleted branch still there")
	}

	// A push big enough to be kept as a pack, and a repack afterwards: the
	// open handle must find objects in packs that appeared or were replaced
	// after it indexed the pack directory.
	if _, err := r.Resolve(strings.Repeat("ab", 20)); haven.ErrorCode(err) != haven.ERevisionNotFound {
		t.Fatalf("resolving a missing sha: %v", err)
	}
	for i := range 150 {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("many-%03d.txt", i)), []byte(fmt.Sprint("file ", i)), 0o644)
	}
	git(t, dir, "add", ".")
	git(t, dir, "commit", "--quiet", "-m", "many files")
	git(t, dir, "push", "--quiet", "origin", "HEAD:main")
	many := git(t, dir, "rev-parse", "HEAD")
	if packs, _ := filepath.Glob(filepath.Join(r.Path(), "objects/pack/*.pack")); len(packs) == 0 {
		t.Fatal("push did not keep a pack; the test does not test what it should")
	}
	if data, err := r.ReadFile(many, "many-149.txt"); err != nil || string(data) != "file 149" {
		t.Fatalf("ReadFile from a new pack = %q, %v", data, err)
	}
	git(t, r.Path(), "gc", "--quiet", "--prune=now")
	if data, err := r.ReadFile(many, "many-007.txt"); err != nil || string(data) != "file 7" {
		t.Fatalf("ReadFile after gc = %q, %v", data, err)
	}
	if data, err := r.ReadFile(api, "api.txt"); err != nil || string(data) != "api" {
		t.Fatalf("ReadFile of an API commit after gc = %q, %v", data, err)
	}
	after := commit(t, r, "refs/heads/main", "after gc", put("many-000.txt", "changed"))
	if list, err := r.List(after, "", false); err != nil || len(list) != 152 {
		t.Fatalf("List after gc: %d entries, %v", len(list), err)
	}

	// A commit no ref points at can still be fetched by its sha.
	git(t, work, "init", "--quiet", "bysha")
	git(t, filepath.Join(work, "bysha"), "fetch", "--quiet", url, api)

	if got := git(t, r.Path(), "fsck", "--strict", "--no-dangling"); got != "" {
		t.Fatalf("git fsck --strict: %s", got)
	}

	gitFails(t, work, "clone", srv.URL+"/alice/missing.git", filepath.Join(work, "missing"))
}

func TestSmartHTTPRequests(t *testing.T) {
	s, r := newRepo(t)
	head := commit(t, r, "refs/heads/main", "initial", put("a", "a"))
	srv := gitServer(t, s)

	t.Run("advertisement", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/alice/tiny.git/info/refs?service=git-upload-pack")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-git-upload-pack-advertisement" {
			t.Fatalf("status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if !strings.Contains(resp.Header.Get("Cache-Control"), "no-cache") {
			t.Fatalf("Cache-Control %q", resp.Header.Get("Cache-Control"))
		}
		if !bytes.HasPrefix(body, []byte("001e# service=git-upload-pack\n0000")) || !bytes.Contains(body, []byte(head+" refs/heads/main")) {
			t.Fatalf("advertisement:\n%s", body)
		}
	})

	t.Run("gzip request body", func(t *testing.T) {
		var req bytes.Buffer
		zw := gzip.NewWriter(&req)
		want := fmt.Sprintf("want %s\n", head)
		fmt.Fprintf(zw, "%04x%s00000009done\n", len(want)+4, want)
		zw.Close()
		hr, _ := http.NewRequest(http.MethodPost, srv.URL+"/alice/tiny.git/git-upload-pack", &req)
		hr.Header.Set("Content-Type", "application/x-git-upload-pack-request")
		hr.Header.Set("Content-Encoding", "gzip")
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-git-upload-pack-result" {
			t.Fatalf("status %d, type %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		if !bytes.HasPrefix(body, []byte("0008NAK\n")) || !bytes.Contains(body, []byte("PACK")) {
			t.Fatalf("unexpected answer: %q", body[:min(len(body), 64)])
		}
	})

	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/alice/tiny.git/info/refs", http.StatusForbidden},
		{"GET", "/alice/tiny.git/info/refs?service=git-archive", http.StatusForbidden},
		{"GET", "/alice/tiny.git/git-upload-pack", http.StatusBadRequest},
		{"GET", "/alice/tiny.git/HEAD", http.StatusNotFound},
		{"GET", "/alice/nope.git/info/refs?service=git-upload-pack", http.StatusNotFound},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
		}
	}
}
