package api_test

import (
	"strings"
	"testing"
)

// An empty branch has a commit whose tree is the empty tree: reading any
// file of it is EntryNotFound, and its tree lists nothing.
func TestEmptyBranchReads(t *testing.T) {
	h := newHub(t)
	alice := h.tokens["alice"]
	h.createRepo(alice, "m", false)
	if r := h.do("POST", "/api/models/alice/m/branch/empty", alice, "application/json", []byte(`{"emptyBranch":true}`)); r.status != 200 {
		t.Fatalf("create empty branch: %d %s", r.status, r.body)
	}
	cases := []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/alice/m/resolve/empty/file.txt", 404, "EntryNotFound"},
		{"HEAD", "/alice/m/resolve/empty/file.txt", 404, "EntryNotFound"},
		{"GET", "/alice/m/raw/empty/file.txt", 404, "EntryNotFound"},
		{"GET", "/api/models/alice/m/tree/empty", 200, ""},
		{"GET", "/api/models/alice/m/tree/empty/sub", 404, "EntryNotFound"},
		{"GET", "/api/models/alice/m/revision/empty", 200, ""},
		{"GET", "/api/models/alice/m/commits/empty", 200, ""},
		{"POST", "/api/models/alice/m/paths-info/empty", 200, ""},
		{"POST", "/api/models/alice/m/paths-info/empty?expand=true", 200, ""},
		{"GET", "/api/models/alice/m/tree/empty?expand=true&recursive=true", 200, ""},
		{"GET", "/api/models/alice/m/treesize/empty", 200, ""},
		{"GET", "/api/models/alice/m/compare/main..empty", 200, ""},
		{"GET", "/api/models/alice/m/revision/empty?expand[]=siblings&expand[]=usedStorage", 200, ""},
	}
	for _, c := range cases {
		r := h.do(c.method, c.path, alice, "application/x-www-form-urlencoded", []byte("paths=file.txt"))
		if r.status != c.status || r.header.Get("X-Error-Code") != c.code {
			t.Errorf("%s %s: %d %q, want %d %q (%s)", c.method, c.path, r.status, r.header.Get("X-Error-Code"), c.status, c.code, r.body)
		}
	}
	if r := h.do("GET", "/api/models/alice/m/tree/empty", alice, "", nil); strings.TrimSpace(string(r.body)) != "[]" {
		t.Errorf("tree of an empty branch: %s", r.body)
	}
	// Committing onto the empty branch builds on its tree.
	if r := h.commit(alice, "alice/m", "empty", header("add"), file("a.txt", "hello")); r.status != 200 {
		t.Fatalf("commit on empty branch: %d %s", r.status, r.body)
	}
	if r := h.do("GET", "/alice/m/resolve/empty/a.txt", "", "", nil); r.status != 200 || string(r.body) != "hello" {
		t.Errorf("resolve after commit: %d %s", r.status, r.body)
	}
}

// Revisions that name missing objects, or objects that are not commits,
// are RevisionNotFound, never an internal error.
func TestMissingObjectsAreNotFound(t *testing.T) {
	h := newHub(t)
	alice := h.tokens["alice"]
	h.createRepo(alice, "m", false)
	if r := h.commit(alice, "alice/m", "main", header("add"), file("d/a.txt", "hello")); r.status != 200 {
		t.Fatalf("commit: %d %s", r.status, r.body)
	}
	var tree []struct{ Path, Oid, Type string }
	h.do("GET", "/api/models/alice/m/tree/main", alice, "", nil).json(t, &tree)
	oids := map[string]string{}
	for _, e := range tree {
		oids[e.Path] = e.Oid
	}
	blob, dir := oids[".gitattributes"], oids["d"]
	if blob == "" || dir == "" {
		t.Fatalf("tree: %+v", tree)
	}
	missing := strings.Repeat("ab", 20)
	for _, rev := range []string{missing, blob, dir, blob[:8], "abcd"} {
		for _, path := range []string{
			"/alice/m/resolve/" + rev + "/d/a.txt",
			"/api/models/alice/m/tree/" + rev,
			"/api/models/alice/m/revision/" + rev,
			"/api/models/alice/m/commits/" + rev,
		} {
			r := h.do("GET", path, alice, "", nil)
			if r.status != 404 || r.header.Get("X-Error-Code") != "RevisionNotFound" {
				t.Errorf("GET %s: %d %q (%s)", path, r.status, r.header.Get("X-Error-Code"), r.body)
			}
		}
	}
}

