package discussions_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/discussions"
	"github.com/havenhub/haven/internal/storetest"
)

// hub is the API with discussions on real stores, with users alice (owner of
// alice/tiny), bob and a read token of carol.
type hub struct {
	t      *testing.T
	url    string
	st     *storetest.Stores
	tokens map[string]string
	told   *told
}

// told records the notifications the service sends, by user.
type told struct {
	mu sync.Mutex
	by map[string][]haven.Notification
}

func (t *told) Notify(_ context.Context, to *haven.User, n haven.Notification) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.by[to.Name] = append(t.by[to.Name], n)
}

func (t *told) of(name string) []haven.Notification {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]haven.Notification(nil), t.by[name]...)
}

func newHub(t *testing.T) *hub {
	st := storetest.Open(t)
	ts := httptest.NewUnstartedServer(nil)
	ts.Start()
	t.Cleanup(ts.Close)
	var srv *api.Server
	notes := &told{by: map[string][]haven.Notification{}}
	discs := discussions.New(discussions.Config{Meta: st.Meta, Git: st.Git, PublicURL: ts.URL, Notify: notes,
		Changed: func(ctx context.Context, repo *haven.Repo) { srv.RepoChanged(ctx, repo) }})
	srv, err := api.New(api.Config{Meta: st.Meta, Git: st.Git, Blobs: st.Blobs, PublicURL: ts.URL, Secret: []byte("0123456789abcdef0123456789abcdef"),
		Routes: []api.Routes{discs}, PullRequests: discs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ts.Config.Handler = srv
	h := &hub{t: t, url: ts.URL, st: st, tokens: map[string]string{}, told: notes}
	ctx := context.Background()
	for _, u := range []struct {
		name string
		role haven.Role
	}{{"alice", haven.RoleWrite}, {"bob", haven.RoleWrite}, {"carol", haven.RoleRead}} {
		user := &haven.User{Name: u.name}
		if err := st.Meta.CreateUser(ctx, user, ""); err != nil {
			t.Fatal(err)
		}
		plain, hash := auth.NewToken()
		if err := st.Meta.CreateToken(ctx, &haven.Token{UserID: user.ID, DisplayName: "t", Role: u.role}, hash); err != nil {
			t.Fatal(err)
		}
		h.tokens[u.name] = plain
	}
	for _, private := range []bool{false, true} {
		name := "tiny"
		if private {
			name = "secret"
		}
		h.do("alice", "POST", "/api/repos/create", map[string]any{"name": name, "private": private}, 200)
		h.commit("alice", "alice/"+name, "main", "base", "a.txt", "base\n", 200)
	}
	return h
}

// do calls the API as user ("" for anonymous) and checks the status.
func (h *hub) do(user, method, path string, body any, want int) map[string]any {
	h.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, h.url+path, r)
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+h.tokens[user])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		h.t.Fatalf("%s %s as %q = %d, want %d: %s", method, path, user, res.StatusCode, want, data)
	}
	var out map[string]any
	json.Unmarshal(data, &out)
	return out
}

// commit writes one file on rev through the commit API.
func (h *hub) commit(user, repo, rev, title, path, content string, want int) string {
	h.t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.Encode(map[string]any{"key": "header", "value": map[string]any{"summary": title}})
	enc.Encode(map[string]any{"key": "file", "value": map[string]any{"path": path, "content": content}})
	req, _ := http.NewRequest("POST", h.url+"/api/models/"+repo+"/commit/"+strings.ReplaceAll(rev, "/", "%2F"), &b)
	req.Header.Set("Authorization", "Bearer "+h.tokens[user])
	req.Header.Set("Content-Type", "application/x-ndjson")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		h.t.Fatalf("commit to %s@%s as %s = %d, want %d: %s", repo, rev, user, res.StatusCode, want, data)
	}
	var out struct{ CommitOid string }
	json.Unmarshal(data, &out)
	return out.CommitOid
}

func (h *hub) head(rev string) string {
	h.t.Helper()
	g, err := h.st.Git.Open(context.Background(), haven.Model, haven.RepoID{Namespace: "alice", Name: "tiny"})
	if err != nil {
		h.t.Fatal(err)
	}
	sha, _ := g.Resolve(rev)
	return sha
}

const base = "/api/models/alice/tiny/discussions"

// step is a call of a table-driven test: an API call, or with no method a
// commit to the revision in path.
type step struct {
	name, user, method, path string
	body                     any
	want                     int
}

