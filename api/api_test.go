package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/gitstore"
	"github.com/havenhub/haven/internal/storetest"
)

// hub is a running API server on real stores in a temporary folder.
type hub struct {
	t      *testing.T
	url    string
	tokens map[string]string // user → write token
	read   map[string]string // user → read token
	git    *gitstore.Store
}

func newHub(t *testing.T) *hub {
	t.Helper()
	ctx := context.Background()
	st := storetest.Open(t)
	m, g, b := st.Meta, st.Git, st.Blobs
	h := &hub{t: t, tokens: map[string]string{}, read: map[string]string{}, git: g}
	ts := httptest.NewUnstartedServer(nil)
	ts.Start()
	t.Cleanup(ts.Close)
	srv, err := api.New(api.Config{Meta: m, Git: g, Blobs: b, PublicURL: ts.URL, Secret: []byte("test-secret-test-secret-test-secret")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ts.Config.Handler = srv
	h.url = ts.URL
	for _, name := range []string{"alice", "bob"} {
		u := &haven.User{Name: name}
		if err := m.CreateUser(ctx, u, ""); err != nil {
			t.Fatal(err)
		}
		for _, role := range []haven.Role{haven.RoleWrite, haven.RoleRead} {
			plain, hash := auth.NewToken()
			if err := m.CreateToken(ctx, &haven.Token{UserID: u.ID, DisplayName: "t", Role: role}, hash); err != nil {
				t.Fatal(err)
			}
			if role == haven.RoleWrite {
				h.tokens[name] = plain
			} else {
				h.read[name] = plain
			}
		}
	}
	return h
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %q: %v", r.body, err)
	}
}

func (h *hub) do(method, path, token, contentType string, body []byte, hdr ...string) resp {
	h.t.Helper()
	req, err := http.NewRequest(method, h.url+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, b}
}

func (h *hub) createRepo(token, name string, private bool) {
	h.t.Helper()
	body, _ := json.Marshal(map[string]any{"name": name, "private": private})
	if r := h.do("POST", "/api/repos/create", token, "application/json", body); r.status != 200 {
		h.t.Fatalf("create %s: %d %s", name, r.status, r.body)
	}
}

func ndjson(lines ...map[string]any) []byte {
	var b bytes.Buffer
	for _, l := range lines {
		json.NewEncoder(&b).Encode(l)
	}
	return b.Bytes()
}

func header(summary string) map[string]any {
	return map[string]any{"key": "header", "value": map[string]any{"summary": summary, "description": ""}}
}

func file(path, content string) map[string]any {
	return map[string]any{"key": "file", "value": map[string]any{"path": path, "content": base64.StdEncoding.EncodeToString([]byte(content)), "encoding": "base64"}}
}

func (h *hub) commit(token, repo, rev string, lines ...map[string]any) resp {
	h.t.Helper()
	return h.do("POST", "/api/models/"+repo+"/commit/"+rev, token, "application/x-ndjson", ndjson(lines...))
}

func TestErrorShape(t *testing.T) {
	h := newHub(t)
	alice := h.tokens["alice"]
	h.createRepo(alice, "private-model", true)
	h.createRepo(alice, "public-model", false)

	cases := []struct {
		name, method, path, token string
		status                    int
		code                      string
	}{
		{"missing repo anonymous", "GET", "/api/models/alice/nope", "", 401, "RepoNotFound"},
		{"missing repo signed in", "GET", "/api/models/alice/nope", h.tokens["bob"], 404, "RepoNotFound"},
		{"private repo for bob", "GET", "/api/models/alice/private-model", h.tokens["bob"], 404, "RepoNotFound"},
		{"private resolve for bob", "HEAD", "/alice/private-model/resolve/main/.gitattributes", h.tokens["bob"], 404, "RepoNotFound"},
		{"private tree anonymous", "GET", "/api/models/alice/private-model/tree/main", "", 401, "RepoNotFound"},
		{"private commits for bob", "GET", "/api/models/alice/private-model/commits/main", h.tokens["bob"], 404, "RepoNotFound"},
		{"private lfs batch for bob", "POST", "/alice/private-model.git/info/lfs/objects/batch", h.tokens["bob"], 404, "RepoNotFound"},
		{"private git for bob", "GET", "/alice/private-model.git/info/refs?service=git-upload-pack", h.tokens["bob"], 404, "RepoNotFound"},
		{"unknown revision", "GET", "/api/models/alice/public-model/revision/nope", "", 404, "RevisionNotFound"},
		{"unknown file", "HEAD", "/alice/public-model/resolve/main/nope.txt", "", 404, "EntryNotFound"},
		{"unknown folder in tree", "GET", "/api/models/alice/public-model/tree/main/nope", "", 404, "EntryNotFound"},
		{"invalid token", "GET", "/api/models/alice/public-model", "hf_notatokenatall", 401, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.do(c.method, c.path, c.token, "application/json", []byte(`{"operation":"download","objects":[]}`))
			if r.status != c.status {
				t.Fatalf("status %d, want %d (%s)", r.status, c.status, r.body)
			}
			if got := r.header.Get("X-Error-Code"); got != c.code {
				t.Errorf("X-Error-Code %q, want %q", got, c.code)
			}
			if r.header.Get("X-Error-Message") == "" || r.header.Get("X-Request-Id") == "" {
				t.Errorf("missing X-Error-Message or X-Request-Id: %v", r.header)
			}
			if c.method != "HEAD" && !bytes.Contains(r.body, []byte(`"error"`)) {
				t.Errorf("body %q has no error", r.body)
			}
		})
	}
	if r := h.do("HEAD", "/alice/public-model/resolve/main/nope.txt", "", "", nil); len(r.header.Get("X-Repo-Commit")) != 40 {
		t.Errorf("EntryNotFound must carry X-Repo-Commit, got %q", r.header.Get("X-Repo-Commit"))
	}
	if r := h.do("GET", "/api/models/alice/public-model", "hf_notatokenatall", "", nil); r.header.Get("X-Error-Message") != auth.ErrInvalidToken {
		t.Errorf("invalid token message %q", r.header.Get("X-Error-Message"))
	}
}

