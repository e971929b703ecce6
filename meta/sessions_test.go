package meta_test

import (
	"context"
	"testing"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
)

func TestSessionsSQLite(t *testing.T) { testSessions(t, openSQLite(t)) }

func TestSessionsPostgres(t *testing.T) { testSessions(t, postgresOpener(t)(t)) }

func testSessions(t *testing.T, s *meta.Store) {
	ctx := context.Background()
	alice := mustUser(t, s, "alice", false)
	bob := mustUser(t, s, "bob", false)
	hour := time.Now().Add(time.Hour)

	mustNil(t, s.CreateSession(ctx, alice.ID, "h-alice-1", hour))
	mustNil(t, s.CreateSession(ctx, alice.ID, "h-alice-2", hour))
	mustNil(t, s.CreateSession(ctx, bob.ID, "h-bob", hour))
	mustNil(t, s.CreateSession(ctx, bob.ID, "h-bob-old", time.Now().Add(-time.Minute)))
	wantCode(t, s.CreateSession(ctx, bob.ID, "h-bob", hour), haven.EConflict)
	wantCode(t, s.CreateSession(ctx, 999999, "h-nobody", hour), haven.ENotFound)

	tests := []struct {
		hash     string
		wantUser string // "" means not found
	}{
		{"h-alice-1", "alice"},
		{"h-alice-2", "alice"},
		{"h-bob", "bob"},
		{"h-bob-old", ""}, // expired
		{"h-unknown", ""},
	}
	for _, tc := range tests {
		ses, u, err := s.SessionByHash(ctx, tc.hash)
		if tc.wantUser == "" {
			wantCode(t, err, haven.ENotFound)
			continue
		}
		mustNil(t, err)
		if u.Name != tc.wantUser || ses.UserID != u.ID {
			t.Errorf("SessionByHash(%s) = user %s (#%d, session of #%d), want %s", tc.hash, u.Name, u.ID, ses.UserID, tc.wantUser)
		}
		isUTC(t, "session expiry", ses.ExpiresAt)
		if d := ses.ExpiresAt.Sub(hour); d > time.Millisecond || d < -time.Millisecond {
			t.Errorf("ExpiresAt = %v, want %v", ses.ExpiresAt, hour)
		}
	}

	n, err := s.DeleteExpiredSessions(ctx)
	mustNil(t, err)
	if n != 1 {
		t.Errorf("DeleteExpiredSessions removed %d, want 1", n)
	}
	mustNil(t, s.DeleteSession(ctx, "h-alice-1"))
	mustNil(t, s.DeleteSession(ctx, "h-alice-1")) // signing out twice is fine
	_, _, err = s.SessionByHash(ctx, "h-alice-1")
	wantCode(t, err, haven.ENotFound)

	mustNil(t, s.DeleteUserSessions(ctx, alice.ID))
	_, _, err = s.SessionByHash(ctx, "h-alice-2")
	wantCode(t, err, haven.ENotFound)
	if _, u, err := s.SessionByHash(ctx, "h-bob"); err != nil || u.Name != "bob" {
		t.Errorf("bob's session after alice's were ended: %v, %v", u, err)
	}
}
