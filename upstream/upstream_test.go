package upstream

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/blob/fs"
	"github.com/havenhub/haven/hubhttp"
)

func TestKeys(t *testing.T) {
	const host = "https://hub.example"
	k := metaKey(host, haven.Model, "a/b", strings.Repeat("1", 40), "info", "")
	if k != metaKey(host, haven.Model, "a/b", strings.Repeat("1", 40), "info", "") {
		t.Fatal("metaKey is not deterministic")
	}
	seen := map[string]string{}
	add := func(name, key string) {
		t.Helper()
		if !blob.ValidKey(key) {
			t.Errorf("%s: %q is not a valid blob key", name, key)
		}
		if other, ok := seen[key]; ok {
			t.Errorf("%s and %s share the key %s", name, other, key)
		}
		seen[key] = name
	}
	c1, c2 := strings.Repeat("1", 40), strings.Repeat("2", 40)
	add("base", k)
	add("other upstream", metaKey("https://other.example", haven.Model, "a/b", c1, "info", ""))
	add("dataset", metaKey(host, haven.Dataset, "a/b", c1, "info", ""))
	add("other repo", metaKey(host, haven.Model, "a/c", c1, "info", ""))
	add("other commit", metaKey(host, haven.Model, "a/b", c2, "info", ""))
	add("other kind", metaKey(host, haven.Model, "a/b", c1, "tree", ""))
	add("other query", metaKey(host, haven.Model, "a/b", c1, "info", "expand=sha"))
	// Parts are length-prefixed: moving a boundary changes the key.
	add("shifted parts", metaKey(host, haven.Model, "a/b", c1, "inf", "oexpand=sha"))
	add("state main", stateKey(host, haven.Model, "a/b", "main"))
	add("state default", stateKey(host, haven.Model, "a/b", ""))
	add("state with a slash", stateKey(host, haven.Model, "a/b", "refs/pr/1"))
	add("odd names", stateKey(host, haven.Model, "..//x y", "../../etc"))

	oid := strings.Repeat("ab", 32)
	lfsEntry := &entry{Type: "file", Path: "w.bin", OID: c1, Size: 134}
	lfsEntry.LFS = &struct {
		OID  string `json:"oid"`
		Size int64  `json:"size"`
	}{oid, 5}
	if got := contentKey(lfsEntry); got != "upstream/lfs/ab/ab/"+oid {
		t.Errorf("LFS content key %q", got)
	}
	if got := contentKey(&entry{Type: "file", OID: c2, Size: 3}); got != "upstream/git/22/22/"+c2 {
		t.Errorf("git content key %q", got)
	}
}

func gitOID(b []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(b))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

func TestGitBlobVerifier(t *testing.T) {
	d := newBlobs(t)
	ctx := context.Background()
	good := []byte("hello\n")
	oid := gitOID(good)
	if oid != "ce013625030ba8dba906f756967f9e9ca394464a" {
		t.Fatalf("git blob id of hello: %s", oid)
	}
	for name, body := range map[string][]byte{"wrong byte": []byte("hellO\n"), "short": []byte("hello"), "long": []byte("hello\n!")} {
		err := d.Put(ctx, "upstream/git/x", newGitBlobVerifier(bytes.NewReader(body), oid, int64(len(good))), int64(len(good)))
		if err == nil {
			t.Errorf("%s: stored", name)
		}
		if _, err := d.Stat(ctx, "upstream/git/x"); err == nil {
			t.Fatalf("%s: a mismatching blob is visible", name)
		}
	}
	if err := d.Put(ctx, "upstream/git/x", newGitBlobVerifier(bytes.NewReader(good), oid, int64(len(good))), int64(len(good))); err != nil {
		t.Fatal(err)
	}
}

