package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestCommunityPages opens a discussion with hostile Markdown and a pull
// request with a conflict, and checks the Community tab: the list, the
// thread with the sanitised comment, the diff, and who sees which buttons.
func TestCommunityPages(t *testing.T) {
	s := newSite(t)
	s.createRepo("alice", "tiny", false)
	s.commit("alice", "alice/tiny", "base", map[string]string{"a.txt": "base\n"})
	post := func(user, path string, body any) map[string]any {
		t.Helper()
		b, _ := json.Marshal(body)
		p := s.apiDo("POST", "/api/models/alice/tiny/discussions"+path, s.tokens[user], "application/json", b)
		if p.status != 200 && p.status != 201 {
			t.Fatalf("POST %s: %d %s", path, p.status, p.body)
		}
		var out map[string]any
		json.Unmarshal([]byte(p.body), &out)
		return out
	}
	post("bob", "", map[string]any{"title": "A question", "description": "**bold** <script>alert(1)</script><img src=x onerror=alert(2)>"})
	post("bob", "", map[string]any{"title": "A proposal", "pullRequest": true})
	// Bob's pull request changes a.txt; main changes it too: a conflict.
	var nd strings.Builder
	nd.WriteString(`{"key":"header","value":{"summary":"pr change"}}` + "\n")
	nd.WriteString(`{"key":"file","value":{"path":"a.txt","content":"cHIK","encoding":"base64"}}` + "\n")
	if p := s.apiDo("POST", "/api/models/alice/tiny/commit/refs%2Fpr%2F2", s.tokens["bob"], "application/x-ndjson", []byte(nd.String())); p.status != 200 {
		t.Fatalf("bob's commit to his pull request: %d %s", p.status, p.body)
	}
	s.commit("alice", "alice/tiny", "main change", map[string]string{"a.txt": "main\n"})

	alice, bob, anon := s.browser(), s.browser(), s.browser()
	alice.signIn("alice")
	bob.signIn("bob")

	list := anon.get("/alice/tiny/discussions")
	if list.status != 200 || !strings.Contains(list.body, "A question") || !strings.Contains(list.body, "A proposal") || !strings.Contains(list.body, ">Community<") {
		t.Fatalf("list: %d\n%s", list.status, list.body)
	}
	if p := anon.get("/alice/tiny/discussions?type=pull_request"); strings.Contains(p.body, "A question") {
		t.Error("the pull request filter lists a discussion")
	}

	thread := anon.get("/alice/tiny/discussions/1")
	if thread.status != 200 || !strings.Contains(thread.body, "<strong>bold</strong>") {
		t.Fatalf("thread: %d\n%s", thread.status, thread.body)
	}
	for _, bad := range []string{"<script>alert", "onerror"} {
		if strings.Contains(thread.body, bad) {
			t.Errorf("the thread carries %q", bad)
		}
	}

	tests := []struct {
		who       *browser
		name      string
		path      string
		want      []string
		wantNot   []string
		wantState int
	}{
		{alice, "writer publishes a draft", "/alice/tiny/discussions/2", []string{"data-status=\"open\"", "conflicts with main", "<code>a.txt</code>", "data-comment"}, []string{"data-merge"}, 200},
		{bob, "author moderates, cannot merge", "/alice/tiny/discussions/2", []string{"data-status=\"open\"", "data-comment"}, []string{"data-merge"}, 200},
		{anon, "visitor reads only", "/alice/tiny/discussions/2", []string{"Sign in"}, []string{"data-merge", "data-status", "data-comment"}, 200},
		{anon, "diff", "/alice/tiny/discussions/2/files", []string{"a.txt", "&#43; pr"}, nil, 200},
		{anon, "no diff of a discussion", "/alice/tiny/discussions/1/files", nil, nil, http.StatusNotFound},
		{anon, "missing", "/alice/tiny/discussions/9", nil, nil, http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.who.get(tc.path)
			if p.status != tc.wantState {
				t.Fatalf("GET %s = %d, want %d", tc.path, p.status, tc.wantState)
			}
			for _, w := range tc.want {
				if !strings.Contains(p.body, w) {
					t.Errorf("GET %s lacks %q\n%s", tc.path, w, between(p.body, "<main", "</main>"))
				}
			}
			for _, w := range tc.wantNot {
				if strings.Contains(p.body, w) {
					t.Errorf("GET %s has %q", tc.path, w)
				}
			}
		})
	}

	// Once published, the writer gets a merge button, held back by the conflict.
	post("bob", "/2/status", map[string]any{"status": "open"})
	if p := alice.get("/alice/tiny/discussions/2"); !strings.Contains(p.body, "data-merge disabled") {
		t.Errorf("the writer's merge button of a conflicting pull request is not disabled:\n%s", between(p.body, "<main", "</main>"))
	}
	if p := bob.get("/alice/tiny/discussions/2"); strings.Contains(p.body, "data-merge") {
		t.Error("bob, who cannot write the repository, sees a merge button")
	}

	// Discussions of a private repository are pages nobody else finds.
	s.createRepo("alice", "secret", true)
	s.commit("alice", "alice/secret", "base", map[string]string{"a.txt": "x\n"})
	b, _ := json.Marshal(map[string]any{"title": "Hidden talk"})
	if p := s.apiDo("POST", "/api/models/alice/secret/discussions", s.tokens["alice"], "application/json", b); p.status != 200 {
		t.Fatalf("create: %d %s", p.status, p.body)
	}
	for _, path := range []string{"/alice/secret/discussions", "/alice/secret/discussions/1"} {
		if p := alice.get(path); p.status != 200 {
			t.Errorf("owner: GET %s = %d", path, p.status)
		}
		for who, b := range map[string]*browser{"bob": bob, "visitor": anon} {
			if p := b.get(path); p.status != http.StatusNotFound || strings.Contains(p.body, "Hidden talk") {
				t.Errorf("%s: GET %s = %d", who, path, p.status)
			}
		}
	}
}