// Hub API operations this server does not serve answer 501 naming the
// operation; paths the Hub does not have either stay 404.
func TestUnsupportedHubRoutes(t *testing.T) {
	h := newHub(t)
	alice := h.tokens["alice"]
	h.createRepo(alice, "m", false)
	cases := []struct {
		method, path string
		status       int
		message      string
	}{
		{"GET", "/api/models/alice/m/scan", 501, "Get security status (GET /api/models/{namespace}/{repo}/scan) is not supported by this server"},
		{"HEAD", "/api/models/alice/m/scan", 501, ""},
		{"GET", "/api/daily_papers", 501, "Get Daily Papers (GET /api/daily_papers) is not supported by this server"},
		{"GET", "/api/papers/2401.00001", 501, "Get a paper (GET /api/papers/{paperId}) is not supported by this server"},
		{"POST", "/api/organizations/acme/service-accounts", 501, ""},
		{"GET", "/api/resolve-cache/models/alice/m/main/a/b.txt", 501, ""},
		{"GET", "/api/nonsense", 404, "Not Found"},
		{"GET", "/api/models/alice/m/nonsense", 404, "Not Found"},
		{"DELETE", "/api/daily_papers", 404, "Not Found"},
		{"GET", "/api/papers/a/b/c", 404, "Not Found"},
		// Served operations keep their answers.
		{"GET", "/api/models/alice/m", 200, ""},
		{"GET", "/api/models/alice/nope/refs", 404, "Repository not found"},
	}
	for _, c := range cases {
		r := h.do(c.method, c.path, alice, "", nil)
		msg := r.header.Get("X-Error-Message")
		if r.status != c.status || c.message != "" && !strings.HasPrefix(msg, c.message) {
			t.Errorf("%s %s: %d %q, want %d %q", c.method, c.path, r.status, msg, c.status, c.message)
		}
		if c.status == 501 && c.method == "GET" && !strings.Contains(string(r.body), `"error":`) {
			t.Errorf("%s %s: body %s", c.method, c.path, r.body)
		}
	}
}

// Tags the Hub derives from files and config.json are listed with the card's
// and can be filtered on.
func TestAutomaticTags(t *testing.T) {
	h := newHub(t)
	alice := h.tokens["alice"]
	cases := []struct {
		repo    string
		files   map[string]string
		tags    []string
		library string
	}{
		{"bert", map[string]string{"config.json": `{"model_type":"bert"}`, "model.safetensors": "x", "README.md": "---\nlicense: mit\n---\n"},
			[]string{"transformers", "bert", "safetensors", "license:mit"}, "transformers"},
		{"quant", map[string]string{"m-Q4.gguf": "x"}, []string{"gguf"}, "gguf"},
		{"st", map[string]string{"modules.json": "[]", "config.json": `{"model_type":"mpnet"}`, "onnx/model.onnx": "x", "pytorch_model.bin": "x"},
			[]string{"sentence-transformers", "mpnet", "pytorch", "onnx"}, "sentence-transformers"},
		{"own-library", map[string]string{"README.md": "---\nlibrary_name: timm\n---\n", "model.safetensors": "x"}, []string{"timm", "safetensors"}, "timm"},
	}
	for _, c := range cases {
		h.createRepo(alice, c.repo, false)
		lines := []map[string]any{header("files")}
		for p, content := range c.files {
			lines = append(lines, file(p, content))
		}
		if r := h.commit(alice, "alice/"+c.repo, "main", lines...); r.status != 200 {
			t.Fatalf("%s: commit %d %s", c.repo, r.status, r.body)
		}
		var info struct {
			Tags        []string `json:"tags"`
			LibraryName string   `json:"library_name"`
		}
		h.do("GET", "/api/models/alice/"+c.repo, alice, "", nil).json(t, &info)
		if info.LibraryName != c.library {
			t.Errorf("%s: library_name %q, want %q", c.repo, info.LibraryName, c.library)
		}
		got := strings.Join(info.Tags, ",")
		for _, tag := range c.tags {
			if !strings.Contains(","+got+",", ","+tag+",") {
				t.Errorf("%s: tags %s lack %s", c.repo, got, tag)
			}
		}
	}
	for filter, want := range map[string]string{"safetensors": "alice/bert,alice/own-library", "gguf": "alice/quant", "bert": "alice/bert", "onnx": "alice/st"} {
		var list []struct{ ID string }
		h.do("GET", "/api/models?sort=id&direction=1&filter="+filter, alice, "", nil).json(t, &list)
		var ids []string
		for _, m := range list {
			ids = append(ids, m.ID)
		}
		if strings.Join(ids, ",") != want {
			t.Errorf("filter=%s: %v, want %s", filter, ids, want)
		}
	}
}

