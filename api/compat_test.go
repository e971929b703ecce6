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