// steps runs each step in order as a subtest, checking its status.
func (h *hub) steps(t *testing.T, steps []step) {
	for _, tc := range steps {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			if tc.method == "" {
				h.commit(tc.user, "alice/tiny", tc.path, "change", "b.txt", tc.user+"\n", tc.want)
				return
			}
			h.do(tc.user, tc.method, tc.path, tc.body, tc.want)
		})
	}
}

func TestRights(t *testing.T) {
	h := newHub(t)
	h.do("bob", "POST", base, map[string]any{"title": "Bob's question"}, 200)                // #1
	h.do("bob", "POST", base, map[string]any{"title": "Bob's PR", "pullRequest": true}, 200) // #2
	c := h.do("bob", "POST", base+"/1/comment", map[string]any{"comment": "hello"}, 201)
	bobComment := c["newMessage"].(map[string]any)["id"].(string)

	tests := []step{
		{"anonymous reads", "", "GET", base, nil, 200},
		{"anonymous cannot open", "", "POST", base, map[string]any{"title": "Anon"}, 401},
		{"anonymous cannot comment", "", "POST", base + "/1/comment", map[string]any{"comment": "x"}, 401},
		{"read token may comment", "carol", "POST", base + "/1/comment", map[string]any{"comment": "x"}, 201},
		{"others cannot rename", "carol", "POST", base + "/1/title", map[string]any{"title": "Mine now"}, 403},
		{"others cannot close", "carol", "POST", base + "/1/status", map[string]any{"status": "closed"}, 403},
		{"others cannot edit a comment", "carol", "POST", base + "/1/comment/" + bobComment + "/edit", map[string]any{"content": "x"}, 403},
		{"others cannot hide a comment", "carol", "POST", base + "/1/comment/" + bobComment + "/hide", nil, 403},
		{"author edits", "bob", "POST", base + "/1/comment/" + bobComment + "/edit", map[string]any{"content": "hi"}, 200},
		{"author renames", "bob", "POST", base + "/1/title", map[string]any{"title": "Bob's better question"}, 200},
		{"author publishes", "bob", "POST", base + "/2/status", map[string]any{"status": "open"}, 200},
		{"author cannot merge", "bob", "POST", base + "/2/merge", nil, 403},
		{"author commits to his PR", "bob", "", "refs/pr/2", nil, 200},
		{"others cannot commit to it", "carol", "", "refs/pr/2", nil, 403},
		{"writer hides", "alice", "POST", base + "/1/comment/" + bobComment + "/hide", nil, 200},
		{"hidden cannot be edited", "bob", "POST", base + "/1/comment/" + bobComment + "/edit", map[string]any{"content": "again"}, 403},
		{"title too short", "bob", "POST", base, map[string]any{"title": " a "}, 400},
		{"empty comment", "bob", "POST", base + "/1/comment", map[string]any{"comment": "  "}, 400},
		{"comment too long", "bob", "POST", base + "/1/comment", map[string]any{"comment": strings.Repeat("x", 65537)}, 413},
		{"merge a discussion", "alice", "POST", base + "/1/merge", nil, 400},
		{"missing discussion", "alice", "GET", base + "/99", nil, 404},
		{"private: others see nothing", "bob", "GET", "/api/models/alice/secret/discussions", nil, 404},
		{"private: anonymous sees nothing", "", "GET", "/api/models/alice/secret/discussions", nil, 401},
		{"private: owner lists", "alice", "GET", "/api/models/alice/secret/discussions", nil, 200},
		{"writer merges with no body", "alice", "POST", base + "/2/merge", nil, 200},
		{"merged stays merged", "alice", "POST", base + "/2/status", map[string]any{"status": "closed"}, 400},
	}
	h.steps(t, tests)
}