// GET /api/settings/repositories lists the caller's repositories with their
// storage, private ones included (`hf repos ls`).
func TestSettingsRepositories(t *testing.T) {
	h := newHub(t)
	alice := h.tokens["alice"]
	h.createRepo(alice, "public", false)
	h.createRepo(alice, "secret", true)
	h.createRepo(h.tokens["bob"], "bobs", false)
	if r := h.commit(alice, "alice/public", "main", header("add"), file("a.txt", strings.Repeat("x", 3000))); r.status != 200 {
		t.Fatalf("commit: %d %s", r.status, r.body)
	}
	var list []struct {
		ID, Type, Visibility, UpdatedAt string
		Storage                         int64
		StoragePercent                  float64
	}
	r := h.do("GET", "/api/settings/repositories", h.read["alice"], "", nil)
	r.json(t, &list)
	if r.status != 200 || len(list) != 2 || list[0].ID != "alice/public" || list[0].Type != "model" || list[0].Visibility != "public" ||
		list[0].Storage < 3000 || list[1].ID != "alice/secret" || list[1].Visibility != "private" || list[0].UpdatedAt == "" ||
		list[0].StoragePercent+list[1].StoragePercent < 99.9 {
		t.Errorf("alice's repositories: %d %s", r.status, r.body)
	}
	cases := []struct {
		path, token string
		status      int
	}{
		{"/api/settings/repositories", "", 401},
		{"/api/organizations/acme/settings/repositories", alice, 404},
		{"/api/settings/webhooks", "", 501}, // routed past this handler (no webhooks here)
	}
	for _, c := range cases {
		if r := h.do("GET", c.path, c.token, "", nil); r.status != c.status {
			t.Errorf("GET %s: %d, want %d (%s)", c.path, r.status, c.status, r.body)
		}
	}
}

func TestTreeSizeAndCompare(t *testing.T) {
	h := newHub(t)
	alice := h.tokens["alice"]
	h.createRepo(alice, "m", false)
	if r := h.commit(alice, "alice/m", "main", header("one"), file("d/a.txt", "aaaa"), file("d/e/b.txt", "bbbbbb"), file("c.txt", "c")); r.status != 200 {
		t.Fatalf("commit: %d %s", r.status, r.body)
	}
	if r := h.do("POST", "/api/models/alice/m/branch/dev", alice, "application/json", []byte(`{}`)); r.status != 200 {
		t.Fatalf("branch: %d %s", r.status, r.body)
	}
	if r := h.commit(alice, "alice/m", "dev", header("two"), file("c.txt", "changed")); r.status != 200 {
		t.Fatalf("commit: %d %s", r.status, r.body)
	}
	if r := h.do("POST", "/api/models/alice/m/branch/empty", alice, "application/json", []byte(`{"emptyBranch":true}`)); r.status != 200 {
		t.Fatalf("branch: %d %s", r.status, r.body)
	}
	cases := []struct {
		path   string
		status int
		body   string // contained in the body
		code   string
	}{
		{"/api/models/alice/m/treesize/main/d", 200, `{"path":"d","size":10}`, ""},
		{"/api/models/alice/m/treesize/main/d/e", 200, `{"path":"d/e","size":6}`, ""},
		{"/api/models/alice/m/treesize/main/c.txt", 200, `{"path":"c.txt","size":1}`, ""},
		{"/api/models/alice/m/treesize/main/nope", 404, "", "EntryNotFound"},
		{"/api/models/alice/m/treesize/nope/d", 404, "", "RevisionNotFound"},
		{"/api/models/alice/m/treesize/empty", 200, `{"path":"","size":0}`, ""},
		{"/api/models/alice/m/compare/main..dev", 200, "+changed", ""},
		{"/api/models/alice/m/compare/main...dev", 200, "+changed", ""},
		{"/api/models/alice/m/compare/dev..dev", 200, "", ""},
		{"/api/models/alice/m/compare/main..nope", 404, "", "RevisionNotFound"},
		{"/api/models/alice/m/compare/main", 400, "", ""},
	}
	for _, c := range cases {
		r := h.do("GET", c.path, alice, "", nil)
		if r.status != c.status || !strings.Contains(string(r.body), c.body) || r.header.Get("X-Error-Code") != c.code {
			t.Errorf("GET %s: %d %q %s, want %d %q %q", c.path, r.status, r.header.Get("X-Error-Code"), r.body, c.status, c.code, c.body)
		}
	}
	if r := h.do("GET", "/api/models/alice/m/compare/main..empty", alice, "", nil); r.status >= 500 {
		t.Errorf("compare of unrelated histories: %d %s", r.status, r.body)
	}
}

