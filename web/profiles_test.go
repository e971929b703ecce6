package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/profiles"
)

func TestInvitationsFollowsAndProfiles(t *testing.T) {
	s := newSite(t)
	s.pages.Profiles = profiles.New(profiles.Config{Meta: s.meta, PublicURL: s.url, Changed: s.pages.ForgetSessions})
	ctx := context.Background()
	const members = "/organizations/acme/members"
	alice, bob := s.browser(), s.browser()
	alice.signIn("alice")
	bob.signIn("bob")

	// alice invites bob; he is not a member until he accepts.
	if p := alice.get(members); !strings.Contains(p.body, "Invite a member") {
		t.Fatalf("the members page has no invitation form:\n%s", p.body)
	}
	if p := bob.form(members, url.Values{"action": {"invite"}, "username": {"bob"}, "role": {"admin"}}); p.status != http.StatusForbidden {
		t.Errorf("bob inviting himself: %d, want 403", p.status)
	}
	p := alice.form(members, url.Values{"action": {"invite"}, "username": {"bob"}, "role": {"write"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != members+"?done=invited" {
		t.Fatalf("invite bob: %d to %q\n%s", p.status, p.header.Get("Location"), p.body)
	}
	if p := alice.get(members + "?done=invited"); !strings.Contains(p.body, "The invitation was sent.") || !strings.Contains(p.body, `aria-label="Withdraw the invitation of bob"`) {
		t.Errorf("the pending invitation is not listed:\n%s", p.body)
	}
	if p := alice.form(members, url.Values{"action": {"invite"}, "username": {"nobody"}, "role": {"read"}}); p.status != http.StatusBadRequest {
		t.Errorf("inviting nobody: %d, want 400", p.status)
	}
	// An address without an account keeps its invitation, shown as not
	// emailed without a mail server.
	if p := alice.form(members, url.Values{"action": {"invite"}, "username": {"newcomer@example.com"}, "role": {"read"}}); p.status != http.StatusSeeOther {
		t.Errorf("inviting an address: %d, want 303", p.status)
	}
	if p := alice.get(members); !strings.Contains(p.body, `<span data-invited-email>newcomer@example.com</span>`) || !strings.Contains(p.body, "not emailed") {
		t.Errorf("the invitation of an address is not listed:\n%s", between(p.body, "<main", "</main>"))
	}
	org, _ := s.meta.UserByName(ctx, "acme")
	if users, _, _ := s.meta.Members(ctx, org.ID); len(users) != 1 {
		t.Fatalf("bob is a member before accepting: %v", users)
	}
	if p := bob.get("/bob"); !strings.Contains(p.body, "Invitations waiting for your answer") {
		t.Errorf("bob's profile does not show the invitation:\n%s", p.body)
	}
	if p := alice.get("/bob"); strings.Contains(p.body, "Invitations waiting") {
		t.Error("alice sees bob's invitations")
	}
	invs, _ := s.meta.InvitationsOfUser(ctx, mustID(t, s, "bob"))
	if len(invs) != 1 {
		t.Fatalf("bob's invitations: %v", invs)
	}
	if p := alice.form("/settings/invitations", url.Values{"action": {"accept"}, "id": {invs[0].ID}}); p.status != http.StatusBadRequest {
		t.Errorf("alice accepting bob's invitation: %d, want 400", p.status)
	}
	if p := bob.get("/settings/invitations"); !strings.Contains(p.body, `aria-label="Join acme"`) {
		t.Errorf("the invitations page:\n%s", p.body)
	}
	p = bob.form("/settings/invitations", url.Values{"action": {"accept"}, "id": {invs[0].ID}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/acme" {
		t.Fatalf("accept: %d to %q\n%s", p.status, p.header.Get("Location"), p.body)
	}
	users, roles, _ := s.meta.Members(ctx, org.ID)
	if len(users) != 2 || users[1].Name != "bob" || roles[1] != meta.RoleWrite {
		t.Errorf("members after accepting: %v %v", users, roles)
	}
	if p := bob.get(members); p.status != 200 {
		t.Errorf("bob's session does not know his membership: %d", p.status)
	}

	// bob follows alice.
	if p := bob.get("/alice"); !strings.Contains(p.body, ">Follow</button>") || !strings.Contains(p.body, `src="/avatars/alice"`) {
		t.Fatalf("alice's profile seen by bob:\n%s", p.body)
	}
	if p := bob.form("/settings/follow", url.Values{"name": {"alice"}}); p.status != http.StatusSeeOther {
		t.Fatalf("follow: %d\n%s", p.status, p.body)
	}
	if p := bob.get("/alice"); !strings.Contains(p.body, ">Unfollow</button>") || !strings.Contains(p.body, "1 follower<") || !strings.Contains(p.body, `title="bob"`) {
		t.Errorf("after following:\n%s", p.body)
	}
	if p := alice.get("/alice"); strings.Contains(p.body, "Follow</button>") {
		t.Error("alice is offered to follow herself")
	}
	bob.form("/settings/follow", url.Values{"name": {"alice"}, "follow": {"0"}})
	if p := bob.get("/alice"); !strings.Contains(p.body, "0 followers") {
		t.Error("unfollowing did not count")
	}

	// The organisation's profile, by its admin only; user content is inert.
	const settings = "/organizations/acme/settings"
	if p := bob.get(settings); p.status != http.StatusForbidden {
		t.Errorf("a write member on the settings page: %d, want 403", p.status)
	}
	if p := alice.form(settings, url.Values{"details": {"x"}, "website": {"javascript:alert(1)"}}); p.status != http.StatusBadRequest || !strings.Contains(p.body, "http or https") {
		t.Errorf("a javascript: website: %d", p.status)
	}
	p = alice.form(settings, url.Values{"fullname": {"Acme Corp"}, "details": {"<script>alert(1)</script> tools"}, "website": {"https://acme.example/"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("save the profile: %d\n%s", p.status, p.body)
	}
	p = bob.get("/acme")
	if strings.Contains(p.body, "<script>alert(1)") || !strings.Contains(p.body, "&lt;script&gt;alert(1)&lt;/script&gt; tools") ||
		!strings.Contains(p.body, `href="https://acme.example/"`) || !strings.Contains(p.body, "Acme Corp") {
		t.Errorf("the organisation's profile:\n%s", p.body)
	}
	if p := alice.get("/settings/profile"); p.status != 200 || !strings.Contains(p.body, `name="website"`) {
		t.Errorf("the user's profile settings: %d", p.status)
	}

	// Social handles: a link is refused, handles are kept and linked.
	if p := alice.form("/settings/profile", url.Values{"github": {"https://evil.example/x"}}); p.status != http.StatusBadRequest || !strings.Contains(p.body, "not a handle") {
		t.Errorf("a link as a handle: %d", p.status)
	}
	p = alice.form("/settings/profile", url.Values{"fullname": {"Alice"}, "github": {"@alice-gh"}, "bluesky": {"alice.bsky.social"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("save the handles: %d\n%s", p.status, between(p.body, "<main", "</main>"))
	}
	p = bob.get("/alice")
	for _, w := range []string{`href="https://github.com/alice-gh"`, `href="https://bsky.app/profile/alice.bsky.social"`} {
		if !strings.Contains(p.body, w) {
			t.Errorf("alice's profile lacks %s", w)
		}
	}
	if strings.Contains(p.body, `data-social="Twitter"`) {
		t.Error("a handle nobody gave is linked")
	}
	if p := alice.get("/settings/profile"); !strings.Contains(p.body, `value="alice-gh"`) {
		t.Error("the settings form does not show the saved handle")
	}
}

func mustID(t *testing.T, s *site, name string) int64 {
	t.Helper()
	u, err := s.meta.UserByName(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}
