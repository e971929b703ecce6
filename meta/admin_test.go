package meta_test

import (
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
)

func TestAdminQueriesSQLite(t *testing.T)   { testAdminQueries(t, openSQLite(t)) }
func TestAdminQueriesPostgres(t *testing.T) { testAdminQueries(t, postgresOpener(t)(t)) }

// testAdminQueries covers what the admin commands and the first start read:
// users with whether they have a password, whether any user exists, tokens
// by id.
func testAdminQueries(t *testing.T, s *meta.Store) {
	if has, err := s.HasUsers(ctx); err != nil || has {
		t.Fatalf("HasUsers of an empty store = %v, %v", has, err)
	}
	mustUser(t, s, "acme", true)
	if has, err := s.HasUsers(ctx); err != nil || has {
		t.Fatalf("an organisation counts as a user: %v, %v", has, err)
	}
	bob := &haven.User{Name: "bob"}
	mustNil(t, s.CreateUser(ctx, bob, "$2a$10$hash"))
	alice := mustUser(t, s, "Alice", false)
	if has, err := s.HasUsers(ctx); err != nil || !has {
		t.Fatalf("HasUsers = %v, %v", has, err)
	}
	users, passwords, err := s.ListUsers(ctx)
	if err != nil || len(users) != 2 || users[0].Name != "Alice" || users[1].Name != "bob" || passwords[0] || !passwords[1] {
		t.Fatalf("ListUsers = %v %v, %v", users, passwords, err)
	}
	tok := &haven.Token{UserID: alice.ID, DisplayName: "laptop", Role: haven.RoleWrite}
	mustNil(t, s.CreateToken(ctx, tok, "hash-1"))
	got, err := s.TokenByID(ctx, tok.ID)
	if err != nil || got.UserID != alice.ID || got.DisplayName != "laptop" {
		t.Fatalf("TokenByID = %+v, %v", got, err)
	}
	_, err = s.TokenByID(ctx, tok.ID+100)
	wantCode(t, err, haven.ENotFound)
}