// Repository ids without a namespace ("gpt2") exist on the Hub but never in
// Haven; clients that ask about one must get RepoNotFound, which they turn
// into "repository not found" (repo_exists, file_exists and friends answer
// false), not an uncoded 404 that they raise as a generic HTTP error.
func TestIDWithoutNamespace(t *testing.T) {
	h := newHub(t)
	alice := h.tokens["alice"]
	h.createRepo(alice, "resolve", false)
	cases := []struct {
		method, path, token string
		status              int
		code                string
	}{
		{"GET", "/api/models/gpt2", alice, 404, "RepoNotFound"},
		{"HEAD", "/api/datasets/gpt2", "", 401, "RepoNotFound"},
		{"GET", "/api/models/gpt2/revision/main", alice, 404, "RepoNotFound"},
		{"GET", "/api/models/gpt2/commits/main", alice, 404, "RepoNotFound"},
		{"GET", "/api/spaces/gpt2/tree/main/sub", alice, 404, "RepoNotFound"},
		{"DELETE", "/api/models/gpt2/like", alice, 404, "RepoNotFound"},
		{"POST", "/api/models/gpt2/preupload/main", alice, 404, "RepoNotFound"},
		{"HEAD", "/gpt2/resolve/main/config.json", alice, 404, "RepoNotFound"},
		{"GET", "/datasets/gpt2/raw/main/data/x.csv", "", 401, "RepoNotFound"},
		// Paths that are no action in either reading stay uncoded.
		{"GET", "/api/models/gpt2/nonsense/main", alice, 404, ""},
		{"PUT", "/api/models/gpt2/like", alice, 404, ""},
		// A repository really named "resolve" keeps its own URLs.
		{"HEAD", "/alice/resolve/resolve/main/.gitattributes", "", 200, ""},
		{"GET", "/api/models/alice/resolve/revision/main", "", 200, ""},
	}
	for _, c := range cases {
		r := h.do(c.method, c.path, c.token, "application/json", []byte(`{"files":[]}`))
		if r.status != c.status || r.header.Get("X-Error-Code") != c.code {
			t.Errorf("%s %s: %d %q, want %d %q (%s)", c.method, c.path, r.status, r.header.Get("X-Error-Code"), c.status, c.code, r.body)
		}
	}
}

