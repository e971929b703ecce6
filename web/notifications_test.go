package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/havenhub/haven"
)

// TestNotificationsPage: the header counts unread notifications, the page
// lists them newest first with the unread marked, and "mark all read"
// clears the count; visitors are sent to sign in.
func TestNotificationsPage(t *testing.T) {
	s := newSite(t)
	ctx := context.Background()
	alice, err := s.meta.UserByName(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	for _, subject := range []string{"older one", "newer one"} {
		n := &haven.Notification{UserID: alice.ID, Kind: haven.NotifyMention, Actor: "bob", Subject: subject,
			Body: "bob mentioned you", URL: "/alice/x/discussions/1"}
		if err := s.meta.AddNotification(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	b, anon := s.browser(), s.browser()
	b.signIn("alice")
	home := b.get("/")
	if !strings.Contains(home.body, `href="/notifications"`) || !strings.Contains(home.body, `<span class="badge unread">2</span>`) {
		t.Fatalf("the header lacks the unread count:\n%s", home.body)
	}
	p := b.get("/notifications")
	if p.status != http.StatusOK {
		t.Fatalf("page: %d", p.status)
	}
	newer, older := strings.Index(p.body, "newer one"), strings.Index(p.body, "older one")
	if newer < 0 || older < newer {
		t.Fatalf("not newest first:\n%s", p.body)
	}
	if strings.Count(p.body, `class="notification unread"`) != 2 || !strings.Contains(p.body, "Mark all read") {
		t.Fatalf("unread not marked:\n%s", p.body)
	}
	if r := b.form("/notifications", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("mark all read: %d", r.status)
	}
	p = b.get("/notifications")
	if strings.Contains(p.body, `class="notification unread"`) || strings.Contains(p.body, `badge unread`) || !strings.Contains(p.body, "newer one") {
		t.Fatalf("still unread after marking:\n%s", p.body)
	}
	if r := anon.get("/notifications"); r.status != http.StatusSeeOther {
		t.Fatalf("visitor: %d", r.status)
	}
}