func newBlobs(t *testing.T) blob.Driver {
	d, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// fakeHub is an upstream with one repository, acme/m, whose answers a test
// changes as it goes.
type fakeHub struct {
	mu      sync.Mutex
	commit  string
	private bool
	files   map[string][]byte // what the metadata describes
	serve   map[string][]byte // what resolve sends
	lfs     map[string]bool
	down    bool
	auths   []string
}

func (f *fakeHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.auths = append(f.auths, r.Header.Get("Authorization"))
	if f.down {
		http.Error(w, "down", http.StatusBadGateway)
		return
	}
	p := r.URL.Path
	switch {
	case p == "/api/models/m" || strings.HasPrefix(p, "/api/models/m/"):
		// An id without a namespace, as the Hub redirects old ones.
		http.Redirect(w, r, "/api/models/acme/m"+strings.TrimPrefix(p, "/api/models/m"), http.StatusTemporaryRedirect)
	case strings.HasPrefix(p, "/m/resolve/"):
		http.Redirect(w, r, "/acme"+p, http.StatusTemporaryRedirect)
	case p == "/api/models/acme/m" || strings.HasPrefix(p, "/api/models/acme/m/revision/"):
		hubhttp.WriteJSON(w, 200, map[string]any{"id": "acme/m", "sha": f.commit, "private": f.private, "gated": false, "xetEnabled": true})
	case strings.HasPrefix(p, "/api/models/acme/m/paths-info/"):
		r.ParseForm()
		out := []map[string]any{}
		for _, path := range r.PostForm["paths"] {
			b, ok := f.files[path]
			if !ok {
				continue
			}
			e := map[string]any{"type": "file", "path": path, "size": len(b), "oid": gitOID(b), "xetHash": "x"}
			if f.lfs[path] {
				sum := sha256.Sum256(b)
				e["lfs"] = map[string]any{"oid": hex.EncodeToString(sum[:]), "size": len(b)}
			}
			out = append(out, e)
		}
		hubhttp.WriteJSON(w, 200, out)
	case strings.HasPrefix(p, "/acme/m/resolve/"+f.commit+"/"):
		b, ok := f.serve[strings.TrimPrefix(p, "/acme/m/resolve/"+f.commit+"/")]
		if !ok {
			w.Header().Set("X-Error-Code", "EntryNotFound")
			http.Error(w, "no", 404)
			return
		}
		w.Write(b)
	default:
		w.Header().Set("X-Error-Code", "RepoNotFound")
		w.Header().Set("X-Error-Message", "Repository not found")
		w.WriteHeader(404)
	}
}

func newCache(t *testing.T, h http.Handler, cfg Config) (*Cache, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg.URL = srv.URL
	cfg.AllowPrivate = true
	if cfg.Blobs == nil {
		cfg.Blobs = newBlobs(t)
	}
	cfg.PublicURL = "http://hub.local"
	c, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, srv
}

// get sends a GET through the cache as the api package would.
func get(c *Cache, path, token string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	segs := strings.Split(strings.Trim(path, "/"), "/")
	var req api.RepoRequest
	if segs[0] == "api" {
		req = api.RepoRequest{Type: haven.Model, Namespace: segs[2], Name: segs[3]}
		if len(segs) > 4 {
			req.Action, req.Rest = segs[4], segs[5:]
		}
	} else {
		req = api.RepoRequest{Type: haven.Model, Namespace: segs[0], Name: segs[1], Action: segs[2], Rest: segs[3:]}
	}
	req.Token = token
	w := httptest.NewRecorder()
	if !c.ServeRepo(w, r, req) {
		w.Code = -1
	}
	return w
}

func TestCorruptDownloadIsDiscarded(t *testing.T) {
	weights := bytes.Repeat([]byte("weights!"), 4096)
	bad := bytes.Clone(weights)
	bad[100] ^= 1
	hub := &fakeHub{
		commit: strings.Repeat("c", 40),
		files:  map[string][]byte{"w.bin": weights, "config.json": []byte(`{"a":1}`)},
		serve:  map[string][]byte{"w.bin": bad, "config.json": []byte(`{"a":2}`)},
		lfs:    map[string]bool{"w.bin": true},
	}
	blobs := newBlobs(t)
	c, _ := newCache(t, hub, Config{Blobs: blobs})
	for _, p := range []string{"w.bin", "config.json"} {
		w := get(c, "/acme/m/resolve/main/"+p, "")
		if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Header().Get("X-Error-Message"), "discarded") {
			t.Fatalf("%s with wrong bytes: %d %q", p, w.Code, w.Header().Get("X-Error-Message"))
		}
		if bytes.Contains(w.Body.Bytes(), []byte("weights!")) || bytes.Contains(w.Body.Bytes(), []byte(`"a":2`)) {
			t.Fatalf("%s: the wrong bytes were served", p)
		}
	}
	n := 0
	blobs.List(context.Background(), "upstream/lfs/", func(blob.Info) error { n++; return nil })
	blobs.List(context.Background(), "upstream/git/", func(blob.Info) error { n++; return nil })
	if n != 0 {
		t.Fatalf("%d corrupted objects were kept", n)
	}

	// Once the upstream sends the right bytes, they are served and kept.
	hub.mu.Lock()
	hub.serve = hub.files
	hub.mu.Unlock()
	w := get(c, "/acme/m/resolve/main/w.bin", "")
	if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), weights) {
		t.Fatalf("good download: %d, %d bytes", w.Code, w.Body.Len())
	}
	sum := sha256.Sum256(weights)
	if w.Header().Get("X-Linked-Etag") != `"`+hex.EncodeToString(sum[:])+`"` || w.Header().Get("X-Repo-Commit") != hub.commit {
		t.Errorf("headers %v", w.Header())
	}
	// Then from the cache, even with the upstream down, with ranges.
	hub.mu.Lock()
	hub.down = true
	hub.mu.Unlock()
	r := httptest.NewRequest(http.MethodGet, "/acme/m/resolve/main/w.bin", nil)
	r.Header.Set("Range", "bytes=8-15")
	rec := httptest.NewRecorder()
	c.ServeRepo(rec, r, api.RepoRequest{Type: haven.Model, Namespace: "acme", Name: "m", Action: "resolve", Rest: []string{"main", "w.bin"}})
	if rec.Code != http.StatusPartialContent || rec.Body.String() != "weights!" {
		t.Fatalf("range from the cache: %d %q", rec.Code, rec.Body.String())
	}
}

