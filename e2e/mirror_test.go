package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestMirror runs two servers, one as the other's source hub: a pull
// mirror copies a repository with history, branches, tags, a pull request
// ref, LFS and Xet files, follows new commits, refuses local changes, and
// survives a kill -9 mid-sync; a private source needs a token; a push
// mirror publishes a repository and its later changes to the other hub.
func TestMirror(t *testing.T) {
	src := startServer(t, serverOpts{})
	sf := src.setupAccounts()
	hub := startServer(t, serverOpts{Args: []string{"--mirror-allow-private"}})
	hf := hub.setupAccounts()
	g := newGitEnv(t)
	alice, bob := src.api(sf.Alice), hub.api(hf.Bob)

	// The source: two commits on main with LFS files, a branch, an
	// annotated tag, a pull request and a file uploaded through Xet.
	alice.createRepo("model", "alice", "src", false)
	work := filepath.Join(t.TempDir(), "src")
	g.run(t, "", "clone", gitURL(src, "", "alice/src", "alice", sf.Alice), work)
	g.run(t, work, "lfs", "track", "*.bin")
	weights := randomBytes(1, 3<<20)
	writeFile(t, filepath.Join(work, "weights.bin"), weights)
	writeFile(t, filepath.Join(work, "README.md"), []byte("---\nlicense: mit\ntags: [mirrored]\n---\n# Source model\n"))
	writeFile(t, filepath.Join(work, "config.json"), []byte(`{"model_type": "bert"}`))
	g.run(t, work, "add", ".")
	g.run(t, work, "commit", "-m", "First weights")
	writeFile(t, filepath.Join(work, "config.json"), []byte(`{"model_type": "bert", "hidden_size": 8}`))
	g.run(t, work, "commit", "-am", "Second config")
	g.run(t, work, "tag", "-a", "v1", "-m", "Release 1")
	g.run(t, work, "push", "origin", "main", "v1")
	g.run(t, work, "checkout", "-b", "dev")
	writeFile(t, filepath.Join(work, "dev.txt"), []byte("on dev\n"))
	g.run(t, work, "add", ".")
	g.run(t, work, "commit", "-m", "Dev work")
	g.run(t, work, "push", "origin", "dev")
	resp, body := alice.do("POST", "/api/models/alice/src/commit/main?create_pr=1", ndjson(
		commitLine{Key: "header", Value: map[string]any{"summary": "Proposal", "description": ""}},
		commitLine{Key: "file", Value: map[string]any{"path": "proposal.txt", "content": "cHJvcG9zYWw=", "encoding": "base64"}},
	), map[string]string{"Content-Type": "application/x-ndjson"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("create_pr commit: %d %s", resp.StatusCode, body)
	}
	xetData := randomBytes(2, 1<<20)
	xetUploadAndCommit(t, alice, "alice/src", "xet.bin", xetData)

	// Mirror it with one command.
	out := hub.admin("mirror", "add", src.URL+"/alice/src", "--as", "bob/copy", "--interval", "1h", "--mirror-allow-private")
	if !strings.Contains(out, "synced") {
		t.Fatalf("mirror add said:\n%s", out)
	}
	wantSameRefs(t, g, src, hub, "alice/src", "bob/copy")

	clone := filepath.Join(t.TempDir(), "copy")
	g.run(t, "", "clone", gitURL(hub, "", "bob/copy", "", ""), clone)
	g.run(t, clone, "fsck", "--full")
	for name, want := range map[string][]byte{"weights.bin": weights, "xet.bin": xetData} {
		if got := readFile(t, filepath.Join(clone, name)); !bytes.Equal(got, want) {
			t.Errorf("%s in a clone of the mirror: %d bytes, want the source's %d", name, len(got), len(want))
		}
	}
	if got, _ := hub.api("").resolve("", "bob/copy", "main", "xet.bin"); !bytes.Equal(got, xetData) {
		t.Errorf("resolve of xet.bin from the mirror differs from the source")
	}
	// The server derives the card's metadata from the synced head.
	waitFor(t, 20*time.Second, "the mirror's card metadata", func() bool {
		var info struct {
			SHA  string   `json:"sha"`
			Tags []string `json:"tags"`
		}
		hub.api("").json("GET", "/api/models/bob/copy", nil, http.StatusOK, &info)
		return info.SHA == revision(t, src.api(""), "alice/src", "main") && hasString(info.Tags, "mirrored")
	})
	var mirrors []struct {
		ID            int64   `json:"id"`
		Direction     string  `json:"direction"`
		URL           string  `json:"url"`
		LastSuccessAt *string `json:"lastSuccessAt"`
	}
	hub.api("").json("GET", "/api/models/bob/copy/mirrors", nil, http.StatusOK, &mirrors)
	if len(mirrors) != 1 || mirrors[0].Direction != "pull" || mirrors[0].URL != src.URL+"/alice/src" || mirrors[0].LastSuccessAt == nil {
		t.Fatalf("mirrors of bob/copy = %+v", mirrors)
	}
	if page := string(getBody(t, hub.URL+"/bob/copy")); !strings.Contains(page, "Mirrored from") {
		t.Errorf("the repository page does not say it is a mirror")
	}

	t.Run("read-only", func(t *testing.T) {
		resp, body := bob.do("POST", "/api/models/bob/copy/commit/main", ndjson(
			commitLine{Key: "header", Value: map[string]any{"summary": "local change"}},
			commitLine{Key: "file", Value: map[string]any{"path": "x.txt", "content": "eA==", "encoding": "base64"}},
		), map[string]string{"Content-Type": "application/x-ndjson"})
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Header.Get("X-Error-Message"), "read-only mirror") {
			t.Errorf("commit to a mirror: %d %q %s", resp.StatusCode, resp.Header.Get("X-Error-Message"), body)
		}
		writeFile(t, filepath.Join(clone, "local.txt"), []byte("local\n"))
		g.run(t, clone, "add", ".")
		g.run(t, clone, "commit", "-m", "local")
		// git shows only the status of a refused push over HTTP.
		if msg := g.fails(t, clone, "push", gitURL(hub, "", "bob/copy", "bob", hf.Bob), "main"); !strings.Contains(msg, "403") {
			t.Errorf("git push to a mirror: %s", msg)
		}
	})

	t.Run("incremental", func(t *testing.T) {
		sha := alice.commit("models", "alice/src", "main", "Third", commitLine{Key: "file",
			Value: map[string]any{"path": "notes.txt", "content": "bm90ZXM=", "encoding": "base64"}})
		bob.json("POST", fmt.Sprintf("/api/models/bob/copy/mirrors/%d/sync", mirrors[0].ID), nil, http.StatusOK, nil)
		waitFor(t, 30*time.Second, "the new commit on the mirror", func() bool {
			return revision(t, hub.api(""), "bob/copy", "main") == sha
		})
		wantSameRefs(t, g, src, hub, "alice/src", "bob/copy")
	})

	t.Run("source without git", func(t *testing.T) {
		// The source's API alone, as a hub that does not serve git would.
		target, _ := url.Parse(src.URL)
		proxy := httputil.NewSingleHostReverseProxy(target)
		front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, ".git/") || strings.HasSuffix(r.URL.Path, "/info/refs") {
				http.NotFound(w, r)
				return
			}
			proxy.ServeHTTP(w, r)
		}))
		defer front.Close()
		hub.admin("mirror", "add", front.URL+"/alice/src", "--as", "bob/rest", "--mirror-allow-private")
		anon := hub.api("")
		for _, branch := range []string{"main", "dev"} {
			want, got := src.api("").tree("models", "alice/src", branch), anon.tree("models", "bob/rest", branch)
			if len(got) != len(want) {
				t.Errorf("%s: %d files rebuilt, want %d", branch, len(got), len(want))
			}
			for path, w := range want {
				g, ok := got[path]
				same := ok && ((w.LFS != nil && g.LFS != nil && w.LFS.Oid == g.LFS.Oid) || (w.LFS == nil && g.LFS == nil && w.Oid == g.Oid))
				if !same {
					t.Errorf("%s@%s differs: %+v, want %+v", path, branch, g, w)
				}
			}
		}
		var srcLog, restLog []struct {
			Title string `json:"title"`
		}
		src.api("").json("GET", "/api/models/alice/src/commits/main", nil, http.StatusOK, &srcLog)
		anon.json("GET", "/api/models/bob/rest/commits/main", nil, http.StatusOK, &restLog)
		if len(restLog) != len(srcLog) || restLog[0].Title != srcLog[0].Title {
			t.Errorf("rebuilt history: %+v, want %+v", restLog, srcLog)
		}
		if got, _ := anon.resolve("", "bob/rest", "v1", "weights.bin"); !bytes.Equal(got, weights) {
			t.Errorf("weights.bin at the tag v1 differs")
		}
		// A later sync rebuilds only the new commit.
		sha := alice.commit("models", "alice/src", "main", "Fourth", commitLine{Key: "file",
			Value: map[string]any{"path": "notes.txt", "content": "bm90ZXMgMg==", "encoding": "base64"}})
		out := hub.admin("mirror", "sync", "bob/rest", "--mirror-allow-private")
		if !strings.Contains(out, "synced") {
			t.Fatalf("sync: %s", out)
		}
		// The server hears of a sync made by the command within a tick.
		waitFor(t, 10*time.Second, "notes.txt of "+sha+" on the mirror", func() bool {
			resp, body := anon.do("GET", "/bob/rest/resolve/main/notes.txt", nil, nil)
			return resp.StatusCode == http.StatusOK && string(body) == "notes 2"
		})
	})

	t.Run("private source", func(t *testing.T) {
		alice.createRepo("model", "alice", "secret", true)
		alice.commit("models", "alice/secret", "main", "Secret", commitLine{Key: "file",
			Value: map[string]any{"path": "secret.txt", "content": "c2VjcmV0", "encoding": "base64"}})
		if msg := adminFails(t, hub, "mirror", "add", src.URL+"/alice/secret", "--as", "bob/secret", "--mirror-allow-private"); !strings.Contains(msg, "RepoNotFound") && !strings.Contains(msg, "not found") {
			t.Errorf("mirroring a private source without a token: %s", msg)
		}
		hub.admin("mirror", "add", src.URL+"/alice/secret", "--as", "bob/secret", "--interval", "10s",
			"--token", sf.AliceRead, "--mirror-allow-private")
		if resp, _ := hub.api("").do("GET", "/api/models/bob/secret", nil, nil); resp.Header.Get("X-Error-Code") != "RepoNotFound" {
			t.Errorf("anonymous read of the mirror of a private repository: %d %q", resp.StatusCode, resp.Header.Get("X-Error-Code"))
		}
		got, _ := bob.resolve("", "bob/secret", "main", "secret.txt")
		if string(got) != "secret" {
			t.Errorf("secret.txt on the private mirror = %q", got)
		}
		// The schedule brings new commits without being asked.
		sha := alice.commit("models", "alice/secret", "main", "More", commitLine{Key: "file",
			Value: map[string]any{"path": "more.txt", "content": "bW9yZQ==", "encoding": "base64"}})
		waitFor(t, 45*time.Second, "the scheduled sync", func() bool {
			return revision(t, bob, "bob/secret", "main") == sha
		})
	})

	t.Run("push mirror", func(t *testing.T) {
		bob.createRepo("model", "bob", "pub", false)
		pub := filepath.Join(t.TempDir(), "pub")
		g.run(t, "", "clone", gitURL(hub, "", "bob/pub", "bob", hf.Bob), pub)
		g.run(t, pub, "lfs", "track", "*.bin")
		model := randomBytes(3, 2<<20)
		writeFile(t, filepath.Join(pub, "model.bin"), model)
		writeFile(t, filepath.Join(pub, "README.md"), []byte("# Published from the mirror hub\n"))
		g.run(t, pub, "add", ".")
		g.run(t, pub, "commit", "-m", "Publish model")
		g.run(t, pub, "push", "origin", "main")

		bob.json("POST", "/api/models/bob/pub/mirrors", map[string]any{"pushTo": src.URL + "/alice/published", "token": sf.Alice},
			http.StatusCreated, nil)
		reader := src.api(sf.Alice)
		waitFor(t, 60*time.Second, "the published repository", func() bool {
			resp, _ := reader.do("GET", "/api/models/alice/published/revision/main", nil, nil)
			return resp.StatusCode == http.StatusOK && len(reader.tree("models", "alice/published", "main")) >= 3
		})
		if got, _ := reader.resolve("", "alice/published", "main", "model.bin"); !bytes.Equal(got, model) {
			t.Fatalf("model.bin on the remote differs")
		}
		// Its admin sees it in the settings, with its last push.
		browser := &cookieClient{t: t, origin: hub.URL}
		browser.signIn(hub.URL, "bob", "pw-bob-e2e-secret")
		req, _ := http.NewRequest("GET", hub.URL+"/bob/pub/settings", nil)
		req.AddCookie(browser.cookie)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var page bytes.Buffer
		page.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(page.String(), src.URL+"/alice/published") || !strings.Contains(page.String(), "data-mirror-sync") {
			t.Errorf("settings page: %d, no push mirror listed", resp.StatusCode)
		}
		// A later change goes out on its own.
		bob.commit("models", "bob/pub", "main", "Card update", commitLine{Key: "file",
			Value: map[string]any{"path": "README.md", "content": "IyBVcGRhdGVk", "encoding": "base64"}})
		waitFor(t, 60*time.Second, "the change on the remote", func() bool {
			resp, body := reader.do("GET", "/alice/published/resolve/main/README.md", nil, nil)
			return resp.StatusCode == http.StatusOK && string(body) == "# Updated"
		})
	})

	t.Run("kill -9 mid-sync", func(t *testing.T) {
		before := revision(t, hub.api(""), "bob/copy", "main")
		big := randomBytes(9, 200<<20)
		g.run(t, work, "checkout", "main")
		g.run(t, work, "pull", "origin", "main")
		writeFile(t, filepath.Join(work, "big.bin"), big)
		g.run(t, work, "add", ".")
		g.run(t, work, "commit", "-m", "Big weights")
		g.run(t, work, "push", "origin", "main")
		after := revision(t, src.api(""), "alice/src", "main")

		cmd := exec.Command(havenBin, "mirror", "sync", "bob/copy", "--mirror-allow-private", "--data", hub.DataDir)
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stderr)
		killed := false
		for sc.Scan() {
			if strings.Contains(sc.Text(), "downloading") {
				cmd.Process.Kill()
				killed = true
				break
			}
		}
		cmd.Wait()
		if !killed {
			t.Fatal("the sync ended before it downloaded anything")
		}
		if got := revision(t, hub.api(""), "bob/copy", "main"); got != before {
			t.Fatalf("after a killed sync main is %s; want the last good %s", got, before)
		}
		// Its claim runs out; then a sync finishes the job.
		deadline := time.Now().Add(90 * time.Second)
		for {
			c := exec.Command(havenBin, "mirror", "sync", "bob/copy", "--mirror-allow-private", "--data", hub.DataDir)
			msg, err := c.CombinedOutput()
			if err == nil {
				break
			}
			if !strings.Contains(string(msg), "another sync") || time.Now().After(deadline) {
				t.Fatalf("sync after the kill: %v\n%s", err, msg)
			}
			time.Sleep(3 * time.Second)
		}
		if got := revision(t, hub.api(""), "bob/copy", "main"); got != after {
			t.Fatalf("main after the resumed sync is %s, want %s", got, after)
		}
		data, hdr := hub.api("").resolve("", "bob/copy", "main", "big.bin")
		if sha256Hex(data) != sha256Hex(big) || hdr.Get("X-Linked-Etag") == "" {
			t.Fatalf("big.bin on the mirror: %d bytes, sha %s", len(data), sha256Hex(data))
		}
	})

	if out := hub.admin("mirror", "list"); !strings.Contains(out, "bob/copy") || !strings.Contains(out, "bob/pub") {
		t.Errorf("mirror list:\n%s", out)
	}
}