// Repository settings the Hub accepts are applied or refused with 400,
// never ignored.
func TestRepoSettingsFields(t *testing.T) {
	h := newHub(t)
	alice := h.tokens["alice"]
	h.createRepo(alice, "m", false)
	cases := []struct {
		body   string
		status int
	}{
		{`{"private":true}`, 200},
		{`{"visibility":"public"}`, 200},
		{`{"gated":"manual"}`, 200},
		{`{"gated":false}`, 200},
		{`{"discussionsDisabled":false}`, 200},
		{`{"discussionsDisabled":true}`, 200},
		{`{"discussionsDisabled":false}`, 200},
		{`{"xetEnabled":false}`, 200}, // this hub has Xet off: false is the state already
		{`{"xetEnabled":true}`, 400},
		{`{"visibility":"protected"}`, 400},
		{`{"visibility":"secret"}`, 400},
		{`{"gated":"sometimes"}`, 400},
		{`{"private":true,"colour":"blue"}`, 400},
		{`{"private":"yes"}`, 400},
	}
	for _, c := range cases {
		r := h.do("PUT", "/api/models/alice/m/settings", alice, "application/json", []byte(c.body))
		if r.status != c.status {
			t.Errorf("%s: %d %s, want %d", c.body, r.status, r.body, c.status)
		}
	}
	var info struct{ Private bool }
	h.do("GET", "/api/models/alice/m", alice, "", nil).json(t, &info)
	if info.Private {
		t.Error("a refused request changed the visibility")
	}
}

// Writes on pull-request refs and other special refs, and the empty
// inference catalog.
func TestSpecialRefWrites(t *testing.T) {
	h := newHub(t)
	alice := h.tokens["alice"]
	h.createRepo(alice, "m", false)
	h.commit(alice, "alice/m", "main", header("one"), file("a.txt", "a"))
	if r := h.do("POST", "/api/models/alice/m/commit/main?create_pr=1", alice, "application/x-ndjson", ndjson(header("pr"), file("b.txt", "b"))); r.status != 200 {
		t.Fatalf("create_pr: %d %s", r.status, r.body)
	}
	cases := []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"POST", "/api/models/alice/m/commit/refs%2Fpr%2F1", string(ndjson(header("empty"))), 200, ""},
		{"POST", "/api/models/alice/m/super-squash/refs%2Fpr%2F1", "", 200, ""},
		{"POST", "/api/models/alice/m/super-squash/refs%2Fconvert%2Fparquet", "", 404, "RevisionNotFound"},
		{"POST", "/api/models/alice/m/super-squash/refs%2Ftags%2Fv1", "", 404, "RevisionNotFound"},
		{"POST", "/api/spaces/alice/nope/duplicate", `{"repository":"alice/copy"}`, 404, "RepoNotFound"},
		{"GET", "/api/endpoints/v1/catalog/list?task=text-generation", "", 200, ""},
	}
	for _, c := range cases {
		r := h.do(c.method, c.path, alice, "application/json", []byte(c.body))
		if r.status != c.status || r.header.Get("X-Error-Code") != c.code {
			t.Errorf("%s %s: %d %q %s, want %d %q", c.method, c.path, r.status, r.header.Get("X-Error-Code"), r.body, c.status, c.code)
		}
	}
	if r := h.do("GET", "/api/endpoints/v1/catalog/list", "", "", nil); strings.TrimSpace(string(r.body)) != `{"items":[]}` {
		t.Errorf("catalog: %s", r.body)
	}
}