func TestMergeConflictChangesNothing(t *testing.T) {
	h := newHub(t)
	// bob proposes through a create_pr commit; main then changes the same file.
	h.commit("bob", "alice/tiny", "main?create_pr=1", "bob's change", "a.txt", "bob\n", 200)
	h.commit("alice", "alice/tiny", "main", "alice's change", "a.txt", "alice\n", 200)
	mainBefore, prBefore := h.head("refs/heads/main"), h.head("refs/pr/1")
	d := h.do("alice", "GET", base+"/1", nil, 200)
	if d["status"] != "open" || len(d["filesWithConflicts"].([]any)) != 1 {
		t.Fatalf("details = %v", d)
	}
	h.do("alice", "POST", base+"/1/merge", map[string]any{"comment": "Let's see"}, 409)
	if h.head("refs/heads/main") != mainBefore || h.head("refs/pr/1") != prBefore {
		t.Fatal("a conflicting merge moved a ref")
	}
	after := h.do("alice", "GET", base+"/1", nil, 200)
	if after["status"] != "open" || len(after["events"].([]any)) != len(d["events"].([]any)) {
		t.Fatalf("a conflicting merge changed the discussion: %v", after)
	}

	// bob takes his change of a.txt back; the merge then makes a merge commit.
	h.commit("bob", "alice/tiny", "refs/pr/1", "resolve", "a.txt", "base\n", 200)
	h.commit("alice", "alice/tiny", "main", "unrelated", "c.txt", "c\n", 200)
	h.do("alice", "POST", base+"/1/merge", nil, 200)
	merged := h.do("alice", "GET", base+"/1", nil, 200)
	changes := merged["changes"].(map[string]any)
	if merged["status"] != "merged" || changes["mergeCommitId"] != h.head("refs/heads/main") {
		t.Fatalf("merged details = %v", merged)
	}
	var commits []string
	for _, ev := range merged["events"].([]any) {
		if e := ev.(map[string]any); e["type"] == "commit" {
			commits = append(commits, e["data"].(map[string]any)["subject"].(string))
		}
	}
	if strings.Join(commits, ",") != "bob's change,resolve" {
		t.Fatalf("commit events = %v", commits)
	}
}

func TestDetailsAreStable(t *testing.T) {
	h := newHub(t)
	h.do("alice", "POST", base, map[string]any{"title": "A PR", "description": "desc", "pullRequest": true}, 200)
	c := h.do("bob", "POST", base+"/1/comment", map[string]any{"comment": "first"}, 201)
	id := c["newMessage"].(map[string]any)["id"].(string)
	edited := h.do("bob", "POST", base+"/1/comment/"+strings.ToUpper(id)+"/edit", map[string]any{"content": "second"}, 200)
	a := h.do("alice", "GET", base+"/1?diff=1", nil, 200)
	b := h.do("alice", "GET", base+"/1?diff=1", nil, 200)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if !bytes.Equal(ja, jb) {
		t.Fatalf("details differ between calls:\n%s\n%s", ja, jb)
	}
	ev := a["events"].([]any)[1]
	je, _ := json.Marshal(ev)
	ju, _ := json.Marshal(edited["updatedComment"])
	if !bytes.Equal(je, ju) {
		t.Fatalf("updatedComment differs from the event in the details:\n%s\n%s", ju, je)
	}
	if id != strings.ToLower(id) || len(id) != 24 {
		t.Fatalf("comment id %q is not 24 lowercase hex digits", id)
	}
}

// TestDiscussionsDisabled checks the discussionsDisabled setting: nobody
// opens, proposes or comments while it is on, and what is there stays
// readable and in its writers' hands.
func TestDiscussionsDisabled(t *testing.T) {
	h := newHub(t)
	h.do("bob", "POST", base, map[string]any{"title": "Bob's question"}, 200) // #1
	h.do("carol", "PUT", "/api/models/alice/tiny/settings", map[string]any{"discussionsDisabled": true}, 403)
	h.do("alice", "PUT", "/api/models/alice/tiny/settings", map[string]any{"discussionsDisabled": true}, 200)
	tests := []step{
		{"nobody opens", "bob", "POST", base, map[string]any{"title": "Another"}, 403},
		{"not even the owner", "alice", "POST", base, map[string]any{"title": "Mine"}, 403},
		{"nobody comments", "bob", "POST", base + "/1/comment", map[string]any{"comment": "hello"}, 403},
		{"no pull request from a commit", "bob", "", "main?create_pr=1", nil, 403},
		{"the owner still commits", "alice", "", "main", nil, 200},
		{"anyone reads", "", "GET", base + "/1", nil, 200},
		{"the list stays", "", "GET", base, nil, 200},
		{"writers still close", "alice", "POST", base + "/1/status", map[string]any{"status": "closed"}, 200},
		{"enabled again", "alice", "PUT", "/api/models/alice/tiny/settings", map[string]any{"discussionsDisabled": false}, 200},
		{"then bob opens", "bob", "POST", base, map[string]any{"title": "Back again"}, 200},
	}
	h.steps(t, tests)
}