func TestPrivateRepositoriesAreNotCached(t *testing.T) {
	hub := &fakeHub{commit: strings.Repeat("d", 40), private: true, files: map[string][]byte{}}
	blobs := newBlobs(t)
	c, _ := newCache(t, hub, Config{Blobs: blobs, Token: "hub-token"})
	w := get(c, "/api/models/acme/m", "caller-token")
	if w.Code != 200 {
		t.Fatalf("private info with the caller's token: %d %s", w.Code, w.Body)
	}
	var info map[string]any
	json.Unmarshal(w.Body.Bytes(), &info)
	if info["upstream"] != c.Host() || info["xetEnabled"] != false {
		t.Errorf("info %v", info)
	}
	hub.mu.Lock()
	auths := hub.auths
	hub.mu.Unlock()
	if len(auths) != 2 || auths[0] != "Bearer hub-token" || auths[1] != "Bearer caller-token" {
		t.Errorf("the upstream saw the tokens %q; want the hub's for the state, the caller's for the answer", auths)
	}
	n := 0
	blobs.List(context.Background(), "upstream/", func(blob.Info) error { n++; return nil })
	if n != 0 {
		t.Fatalf("%d objects were kept of a private repository", n)
	}
	hub.mu.Lock()
	hub.down = true
	hub.mu.Unlock()
	c.states = map[string]*revState{}
	if w := get(c, "/api/models/acme/m", ""); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("private repository with the upstream down: %d", w.Code)
	}
}