func TestHostileCommits(t *testing.T) {
	h := newHub(t)
	alice := h.tokens["alice"]
	h.createRepo(alice, "m", false)
	cases := []struct {
		name   string
		body   []byte
		status int
	}{
		{"dot dot", ndjson(header("x"), file("../evil", "x")), 422},
		{"nested dot dot", ndjson(header("x"), file("a/../../evil", "x")), 422},
		{"absolute", ndjson(header("x"), file("/etc/passwd", "x")), 422},
		{"git folder", ndjson(header("x"), file(".git/config", "x")), 422},
		{"nested git folder", ndjson(header("x"), file("a/.git/hooks/post-update", "x")), 422},
		{"backslash", ndjson(header("x"), file(`..\ddd`, "x")), 422},
		{"malformed json", []byte("{\"key\":\"header\",\"value\":{}}\n{not json\n"), 400},
		{"no header", ndjson(file("a.txt", "x")), 400},
		{"unknown key", ndjson(header("x"), map[string]any{"key": "explode", "value": map[string]any{}}), 400},
		{"lfs object never uploaded", ndjson(header("x"), map[string]any{"key": "lfsFile", "value": map[string]any{"path": "w.bin", "algo": "sha256", "oid": strings.Repeat("a", 64), "size": 3}}), 400},
		{"regular file over 10 MiB", ndjson(header("x"), file("big.txt", strings.Repeat("x", 10<<20+1))), 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.do("POST", "/api/models/alice/m/commit/main", alice, "application/x-ndjson", c.body)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
			}
		})
	}
	// Nothing of the refused commits reached the repository.
	var commits []map[string]any
	h.do("GET", "/api/models/alice/m/commits/main", alice, "", nil).json(t, &commits)
	if len(commits) != 1 {
		t.Errorf("refused commits changed history: %d commits", len(commits))
	}
}

func TestReadTokenCannotWrite(t *testing.T) {
	h := newHub(t)
	h.createRepo(h.tokens["alice"], "m", false)
	r := h.commit(h.read["alice"], "alice/m", "main", header("x"), file("a.txt", "x"))
	if r.status != 403 {
		t.Fatalf("read token commit: %d %s", r.status, r.body)
	}
	r = h.commit(h.tokens["bob"], "alice/m", "main", header("x"), file("a.txt", "x"))
	if r.status != 403 {
		t.Fatalf("bob commit to alice's repo: %d %s", r.status, r.body)
	}
}