// TestCommunityPinsLocksReactions checks what the Community tab shows of
// pins, locks and reactions, and who gets which controls.
func TestCommunityPinsLocksReactions(t *testing.T) {
	s := newSite(t)
	s.createRepo("alice", "tiny", false)
	s.commit("alice", "alice/tiny", "base", map[string]string{"a.txt": "base\n"})
	call := func(user, method, path string, body any) map[string]any {
		t.Helper()
		b, _ := json.Marshal(body)
		p := s.apiDo(method, "/api/models/alice/tiny/discussions"+path, s.tokens[user], "application/json", b)
		if p.status != 200 && p.status != 201 {
			t.Fatalf("%s %s: %d %s", method, path, p.status, p.body)
		}
		var out map[string]any
		json.Unmarshal([]byte(p.body), &out)
		return out
	}
	call("bob", "POST", "", map[string]any{"title": "Old question", "description": "first"})
	call("bob", "POST", "", map[string]any{"title": "Newer question", "description": "second"})
	call("alice", "POST", "/1/pin", map[string]any{"pinned": true})
	call("alice", "POST", "/1/lock", map[string]any{"locked": true})
	details := call("alice", "GET", "/2", nil)
	opening := details["events"].([]any)[0].(map[string]any)["id"].(string)
	call("bob", "POST", "/2/comment/"+opening+"/reaction", map[string]any{"action": "add", "reaction": "🚀"})

	alice, bob, anon := s.browser(), s.browser(), s.browser()
	alice.signIn("alice")
	bob.signIn("bob")

	list := anon.get("/alice/tiny/discussions")
	if i, j := strings.Index(list.body, "Old question"), strings.Index(list.body, "Newer question"); i < 0 || j < 0 || i > j {
		t.Errorf("the pinned discussion is not listed first")
	}
	for _, w := range []string{"data-pinned", "data-locked", "🚀 1"} {
		if !strings.Contains(list.body, w) {
			t.Errorf("the list lacks %q", w)
		}
	}
	if p := anon.get("/alice/tiny/discussions?search=newer&sort=reactions"); strings.Contains(p.body, "Old question") || !strings.Contains(p.body, "Newer question") {
		t.Errorf("search lists the wrong discussions")
	}

	tests := []struct {
		who     *browser
		name    string
		path    string
		want    []string
		wantNot []string
	}{
		{alice, "writer of a locked discussion", "/alice/tiny/discussions/1", []string{"data-pin=\"false\"", "data-lock=\"false\"", "data-delete-discussion", "data-comment", "pinned this discussion", "locked this discussion"}, nil},
		{bob, "author of a locked discussion", "/alice/tiny/discussions/1", []string{"data-locked-notice"}, []string{"data-comment", "data-pin=", "data-delete-discussion", "data-react"}},
		{bob, "reacted comment", "/alice/tiny/discussions/2", []string{`data-react="🚀" data-comment="` + opening + `" data-on="false"`, `aria-pressed="true"`, "data-comment"}, []string{"data-pin=", "data-lock="}},
		{anon, "visitor sees reactions", "/alice/tiny/discussions/2", []string{"🚀 1"}, []string{"data-react", "data-pin="}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.who.get(tc.path)
			if p.status != 200 {
				t.Fatalf("GET %s = %d", tc.path, p.status)
			}
			for _, w := range tc.want {
				if !strings.Contains(p.body, w) {
					t.Errorf("GET %s lacks %q\n%s", tc.path, w, between(p.body, "<main", "</main>"))
				}
			}
			for _, w := range tc.wantNot {
				if strings.Contains(p.body, w) {
					t.Errorf("GET %s has %q", tc.path, w)
				}
			}
		})
	}
}

// TestCommunityDiscussionsDisabled checks that the pages follow the
// discussionsDisabled setting: the owner's settings show it, and nobody is
// offered a form to open or comment.
func TestCommunityDiscussionsDisabled(t *testing.T) {
	s := newSite(t)
	s.createRepo("alice", "tiny", false)
	s.commit("alice", "alice/tiny", "base", map[string]string{"a.txt": "base\n"})
	if p := s.apiDo("POST", "/api/models/alice/tiny/discussions", s.tokens["bob"], "application/json", []byte(`{"title":"A question"}`)); p.status != 200 {
		t.Fatalf("open: %d %s", p.status, p.body)
	}
	if p := s.apiDo("PUT", "/api/models/alice/tiny/settings", s.tokens["alice"], "application/json", []byte(`{"discussionsDisabled":true}`)); p.status != 200 {
		t.Fatalf("settings: %d %s", p.status, p.body)
	}
	alice, bob := s.browser(), s.browser()
	alice.signIn("alice")
	bob.signIn("bob")
	tests := []struct {
		who           *browser
		path          string
		want, wantNot string
	}{
		{alice, "/alice/tiny/settings", `name="disabled" checked`, ""},
		{alice, "/alice/tiny/discussions", "data-discussions-disabled", "data-new-discussion"},
		{bob, "/alice/tiny/discussions", "A question", "data-new-discussion"},
		{bob, "/alice/tiny/discussions/1", "data-discussions-disabled", `<form class="body" data-comment>`},
	}
	for _, tc := range tests {
		p := tc.who.get(tc.path)
		if p.status != 200 || !strings.Contains(p.body, tc.want) || tc.wantNot != "" && strings.Contains(p.body, tc.wantNot) {
			t.Errorf("%s: %d, want %q and not %q", tc.path, p.status, tc.want, tc.wantNot)
		}
	}
}