func TestAllowAndDeny(t *testing.T) {
	c, _ := newCache(t, &fakeHub{commit: strings.Repeat("e", 40)}, Config{Allow: []string{"acme", "other"}, Deny: []string{"other"}})
	if w := get(c, "/api/models/acme/m", ""); w.Code != 200 {
		t.Fatalf("allowed namespace: %d %s", w.Code, w.Body)
	}
	for _, p := range []string{"/api/models/other/m", "/api/models/third/m"} {
		w := get(c, p, "")
		if w.Code != http.StatusUnauthorized || w.Header().Get("X-Error-Code") != "RepoNotFound" {
			t.Errorf("%s: %d %v", p, w.Code, w.Header())
		}
	}
	// Writes are not the cache's.
	if w := get(c, "/api/models/acme/m/settings", ""); w.Code != -1 {
		t.Errorf("settings: taken (%d)", w.Code)
	}
}

func TestUpstreamErrors(t *testing.T) {
	hub := &fakeHub{commit: strings.Repeat("f", 40), files: map[string][]byte{}}
	c, _ := newCache(t, hub, Config{})
	w := get(c, "/api/models/acme/missing", "")
	if w.Header().Get("X-Error-Code") != "RepoNotFound" || !strings.Contains(w.Header().Get("X-Error-Message"), c.Host()) {
		t.Errorf("missing repository: %d %v", w.Code, w.Header())
	}
	w = get(c, "/acme/m/resolve/main/nope.bin", "")
	if w.Code != 404 || w.Header().Get("X-Error-Code") != "EntryNotFound" {
		t.Errorf("missing file: %d %v", w.Code, w.Header())
	}
}

func TestLocalLink(t *testing.T) {
	c, srv := newCache(t, &fakeHub{}, Config{})
	got := c.localLink(`<` + srv.URL + `/api/models/a/b/tree/c?cursor=abc&expand=1>; rel="next", <` + srv.URL + `/api/models/a/b/xet-read-token/c>; rel="xet-auth"`)
	if got != `<http://hub.local/api/models/a/b/tree/c?cursor=abc&expand=1>; rel="next"` {
		t.Errorf("localLink: %q", got)
	}
	if got := c.localLink(`<https://elsewhere.example/x>; rel="next"`); got != "" {
		t.Errorf("a link elsewhere: %q", got)
	}
}

func TestNewRefusesPrivateUpstreams(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:9", "http://localhost:9", "http://10.1.2.3", "ftp://hub.example", "https://user:pw@hub.example"} {
		if _, err := New(context.Background(), Config{URL: u, Blobs: newBlobs(t)}); err == nil {
			t.Errorf("%s accepted", u)
		}
	}
	if _, err := New(context.Background(), Config{URL: "http://127.0.0.1:9", AllowPrivate: true, Blobs: newBlobs(t)}); err != nil {
		t.Errorf("allowed private upstream: %v", err)
	}
}

func TestUnreachableUpstreamIsRememberedBriefly(t *testing.T) {
	c, srv := newCache(t, &fakeHub{commit: strings.Repeat("a", 40)}, Config{})
	if w := get(c, "/api/models/acme/m", ""); w.Code != 200 {
		t.Fatalf("online: %d", w.Code)
	}
	srv.Close()
	c.states = map[string]*revState{}
	w := get(c, "/api/models/acme/m/revision/dev", "")
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Header().Get("X-Error-Message"), "unreachable") {
		t.Fatalf("upstream gone, nothing cached: %d %q", w.Code, w.Header().Get("X-Error-Message"))
	}
	if c.down() == nil {
		t.Fatal("the failed connection was not remembered")
	}
	// What was cached is still served: the default branch's commit and info.
	if w := get(c, "/api/models/acme/m", ""); w.Code != 200 {
		t.Fatalf("cached info with the upstream gone: %d %s", w.Code, w.Body)
	}
}