func TestConcurrentCommitsKeepEveryChange(t *testing.T) {
	h := newHub(t)
	alice := h.tokens["alice"]
	h.createRepo(alice, "m", false)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := h.commit(alice, "alice/m", "main", header(fmt.Sprintf("c%d", i)), file(fmt.Sprintf("f%d.txt", i), "x"))
			if r.status != 200 {
				errs <- fmt.Sprintf("%d %s", r.status, r.body)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	var tree []map[string]any
	h.do("GET", "/api/models/alice/m/tree/main", "", "", nil).json(t, &tree)
	if len(tree) != n+1 {
		t.Fatalf("tree has %d entries, want %d", len(tree), n+1)
	}
	r := h.do("GET", "/api/models/alice/m/commits/main", "", "", nil)
	if r.header.Get("X-Total-Count") != fmt.Sprint(n+1) {
		t.Fatalf("X-Total-Count %q, want %d", r.header.Get("X-Total-Count"), n+1)
	}
}

func TestStaleParentCommit(t *testing.T) {
	h := newHub(t)
	alice := h.tokens["alice"]
	h.createRepo(alice, "m", false)
	var info map[string]any
	h.do("GET", "/api/models/alice/m", "", "", nil).json(t, &info)
	first := info["sha"].(string)
	if r := h.commit(alice, "alice/m", "main", header("one"), file("a.txt", "1")); r.status != 200 {
		t.Fatal(r.status, string(r.body))
	}
	stale := map[string]any{"key": "header", "value": map[string]any{"summary": "two", "parentCommit": first}}
	if r := h.commit(alice, "alice/m", "main", stale, file("a.txt", "2")); r.status != 412 {
		t.Fatalf("stale parent: %d %s", r.status, r.body)
	}
}

func lfsUpload(t *testing.T, h *hub, token, repo string, data []byte) (oid string, r resp) {
	t.Helper()
	sum := sha256.Sum256(data)
	oid = hex.EncodeToString(sum[:])
	body, _ := json.Marshal(map[string]any{"operation": "upload", "transfers": []string{"basic"}, "objects": []map[string]any{{"oid": oid, "size": len(data)}}})
	br := h.do("POST", "/"+repo+".git/info/lfs/objects/batch", token, "application/vnd.git-lfs+json", body)
	if br.status != 200 {
		t.Fatalf("batch: %d %s", br.status, br.body)
	}
	var batch struct {
		Objects []struct {
			Actions map[string]struct {
				Href string `json:"href"`
			} `json:"actions"`
		} `json:"objects"`
	}
	br.json(t, &batch)
	up, ok := batch.Objects[0].Actions["upload"]
	if !ok {
		return oid, resp{status: 200}
	}
	req, _ := http.NewRequest("PUT", up.Href, bytes.NewReader(data))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return oid, resp{res.StatusCode, res.Header, b}
}

func TestLFSUploadVerifiesContent(t *testing.T) {
	h := newHub(t)
	alice := h.tokens["alice"]
	h.createRepo(alice, "m", false)
	data := bytes.Repeat([]byte("weights"), 1000)
	oid, r := lfsUpload(t, h, alice, "alice/m", data)
	if r.status != 200 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	// A PUT whose bytes do not match the signed oid is refused and stores nothing.
	other := bytes.Repeat([]byte("poison!"), 1000)
	sum := sha256.Sum256(other)
	badOID := hex.EncodeToString(sum[:])
	body, _ := json.Marshal(map[string]any{"operation": "upload", "objects": []map[string]any{{"oid": badOID, "size": len(other)}}})
	var batch struct {
		Objects []struct {
			Actions map[string]struct{ Href string } `json:"actions"`
		} `json:"objects"`
	}
	h.do("POST", "/alice/m.git/info/lfs/objects/batch", alice, "application/json", body).json(t, &batch)
	req, _ := http.NewRequest("PUT", batch.Objects[0].Actions["upload"].Href, bytes.NewReader(data[:len(other)]))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 400 {
		t.Fatalf("mismatching bytes: status %d, want 400", res.StatusCode)
	}
	lfsLine := func(p, o string, size int) map[string]any {
		return map[string]any{"key": "lfsFile", "value": map[string]any{"path": p, "algo": "sha256", "oid": o, "size": size}}
	}
	if r := h.commit(alice, "alice/m", "main", header("bad"), lfsLine("bad.bin", badOID, len(other))); r.status != 400 {
		t.Fatalf("commit of a refused object: %d %s", r.status, r.body)
	}
	// A tampered signature is refused.
	req, _ = http.NewRequest("PUT", strings.Replace(batch.Objects[0].Actions["upload"].Href, "sig=", "sig=0", 1), bytes.NewReader(other))
	res, _ = http.DefaultClient.Do(req)
	res.Body.Close()
	if res.StatusCode != 403 {
		t.Fatalf("tampered signature: %d", res.StatusCode)
	}
	if r := h.commit(alice, "alice/m", "main", header("w"), lfsLine("weights.dat", oid, len(data))); r.status != 200 {
		t.Fatalf("commit: %d %s", r.status, r.body)
	}
	got := h.do("GET", "/alice/m/resolve/main/weights.dat", "", "", nil)
	if !bytes.Equal(got.body, data) || got.header.Get("X-Linked-Etag") != `"`+oid+`"` {
		t.Fatalf("resolve gave %d bytes, etag %q", len(got.body), got.header.Get("X-Linked-Etag"))
	}
	// The path was not covered by .gitattributes, so a rule was added.
	attrs := h.do("GET", "/alice/m/resolve/main/.gitattributes", "", "", nil)
	if !bytes.Contains(attrs.body, []byte("weights.dat filter=lfs")) {
		t.Fatalf(".gitattributes lacks a rule for weights.dat:\n%s", attrs.body)
	}
	rg := h.do("GET", "/alice/m/resolve/main/weights.dat", "", "", nil, "Range", "bytes=7-13")
	if rg.status != 206 || string(rg.body) != "weights" || rg.header.Get("Content-Range") != fmt.Sprintf("bytes 7-13/%d", len(data)) {
		t.Fatalf("range: %d %q %q", rg.status, rg.body, rg.header.Get("Content-Range"))
	}
	if r := h.do("GET", "/alice/m/resolve/main/weights.dat", "", "", nil, "Range", fmt.Sprintf("bytes=%d-", len(data)+5)); r.status != 416 {
		t.Fatalf("unsatisfiable range: %d", r.status)
	}
}

func TestRevisionEncodings(t *testing.T) {
	h := newHub(t)
	alice := h.tokens["alice"]
	h.createRepo(alice, "m", false)
	if r := h.commit(alice, "alice/m", "main", header("add"), file("dir/a b?.txt", "hello")); r.status != 200 {
		t.Fatal(r.status, string(r.body))
	}
	pr := h.do("POST", "/api/models/alice/m/commit/main?create_pr=1", h.tokens["bob"], "application/x-ndjson", ndjson(header("pr"), file("pr.txt", "from bob")))
	if pr.status != 200 || !bytes.Contains(pr.body, []byte("/discussions/1")) {
		t.Fatalf("create_pr: %d %s", pr.status, pr.body)
	}
	var info map[string]any
	h.do("GET", "/api/models/alice/m/revision/main", "", "", nil).json(t, &info)
	sha := info["sha"].(string)
	cases := []struct{ path, want string }{
		{"/alice/m/resolve/main/dir/a%20b%3F.txt", "hello"},
		{"/alice/m/resolve/" + sha + "/dir/a%20b%3F.txt", "hello"},
		{"/alice/m/resolve/" + sha[:7] + "/dir/a%20b%3F.txt", "hello"},
		{"/alice/m/resolve/HEAD/dir/a%20b%3F.txt", "hello"},
		{"/alice/m/resolve/refs%2Fpr%2F1/pr.txt", "from bob"},
		{"/alice/m/resolve/refs/pr/1/pr.txt", "from bob"},
	}
	for _, c := range cases {
		r := h.do("GET", c.path, "", "", nil)
		if r.status != 200 || string(r.body) != c.want {
			t.Errorf("%s: %d %q", c.path, r.status, r.body)
		}
		if len(r.header.Get("X-Repo-Commit")) != 40 {
			t.Errorf("%s: X-Repo-Commit %q", c.path, r.header.Get("X-Repo-Commit"))
		}
	}
	if r := h.do("GET", "/alice/m/resolve/main/pr.txt", "", "", nil); r.status != 404 {
		t.Errorf("pull request change leaked to main: %d", r.status)
	}
	var tree []map[string]any
	h.do("GET", "/api/models/alice/m/tree/main/dir", "", "", nil).json(t, &tree)
	if len(tree) != 1 || tree[0]["path"] != "dir/a b?.txt" {
		t.Errorf("tree of dir: %v", tree)
	}
}

func TestGatedRepoFiles(t *testing.T) {
	h := newHub(t)
	alice, bob := h.tokens["alice"], h.tokens["bob"]
	h.createRepo(alice, "gated", false)
	if r := h.commit(alice, "alice/gated", "main", header("add"), file("config.json", "{}")); r.status != 200 {
		t.Fatal(r.status, string(r.body))
	}
	if r := h.do("PUT", "/api/models/alice/gated/settings", alice, "application/json", []byte(`{"gated":"auto"}`)); r.status != 200 {
		t.Fatal(r.status, string(r.body))
	}
	cases := []struct {
		name, method, path, token string
		status                    int
		code                      string
	}{
		{"owner downloads", "GET", "/alice/gated/resolve/main/config.json", alice, 200, ""},
		{"other user is refused", "HEAD", "/alice/gated/resolve/main/config.json", bob, 403, "GatedRepo"},
		{"anonymous is asked to log in", "GET", "/alice/gated/resolve/main/config.json", "", 401, "GatedRepo"},
		{"raw is gated too", "GET", "/alice/gated/raw/main/config.json", bob, 403, "GatedRepo"},
		{"metadata stays readable", "GET", "/api/models/alice/gated", bob, 200, ""},
		{"tree stays readable", "GET", "/api/models/alice/gated/tree/main", "", 200, ""},
		{"auth-check says gated", "GET", "/api/models/alice/gated/auth-check", bob, 403, "GatedRepo"},
		{"git clone is gated", "GET", "/alice/gated.git/info/refs?service=git-upload-pack", bob, 403, "GatedRepo"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.do(c.method, c.path, c.token, "", nil)
			if r.status != c.status || r.header.Get("X-Error-Code") != c.code {
				t.Fatalf("%d %q, want %d %q (%s)", r.status, r.header.Get("X-Error-Code"), c.status, c.code, r.header.Get("X-Error-Message"))
			}
		})
	}
	body := []byte(`{"operation":"download","objects":[{"oid":"` + strings.Repeat("a", 64) + `","size":1}]}`)
	if r := h.do("POST", "/alice/gated.git/info/lfs/objects/batch", bob, "application/vnd.git-lfs+json", body); r.status != 403 {
		t.Fatalf("LFS download batch on a gated repo: %d %s", r.status, r.body)
	}
	if r := h.do("HEAD", "/alice/gated/resolve/main/config.json", bob, "", nil); !strings.Contains(r.header.Get("X-Error-Message"), "not in the authorized list") {
		t.Errorf("message %q", r.header.Get("X-Error-Message"))
	}
}