// createBranch: an empty branch is a parentless commit of the empty tree;
// an existing branch is a conflict unless overwrite resets it.
func TestCreateBranchEmptyAndOverwrite(t *testing.T) {
	h := newHub(t)
	alice := h.tokens["alice"]
	h.createRepo(alice, "m", false)
	h.commit(alice, "alice/m", "main", header("one"), file("a.txt", "a"))
	branch := func(name, body string) int {
		return h.do("POST", "/api/models/alice/m/branch/"+name, alice, "application/json", []byte(body)).status
	}
	type commits []struct {
		ID      string
		Parents []string
	}
	history := func(rev string) commits {
		var c commits
		h.do("GET", "/api/models/alice/m/commits/"+rev, alice, "", nil).json(t, &c)
		return c
	}
	cases := []struct {
		name, body string
		status     int
		commits    int // in the branch's history after the call
	}{
		{"e", `{"emptyBranch":true}`, 200, 1},
		{"e", `{"emptyBranch":true}`, 409, 1},
		{"e", `{}`, 409, 1},
		{"e", `{"overwrite":true}`, 200, 1}, // nothing named: left as it is
		{"e", `{"overwrite":true,"startingPoint":"main"}`, 200, 3},
		{"e", `{"emptyBranch":true,"overwrite":true}`, 200, 1},
		{"dev", `{"startingPoint":"main"}`, 200, 3},
	}
	h.commit(alice, "alice/m", "main", header("two"), file("b.txt", "b"))
	for i, c := range cases {
		if got := branch(c.name, c.body); got != c.status {
			t.Fatalf("%d: branch %s %s: %d, want %d", i, c.name, c.body, got, c.status)
		}
		if got := history(c.name); len(got) != c.commits {
			t.Fatalf("%d: %s has %d commits, want %d", i, c.name, len(got), c.commits)
		}
	}
	var tree []any
	h.do("GET", "/api/models/alice/m/tree/e", alice, "", nil).json(t, &tree)
	if len(tree) != 0 {
		t.Errorf("the empty branch lists %v", tree)
	}
}

// A licence given at creation goes to the card's front matter.
func TestCreateRepoWithLicense(t *testing.T) {
	h := newHub(t)
	alice := h.tokens["alice"]
	cases := []struct {
		body   string
		status int
		readme string // "" for none
	}{
		{`{"name":"with-mit","license":"mit"}`, 200, "---\nlicense: mit\n---\n"},
		{`{"name":"ds","type":"dataset","license":"cc-by-4.0"}`, 200, "---\nlicense: cc-by-4.0\n---\n"},
		{`{"name":"none"}`, 200, ""},
		{`{"name":"bad","license":"mit\ntags: [x]"}`, 400, ""},
	}
	for _, c := range cases {
		r := h.do("POST", "/api/repos/create", alice, "application/json", []byte(c.body))
		if r.status != c.status {
			t.Errorf("%s: %d %s", c.body, r.status, r.body)
			continue
		}
		if c.status != 200 {
			continue
		}
		var out struct{ URL string }
		r.json(t, &out)
		prefix := "/alice/"
		if strings.Contains(c.body, "dataset") {
			prefix = "/datasets/alice/"
		}
		name := strings.TrimPrefix(out.URL[strings.LastIndex(out.URL, "/"):], "/")
		got := h.do("GET", prefix+name+"/resolve/main/README.md", alice, "", nil)
		if c.readme == "" && got.status != 404 || c.readme != "" && string(got.body) != c.readme {
			t.Errorf("%s: README %d %q", c.body, got.status, got.body)
		}
	}
}
