package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestAuditLogPage: the members page links its admins to the audit log,
// which lists member changes and repositories with filters and an export
// link, and is closed to other members.
func TestAuditLogPage(t *testing.T) {
	s := newSite(t)
	const log = "/organizations/acme/audit-log"
	alice, bob, anon := s.browser(), s.browser(), s.browser()
	alice.signIn("alice")
	bob.signIn("bob")
	if p := alice.form("/organizations/acme/members", url.Values{"action": {"add"}, "username": {"bob"}, "role": {"read"}}); p.status != http.StatusSeeOther {
		t.Fatalf("add bob: %d", p.status)
	}
	if p := alice.form("/organizations/acme/members", url.Values{"action": {"role"}, "username": {"bob"}, "role": {"write"}}); p.status != http.StatusSeeOther {
		t.Fatalf("bob's role: %d", p.status)
	}
	if p := s.apiDo("POST", "/api/repos/create", s.tokens["alice"], "application/json", []byte(`{"name":"plans","organization":"acme"}`)); p.status != 200 {
		t.Fatalf("create: %d %s", p.status, p.body)
	}
	if p := alice.get("/organizations/acme/members"); !strings.Contains(p.body, `href="`+log+`"`) {
		t.Error("the members page does not link its admin to the audit log")
	}
	tests := []struct {
		name   string
		b      *browser
		path   string
		status int
		want   []string
		absent []string
	}{
		{"all", alice, log, 200, []string{"org.add_user", "org.change_role", "repo.create", "acme/plans", "alice changed the role of bob in acme to write",
			`href="/api/organizations/acme/audit-log?format=jsonl"`}, nil},
		{"by action", alice, log + "?action=org.change_role", 200, []string{"org.change_role", "format=jsonl"}, []string{"<code>repo.create</code>"}},
		{"by scope", alice, log + "?action=repo", 200, []string{"<code>repo.create</code>"}, []string{"<code>org.add_user</code>"}},
		{"to the past", alice, log + "?to=2000-01-01", 200, []string{"No entries."}, nil},
		{"bad date", alice, log + "?from=soon", 400, nil, nil},
		{"a member who is no admin", bob, log, 403, nil, []string{"org.add_user"}},
		{"unknown org", alice, "/organizations/nope/audit-log", 404, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.b.get(tt.path)
			if p.status != tt.status {
				t.Fatalf("status %d, want %d\n%s", p.status, tt.status, p.body)
			}
			for _, w := range tt.want {
				if !strings.Contains(p.body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, w := range tt.absent {
				if strings.Contains(p.body, w) {
					t.Errorf("page shows %q", w)
				}
			}
		})
	}
	if p := anon.get(log); p.status == 200 {
		t.Errorf("visitor: %d", p.status)
	}
	// Sign-ins go to the user's own log, not the organisation's.
	if p := s.apiDo("GET", "/api/users/alice/audit-log?action=user.sign_in", s.tokens["alice"], "", nil); p.status != 200 ||
		!strings.Contains(p.body, `"method":"password"`) {
		t.Errorf("alice's own log: %d %s", p.status, p.body)
	}
}

// TestAuditWithChanges makes the changes whose entries the store writes in
// their own transaction (roles, visibility, moves, deletions, tokens) and
// reads them back from the audit log, each once, with its actor.
func TestAuditWithChanges(t *testing.T) {
	s := newSite(t)
	alice := s.browser()
	alice.signIn("alice")
	steps := []struct {
		name string
		do   func() int
		want int
	}{
		{"add bob", func() int {
			return alice.form("/organizations/acme/members", url.Values{"action": {"add"}, "username": {"bob"}, "role": {"read"}}).status
		}, http.StatusSeeOther},
		{"bob's role", func() int {
			return alice.form("/organizations/acme/members", url.Values{"action": {"role"}, "username": {"bob"}, "role": {"write"}}).status
		}, http.StatusSeeOther},
		{"remove bob", func() int {
			return alice.form("/organizations/acme/members", url.Values{"action": {"remove"}, "username": {"bob"}}).status
		}, http.StatusSeeOther},
		{"create", func() int {
			return s.apiDo("POST", "/api/repos/create", s.tokens["alice"], "application/json", []byte(`{"name":"plans","organization":"acme"}`)).status
		}, 200},
		{"make it private", func() int {
			return s.apiDo("PUT", "/api/models/acme/plans/settings", s.tokens["alice"], "application/json", []byte(`{"private":true}`)).status
		}, 200},
		{"rename", func() int {
			return s.apiDo("POST", "/api/repos/move", s.tokens["alice"], "application/json", []byte(`{"fromRepo":"acme/plans","toRepo":"acme/plans-2"}`)).status
		}, 200},
		{"delete", func() int {
			return s.apiDo("DELETE", "/api/repos/delete", s.tokens["alice"], "application/json", []byte(`{"name":"plans-2","organization":"acme"}`)).status
		}, 200},
		{"delete again", func() int {
			return s.apiDo("DELETE", "/api/repos/delete", s.tokens["alice"], "application/json", []byte(`{"name":"plans-2","organization":"acme"}`)).status
		}, 404},
	}
	for _, st := range steps {
		if got := st.do(); got != st.want {
			t.Fatalf("%s: %d, want %d", st.name, got, st.want)
		}
	}
	p := s.apiDo("GET", "/api/organizations/acme/audit-log", s.tokens["alice"], "", nil)
	if p.status != 200 {
		t.Fatalf("audit log: %d %s", p.status, p.body)
	}
	var entries []struct {
		Type   string
		Author struct{ User string }
		Data   map[string]any
	}
	if err := json.Unmarshal([]byte(p.body), &entries); err != nil {
		t.Fatalf("%v: %s", err, p.body)
	}
	var got []string
	for _, e := range entries {
		if e.Author.User != "alice" {
			t.Errorf("%s by %q", e.Type, e.Author.User)
		}
		got = append(got, e.Type)
	}
	want := []string{"repo.delete", "repo.move", "repo.update_settings", "repo.create", "org.remove_user", "org.change_role", "org.add_user"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("entries %v, want %v", got, want)
	}

	// Tokens: created and revoked on the tokens page, in the user's own log.
	before := s.apiDo("GET", "/api/users/alice/audit-log?action=token", s.tokens["alice"], "", nil).body
	if p := alice.form("/settings/tokens", url.Values{"name": {"ci"}, "role": {"read"}}); p.status != 200 {
		t.Fatalf("create token: %d", p.status)
	}
	if p := alice.form("/settings/tokens/999999/delete", nil); p.status != http.StatusNotFound {
		t.Fatalf("revoke a missing token: %d", p.status)
	}
	after := s.apiDo("GET", "/api/users/alice/audit-log?action=token", s.tokens["alice"], "", nil).body
	if strings.Count(after, "token.create") != strings.Count(before, "token.create")+1 || strings.Contains(after, "token.revoke") {
		t.Fatalf("token entries before %s\nafter %s", before, after)
	}
}