func TestOneDownloadForConcurrentRequests(t *testing.T) {
	weights := bytes.Repeat([]byte("0123456789abcdef"), 1<<14)
	hub := &fakeHub{
		commit: strings.Repeat("b", 40),
		files:  map[string][]byte{"w.bin": weights},
		serve:  map[string][]byte{"w.bin": weights},
		lfs:    map[string]bool{"w.bin": true},
	}
	var resolves sync.WaitGroup
	counted := 0
	var mu sync.Mutex
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/resolve/") {
			mu.Lock()
			counted++
			mu.Unlock()
		}
		hub.ServeHTTP(w, r)
	})
	c, _ := newCache(t, h, Config{})
	for range 8 {
		resolves.Add(1)
		go func() {
			defer resolves.Done()
			if w := get(c, "/acme/m/resolve/main/w.bin", ""); w.Code != 200 || !bytes.Equal(w.Body.Bytes(), weights) {
				t.Errorf("concurrent GET: %d, %d bytes", w.Code, w.Body.Len())
			}
		}()
	}
	resolves.Wait()
	if counted != 1 {
		t.Errorf("the upstream was asked for the file %d times", counted)
	}
}

func TestIDWithoutNamespace(t *testing.T) {
	hub := &fakeHub{
		commit: strings.Repeat("9", 40),
		files:  map[string][]byte{"config.json": []byte(`{"a":1}`)},
		serve:  map[string][]byte{"config.json": []byte(`{"a":1}`)},
	}
	serve := func(c *Cache, action string, rest ...string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		c.ServeRepo(w, httptest.NewRequest(http.MethodGet, "/x", nil), api.RepoRequest{Type: haven.Model, Name: "m", Action: action, Rest: rest})
		return w
	}
	c, _ := newCache(t, hub, Config{})
	if w := serve(c, ""); w.Code != 200 || !strings.Contains(w.Body.String(), `"acme/m"`) {
		t.Fatalf("info of m: %d %s", w.Code, w.Body)
	}
	if w := serve(c, "resolve", "main", "config.json"); w.Code != 200 || w.Body.String() != `{"a":1}` {
		t.Fatalf("resolve of m: %d %s", w.Code, w.Body)
	}
	// The deny list applies to where the id leads.
	denied, _ := newCache(t, hub, Config{Deny: []string{"acme"}})
	if w := serve(denied, ""); w.Code != http.StatusUnauthorized || w.Header().Get("X-Error-Code") != "RepoNotFound" {
		t.Fatalf("denied through a redirect: %d %v", w.Code, w.Header())
	}
}

func TestListed(t *testing.T) {
	hub := &fakeHub{commit: strings.Repeat("7", 40)}
	c, _ := newCache(t, hub, Config{})
	ctx := context.Background()
	if got := c.Listed(ctx, haven.Model, "", ""); len(got) != 0 {
		t.Fatalf("listed before anything was fetched: %v", got)
	}
	if w := get(c, "/api/models/acme/m", ""); w.Code != 200 {
		t.Fatal(w.Code)
	}
	got := c.Listed(ctx, haven.Model, "M", "acme")
	if len(got) != 1 || got[0]["id"] != "acme/m" || got[0]["upstream"] != c.Host() {
		t.Fatalf("listed %v", got)
	}
	for _, q := range [][2]string{{"nope", ""}, {"", "other"}} {
		if got := c.Listed(ctx, haven.Model, q[0], q[1]); len(got) != 0 {
			t.Errorf("search %q author %q: %v", q[0], q[1], got)
		}
	}
	if got := c.Listed(ctx, haven.Dataset, "", ""); len(got) != 0 {
		t.Errorf("datasets: %v", got)
	}
	// A private repository is never listed.
	priv, _ := newCache(t, &fakeHub{commit: strings.Repeat("7", 40), private: true}, Config{})
	get(priv, "/api/models/acme/m", "token")
	if got := priv.Listed(ctx, haven.Model, "", ""); len(got) != 0 {
		t.Errorf("private repository listed: %v", got)
	}
}