// TestCommitAuthors checks the authors of listed commits: a user of the hub
// with their avatar, any other name (a commit pushed with git) with none.
func TestCommitAuthors(t *testing.T) {
	h := newHub(t)
	alice := h.tokens["alice"]
	h.createRepo(alice, "m", false)
	if r := h.commit(alice, "alice/m", "main", header("x"), file("a.txt", "x")); r.status != 200 {
		t.Fatalf("commit: %d %s", r.status, r.body)
	}
	g, err := h.git.Open(context.Background(), haven.Model, haven.RepoID{Namespace: "alice", Name: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Commit(context.Background(), gitstore.CommitRequest{Ref: "refs/heads/main", Title: "From a laptop",
		Author: gitstore.Signature{Name: "Alice Liddell", Email: "alice@example.org", When: time.Now()},
		Ops:    []gitstore.Op{{Kind: gitstore.OpPut, Path: "b.txt", Content: []byte("b")}}}); err != nil {
		t.Fatal(err)
	}
	var commits []struct {
		Title   string              `json:"title"`
		Authors []map[string]string `json:"authors"`
	}
	h.do("GET", "/api/models/alice/m/commits/main", "", "", nil).json(t, &commits)
	want := map[string]map[string]string{
		"From a laptop": {"user": "Alice Liddell", "avatar": ""},
		"x":             {"user": "alice", "avatar": "/avatars/alice"},
	}
	for _, c := range commits {
		if w, ok := want[c.Title]; ok && (len(c.Authors) != 1 || c.Authors[0]["user"] != w["user"] || c.Authors[0]["avatar"] != w["avatar"]) {
			t.Errorf("%q: authors %v, want %v", c.Title, c.Authors, w)
		}
		delete(want, c.Title)
	}
	if len(want) > 0 {
		t.Errorf("commits not listed: %v", want)
	}
}
