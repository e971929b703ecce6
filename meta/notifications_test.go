package meta_test

import (
	"testing"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
)

func TestNotificationsSQLite(t *testing.T)   { testNotifications(t, openSQLite(t)) }
func TestNotificationsPostgres(t *testing.T) { testNotifications(t, postgresOpener(t)(t)) }

func testNotifications(t *testing.T, s *meta.Store) {
	alice, bob := &haven.User{Name: "alice"}, &haven.User{Name: "bob"}
	mustNil(t, s.CreateUser(ctx, alice, ""))
	mustNil(t, s.CreateUser(ctx, bob, ""))
	base := time.Date(2026, 6, 20, 9, 0, 0, 0, time.UTC)
	var ids []string
	for i, subject := range []string{"first", "second", "third"} {
		n := &haven.Notification{UserID: alice.ID, Time: base.Add(time.Duration(i) * time.Minute), Kind: haven.NotifyMention,
			Actor: "bob", Subject: subject, Body: "body " + subject, URL: "http://hub/x"}
		mustNil(t, s.AddNotification(ctx, n))
		if len(n.ID) != 24 {
			t.Fatalf("id %q", n.ID)
		}
		ids = append(ids, n.ID)
	}
	mustNil(t, s.AddNotification(ctx, &haven.Notification{UserID: bob.ID, Kind: haven.NotifyAccessRequest, Subject: "bob's"}))
	if err := s.AddNotification(ctx, &haven.Notification{Kind: haven.NotifyMention}); !haven.IsCode(err, haven.EInvalid) {
		t.Fatalf("no recipient: %v", err)
	}

	tests := []struct {
		name   string
		user   int64
		before string
		limit  int
		want   []string // subjects, newest first
	}{
		{"newest first", alice.ID, "", 0, []string{"third", "second", "first"}},
		{"limit", alice.ID, "", 2, []string{"third", "second"}},
		{"cursor", alice.ID, ids[1], 0, []string{"first"}},
		{"another user's cursor", bob.ID, ids[2], 0, nil},
		{"own only", bob.ID, "", 0, []string{"bob's"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Notifications(ctx, tt.user, tt.before, tt.limit)
			mustNil(t, err)
			var subjects []string
			for _, n := range got {
				subjects = append(subjects, n.Subject)
				if n.Read {
					t.Errorf("%s is read", n.Subject)
				}
			}
			if len(subjects) != len(tt.want) {
				t.Fatalf("got %v, want %v", subjects, tt.want)
			}
			for i := range subjects {
				if subjects[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", subjects, tt.want)
				}
			}
		})
	}
	got, err := s.Notifications(ctx, alice.ID, "", 1)
	mustNil(t, err)
	if n := got[0]; n.Kind != haven.NotifyMention || n.Actor != "bob" || n.Body != "body third" || n.URL != "http://hub/x" ||
		!n.Time.Equal(base.Add(2*time.Minute)) {
		t.Fatalf("stored %+v", n)
	}

	t.Run("mark read", func(t *testing.T) {
		unread, err := s.UnreadNotifications(ctx, alice.ID)
		mustNil(t, err)
		if unread != 3 {
			t.Fatalf("unread %d, want 3", unread)
		}
		mustNil(t, s.MarkNotificationsRead(ctx, alice.ID))
		for user, want := range map[int64]int{alice.ID: 0, bob.ID: 1} {
			unread, err := s.UnreadNotifications(ctx, user)
			mustNil(t, err)
			if unread != want {
				t.Fatalf("user %d: unread %d, want %d", user, unread, want)
			}
		}
		got, err := s.Notifications(ctx, alice.ID, "", 0)
		mustNil(t, err)
		for _, n := range got {
			if !n.Read {
				t.Fatalf("%s unread after marking", n.Subject)
			}
		}
	})
}