// wantSameRefs compares the branches, tags and pull request refs of two
// repositories as git sees them.
func wantSameRefs(t *testing.T, g *gitEnv, a, b *server, aID, bID string) {
	t.Helper()
	refs := func(s *server, id string) string {
		out := g.run(t, "", "ls-remote", gitURL(s, "", id, "", ""))
		var keep []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[1] != "HEAD" {
				keep = append(keep, line)
			}
		}
		sort.Strings(keep)
		return strings.Join(keep, "\n")
	}
	if ra, rb := refs(a, aID), refs(b, bID); ra != rb {
		t.Fatalf("refs differ:\nsource:\n%s\nmirror:\n%s", ra, rb)
	}
}

// revision resolves a branch through the API.
func revision(t *testing.T, a *api, id, branch string) string {
	t.Helper()
	var info struct {
		SHA string `json:"sha"`
	}
	a.json("GET", "/api/models/"+id+"/revision/"+branch, nil, http.StatusOK, &info)
	return info.SHA
}

// adminFails runs an admin command that must fail and returns its output.
func adminFails(t *testing.T, s *server, args ...string) string {
	t.Helper()
	args = append(args, "--data", s.DataDir)
	out, err := exec.Command(havenBin, args...).CombinedOutput()
	if err == nil {
		t.Fatalf("haven %s succeeded:\n%s", strings.Join(args, " "), out)
	}
	return string(out)
}

// xetUploadAndCommit stores data through the Xet protocol and commits it
// as path on main.
func xetUploadAndCommit(t *testing.T, a *api, id, path string, data []byte) {
	t.Helper()
	cas, tok := a.xetToken("models", id, "write", "main")
	up := prepareXet(t, data)
	if status, body := casDo(t, "POST", cas+"/v1/xorbs/default/"+up.xorbHash.String(), tok, up.xorb); status != 200 {
		t.Fatalf("xorb: %d %s", status, body)
	}
	if status, body := casDo(t, "POST", cas+"/v1/shards", tok, up.shard.MarshalUpload()); status != 200 {
		t.Fatalf("shard: %d %s", status, body)
	}
	a.commit("models", id, "main", "Xet file", commitLine{Key: "lfsFile",
		Value: map[string]any{"path": path, "algo": "sha256", "oid": up.sha256Hex, "size": len(data)}})
}

func getBody(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	return buf.Bytes()
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func hasString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
