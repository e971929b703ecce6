package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// startReplica starts haven serve on the shared stores (the flags in
// shared, which the admin commands get too) and key, with a data folder of
// its own. Every replica gives
// publicURL as its public address, as replicas behind one load balancer
// do; the test reaches each one at its own URL.
func startReplica(t *testing.T, shared []string, keyFile, publicURL string) *server {
	t.Helper()
	needBinary(t)
	s := &server{t: t, DataDir: t.TempDir(), Port: freePort(t)}
	s.URL = fmt.Sprintf("http://127.0.0.1:%d", s.Port)
	if publicURL == "" {
		publicURL = s.URL
	}
	s.extra = shared
	s.opts = serverOpts{Args: []string{"--public-url", publicURL, "--secret-key-file", keyFile, "--webhooks-allow-private"}}
	s.start()
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("replica log (%s):\n%s", s.URL, tail(s.log.String(), 32<<10))
		}
	})
	return s
}

// within retries check until it returns "" or d passes, and returns the
// last complaint. Messages between replicas take milliseconds; d is kept
// well under the caches' TTL so that only a message can explain success.
func within(d time.Duration, check func() string) string {
	deadline := time.Now().Add(d)
	for {
		msg := check()
		if msg == "" || time.Now().After(deadline) {
			return msg
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReplicas runs two haven serve processes on one PostgreSQL database,
// one S3 bucket, one folder of git repositories and one secret key, and
// checks that they work as one hub.
func TestReplicas(t *testing.T) {
	if !servicesAvailable() {
		skipOrFail(t, "PostgreSQL and S3 are not configured (HAVEN_TEST_POSTGRES_DSN, HAVEN_TEST_S3_URL)")
	}
	keyFile := filepath.Join(t.TempDir(), "secret.key")
	if err := os.WriteFile(keyFile, []byte(strings.Repeat("5e", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	shared := []string{
		"--database", freshDatabase(t),
		"--blob-store", freshS3Store(t),
		"--repos-dir", filepath.Join(t.TempDir(), "repos"),
	}
	a := startReplica(t, shared, keyFile, "")
	b := startReplica(t, shared, keyFile, a.URL)
	f := a.setupAccounts()
	onA, onB := a.api(f.Alice), b.api(f.Alice)
	anonA := a.api("")
	const id = "alice/shared"

	// Written through A: a repository, a small file, an LFS upload.
	onA.createRepo("model", "alice", "shared", false)
	weights := bytes.Repeat([]byte("replica weights "), 4096)
	onA.uploadLFS(id, weights)
	sha := onA.commit("models", id, "main", "first",
		commitLine{Key: "file", Value: map[string]any{"path": "README.md", "encoding": "base64", "content": b64([]byte("# shared\n"))}},
		commitLine{Key: "lfsFile", Value: map[string]any{"path": "weights.bin", "algo": "sha256", "oid": sha256Hex(weights), "size": len(weights)}})

	t.Run("ReadThroughB", func(t *testing.T) {
		onB.t = t
		var info struct {
			SHA      string `json:"sha"`
			Siblings []struct {
				Name string `json:"rfilename"`
			} `json:"siblings"`
		}
		onB.json("GET", "/api/models/"+id, nil, http.StatusOK, &info)
		if info.SHA != sha || len(info.Siblings) != 3 { // .gitattributes, README.md, weights.bin
			t.Errorf("repo info on B: sha %s, %d files; want %s and 3", info.SHA, len(info.Siblings), sha)
		}
		var tree []struct {
			Path string `json:"path"`
			LFS  *struct {
				Oid string `json:"oid"`
			} `json:"lfs"`
		}
		onB.json("GET", "/api/models/"+id+"/tree/main", nil, http.StatusOK, &tree)
		lfsSeen := false
		for _, e := range tree {
			if e.Path == "weights.bin" && e.LFS != nil && e.LFS.Oid == sha256Hex(weights) {
				lfsSeen = true
			}
		}
		if !lfsSeen {
			t.Errorf("tree on B lacks weights.bin as LFS: %+v", tree)
		}
		resp, body := onB.do("GET", "/"+id+"/resolve/main/README.md", nil, nil)
		if resp.StatusCode != 200 || string(body) != "# shared\n" || resp.Header.Get("X-Repo-Commit") != sha {
			t.Errorf("resolve README.md on B: %d %q commit %s", resp.StatusCode, body, resp.Header.Get("X-Repo-Commit"))
		}
		resp, body = onB.do("GET", "/"+id+"/resolve/main/weights.bin", nil, nil)
		if resp.StatusCode != 200 || !bytes.Equal(body, weights) {
			t.Errorf("resolve weights.bin on B: %d, %d bytes", resp.StatusCode, len(body))
		}
	})

	t.Run("SignedLFSURLs", func(t *testing.T) {
		onA.t = t
		// A download URL A signed is good on B; a tampered one is not.
		obj := onA.lfsBatch(id, "download", sha256Hex(weights), int64(len(weights)))
		dl, ok := obj.Actions["download"]
		if !ok {
			t.Fatalf("no download action: %+v", obj)
		}
		onB := b.api("")
		onB.t = t
		resp, body := onB.do("GET", strings.Replace(dl.Href, a.URL, b.URL, 1), nil, dl.Header)
		if resp.StatusCode != 200 || !bytes.Equal(body, weights) {
			t.Errorf("A's signed download URL on B: %d, %d bytes", resp.StatusCode, len(body))
		}
		u, _ := url.Parse(strings.Replace(dl.Href, a.URL, b.URL, 1))
		q := u.Query()
		q.Set("sig", strings.Repeat("0", 64))
		u.RawQuery = q.Encode()
		if resp, _ := onB.do("GET", u.String(), nil, dl.Header); resp.StatusCode != http.StatusForbidden {
			t.Errorf("tampered signature on B: %d, want 403", resp.StatusCode)
		}
		// An upload URL A signed is good on B.
		more := bytes.Repeat([]byte("uploaded through B "), 1000)
		obj = onA.lfsBatch(id, "upload", sha256Hex(more), int64(len(more)))
		up, ok := obj.Actions["upload"]
		if !ok {
			t.Fatalf("no upload action: %+v", obj)
		}
		res, err := put(t.Context(), strings.Replace(up.Href, a.URL, b.URL, 1), up.Header, bytes.NewReader(more), int64(len(more)))
		if err != nil || res.StatusCode/100 != 2 {
			t.Fatalf("A's signed upload URL on B: %v %v", res, err)
		}
		if obj := onA.lfsBatch(id, "upload", sha256Hex(more), int64(len(more))); obj.Actions["upload"].Href != "" {
			t.Errorf("A asks again for an object uploaded through B")
		}
	})

	t.Run("XetToken", func(t *testing.T) {
		onA.t = t
		_, tok := onA.xetToken("models", id, "read", "main")
		chunk := b.URL + "/v1/chunks/default-merkledb/" + strings.Repeat("0", 64)
		if status, body := casDo(t, "GET", chunk, tok, nil); status == http.StatusUnauthorized || status == http.StatusForbidden {
			t.Errorf("A's Xet token on B: %d %s", status, body)
		}
		if status, _ := casDo(t, "GET", chunk, tok+"0", nil); status != http.StatusUnauthorized {
			t.Errorf("tampered Xet token on B: %d, want 401", status)
		}
	})

	t.Run("CacheInvalidation", func(t *testing.T) {
		anonA.t, onB.t, onA.t = t, t, t
		// A caches the public row, B makes the repository private: A must
		// stop serving it to anonymous callers long before its row's TTL.
		if resp, _ := anonA.do("GET", "/api/models/"+id, nil, nil); resp.StatusCode != 200 {
			t.Fatalf("anonymous repo info on A: %d", resp.StatusCode)
		}
		onB.json("PUT", "/api/models/"+id+"/settings", map[string]any{"private": true}, http.StatusOK, nil)
		start := time.Now()
		if msg := within(time.Second, func() string {
			if resp, _ := anonA.do("GET", "/api/models/"+id, nil, nil); resp.StatusCode == 200 {
				return "A still serves the repository made private on B"
			}
			return ""
		}); msg != "" {
			t.Error(msg)
		}
		t.Logf("A saw B's setting after %s", time.Since(start).Round(time.Millisecond))
		onB.json("PUT", "/api/models/"+id+"/settings", map[string]any{"private": false}, http.StatusOK, nil)

		// A caches main's commit, B commits: A answers the new head.
		var rev struct {
			SHA string `json:"sha"`
		}
		onA.json("GET", "/api/models/"+id+"/revision/main", nil, http.StatusOK, &rev)
		next := onB.commit("models", id, "main", "through B",
			commitLine{Key: "file", Value: map[string]any{"path": "b.txt", "encoding": "base64", "content": b64([]byte("b\n"))}})
		if msg := within(500*time.Millisecond, func() string {
			onA.json("GET", "/api/models/"+id+"/revision/main", nil, http.StatusOK, &rev)
			if rev.SHA != next {
				return fmt.Sprintf("A answers main = %s after B committed %s", rev.SHA, next)
			}
			return ""
		}); msg != "" {
			t.Error(msg)
		}
	})

	t.Run("ConcurrentCommits", func(t *testing.T) {
		onA.t = t
		// Writers on both replicas move one branch: compare-and-swap on
		// the shared folder loses none of their commits.
		var before []any
		onA.json("GET", "/api/models/"+id+"/commits/main", nil, http.StatusOK, &before)
		const each = 4
		var wg sync.WaitGroup
		errs := make(chan string, 2*each)
		for i, s := range []*server{a, b, a, b, a, b, a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if msg := rawCommit(s.URL, f.Alice, id, fmt.Sprintf("c%d.txt", i)); msg != "" {
					errs <- msg
				}
			}()
		}
		wg.Wait()
		close(errs)
		for msg := range errs {
			t.Error(msg)
		}
		var after []any
		onA.json("GET", "/api/models/"+id+"/commits/main", nil, http.StatusOK, &after)
		if len(after) != len(before)+2*each {
			t.Errorf("%d commits after %d concurrent ones on top of %d", len(after), 2*each, len(before))
		}
	})

	t.Run("BrowserSession", func(t *testing.T) {
		jar := &cookieClient{t: t, origin: a.URL}
		jar.signIn(a.URL, "alice", "pw-alice-e2e-secret")
		for _, s := range []*server{a, b} {
			if name := jar.whoami(s.URL); name != "alice" {
				t.Errorf("session from A on %s: whoami %q", s.URL, name)
			}
		}
		// Signed out on B, the session stops working on A, which had it cached.
		jar.post(b.URL + "/logout")
		if msg := within(time.Second, func() string {
			if name := jar.whoami(a.URL); name != "" {
				return "A still accepts the session signed out on B as " + name
			}
			return ""
		}); msg != "" {
			t.Error(msg)
		}
	})

	t.Run("SharedSearchIndex", func(t *testing.T) {
		onA.t, onB.t = t, t
		// The replica that converts the dataset builds its search index
		// and stores it; the other downloads it instead of building it.
		onA.createRepo("dataset", "alice", "reviews", false)
		onA.commit("datasets", "alice/reviews", "main", "data",
			commitLine{Key: "file", Value: map[string]any{"path": "data.csv", "encoding": "base64",
				"content": b64([]byte("text,label\nbananas are yellow,1\ncherries are red,0\nlemons are sour,1\n"))}})
		const built, downloaded = "viewer search index built", "viewer search index downloaded"
		deadline := time.Now().Add(90 * time.Second)
		for strings.Count(a.log.String()+b.log.String(), built) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("no replica built the search index within 90 s")
			}
			time.Sleep(100 * time.Millisecond)
		}
		for _, api := range []*api{onA, onB} {
			var out struct {
				Rows []struct {
					Row map[string]any `json:"row"`
				} `json:"rows"`
			}
			api.json("GET", "/datasets-server/search?dataset=alice/reviews&config=default&split=train&query=yellow&offset=0&length=10",
				nil, http.StatusOK, &out)
			if len(out.Rows) != 1 || out.Rows[0].Row["text"] != "bananas are yellow" {
				t.Errorf("search on %s: %+v", api.base, out.Rows)
			}
		}
		// Servers write their log lines out every 200 ms.
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) &&
			strings.Count(a.log.String()+b.log.String(), downloaded) == 0; {
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond) // and a second build or download would show by now
		logs := a.log.String() + b.log.String()
		if n := strings.Count(logs, built); n != 1 {
			t.Errorf("the search index was built %d times", n)
		}
		if n := strings.Count(logs, downloaded); n != 1 {
			t.Errorf("the search index was downloaded %d times, want 1", n)
		}
	})

	t.Run("SignInLimits", func(t *testing.T) {
		// Ten failures for one account, spread over both replicas, lock it
		// on both: the counts are shared.
		for i := range 10 {
			base := []string{a.URL, b.URL}[i%2]
			if status := signInStatus(t, base, a.URL, "bob", "wrong"); status != http.StatusUnauthorized {
				t.Fatalf("failure %d on %s: %d", i+1, base, status)
			}
		}
		for _, s := range []*server{a, b} {
			if status := signInStatus(t, s.URL, a.URL, "bob", "pw-bob-e2e-secret"); status != http.StatusTooManyRequests {
				t.Errorf("bob's right password on %s after ten failures: %d, want 429", s.URL, status)
			}
		}
	})

	t.Run("QueueOnce", func(t *testing.T) {
		onA.t = t
		// A webhook delivery is a queued task; both replicas run delivery
		// workers, and it must be delivered once.
		var mu sync.Mutex
		var got []string
		hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			mu.Lock()
			got = append(got, string(body))
			mu.Unlock()
		}))
		defer hook.Close()
		onA.json("POST", "/api/settings/webhooks", map[string]any{"url": hook.URL, "domains": []string{"repo"},
			"watched": []map[string]string{{"type": "user", "name": "alice"}}}, http.StatusOK, nil)
		const commits = 3
		for i := range commits {
			rawCommit([]string{a.URL, b.URL}[i%2], f.Alice, id, fmt.Sprintf("hook%d.txt", i))
		}
		count := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }
		deadline := time.Now().Add(30 * time.Second)
		for count() < commits && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(2 * time.Second) // a second delivery would come by now
		if n := count(); n != commits {
			t.Errorf("%d deliveries for %d commits", n, commits)
		}
	})
}

