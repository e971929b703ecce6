package web_test

import (
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