// rawCommit commits one small file without the test helpers, which may
// not fail the test from another goroutine; it returns a complaint or "".
func rawCommit(base, token, id, path string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.Encode(commitLine{Key: "header", Value: map[string]any{"summary": "add " + path}})
	enc.Encode(commitLine{Key: "file", Value: map[string]any{"path": path, "encoding": "base64", "content": b64([]byte(path))}})
	req, err := http.NewRequest("POST", base+"/api/models/"+id+"/commit/main", &buf)
	if err != nil {
		return err.Error()
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Sprintf("commit %s on %s: %d %s", path, base, resp.StatusCode, truncate(body, 300))
	}
	return ""
}

// cookieClient is a browser reduced to its session cookie.
type cookieClient struct {
	t      *testing.T
	origin string // the hub's public origin, sent with forms
	cookie *http.Cookie
}

func (c *cookieClient) send(req *http.Request) *http.Response {
	c.t.Helper()
	if c.cookie != nil {
		req.AddCookie(c.cookie)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func (c *cookieClient) signIn(base, user, password string) {
	c.t.Helper()
	form := url.Values{"username": {user}, "password": {password}}
	req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", c.origin)
	resp := c.send(req)
	for _, ck := range resp.Cookies() {
		if ck.Name == "haven_session" && ck.Value != "" {
			c.cookie = ck
		}
	}
	if resp.StatusCode != http.StatusSeeOther || c.cookie == nil {
		c.t.Fatalf("sign-in on %s: %d, cookie %v", base, resp.StatusCode, c.cookie)
	}
}

func (c *cookieClient) post(u string) {
	c.t.Helper()
	req, _ := http.NewRequest("POST", u, nil)
	req.Header.Set("Origin", c.origin)
	if resp := c.send(req); resp.StatusCode/100 != 3 && resp.StatusCode != 200 {
		c.t.Fatalf("POST %s: %d", u, resp.StatusCode)
	}
}

// whoami returns the signed-in user's name on base, or "".
func (c *cookieClient) whoami(base string) string {
	c.t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/whoami-v2", nil)
	req.AddCookie(c.cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Name string `json:"name"`
	}
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&out) != nil {
		return ""
	}
	return out.Name
}

// signInStatus submits the sign-in form on base and returns the status.
func signInStatus(t *testing.T, base, origin, user, password string) int {
	t.Helper()
	form := url.Values{"username": {user}, "password": {password}}
	req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", origin)
	c := &cookieClient{t: t}
	return c.send(req).StatusCode
}
