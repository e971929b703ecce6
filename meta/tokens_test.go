package meta_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
)

func TestGovernanceSQLite(t *testing.T)   { testGovernance(t, openSQLite) }
func TestGovernancePostgres(t *testing.T) { testGovernance(t, postgresOpener(t)) }

// testGovernance covers fine-grained tokens, expiry, the contributor role
// and organisations' default visibility.
func testGovernance(t *testing.T, open func(*testing.T) *meta.Store) {
	t.Run("FineGrainedTokens", func(t *testing.T) {
		s := open(t)
		alice := mustUser(t, s, "alice", false)
		fg := &haven.FineGrained{
			CanReadGatedRepos: true,
			Global:            []string{haven.PermDiscussionWrite},
			Scoped: []haven.TokenScope{
				{Entity: haven.TokenEntity{Type: "model", Name: "alice/m"}, Permissions: []string{haven.PermRepoContentRead, haven.PermRepoWrite}},
				{Entity: haven.TokenEntity{Type: "org", Name: "acme"}, Permissions: []string{haven.PermCollectionRead}},
			},
		}
		expires := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		tok := &haven.Token{UserID: alice.ID, DisplayName: "ci", Role: haven.RoleFineGrained, FineGrained: fg, ExpiresAt: expires}
		mustNil(t, s.CreateToken(ctx, tok, "fg1"))
		got, _, err := s.TokenByHash(ctx, "fg1")
		mustNil(t, err)
		if got.Role != haven.RoleFineGrained || !reflect.DeepEqual(got.FineGrained, fg) || !got.ExpiresAt.Equal(expires) {
			t.Fatalf("token = %+v (scopes %+v), want the stored scopes and expiry", got, got.FineGrained)
		}
		isUTC(t, "ExpiresAt", got.ExpiresAt)
		classic := &haven.Token{UserID: alice.ID, Role: haven.RoleWrite}
		mustNil(t, s.CreateToken(ctx, classic, "w1"))
		got, _, err = s.TokenByHash(ctx, "w1")
		mustNil(t, err)
		if got.FineGrained != nil || !got.ExpiresAt.IsZero() {
			t.Fatalf("classic token = %+v, want no scopes and no expiry", got)
		}
		list, err := s.ListTokens(ctx, alice.ID)
		mustNil(t, err)
		if len(list) != 2 || list[0].FineGrained == nil {
			t.Fatalf("ListTokens = %+v, want both with the scopes", list)
		}
		tests := []struct {
			name string
			tok  *haven.Token
		}{
			{"fine-grained without scopes", &haven.Token{UserID: alice.ID, Role: haven.RoleFineGrained}},
			{"classic with scopes", &haven.Token{UserID: alice.ID, Role: haven.RoleWrite, FineGrained: &haven.FineGrained{}}},
			{"unknown permission", &haven.Token{UserID: alice.ID, Role: haven.RoleFineGrained, FineGrained: &haven.FineGrained{
				Scoped: []haven.TokenScope{{Entity: haven.TokenEntity{Type: "model", Name: "alice/m"}, Permissions: []string{"repo.everything"}}}}}},
			{"unknown entity type", &haven.Token{UserID: alice.ID, Role: haven.RoleFineGrained, FineGrained: &haven.FineGrained{
				Scoped: []haven.TokenScope{{Entity: haven.TokenEntity{Type: "planet", Name: "mars"}, Permissions: []string{haven.PermRepoWrite}}}}}},
			{"repository without namespace", &haven.Token{UserID: alice.ID, Role: haven.RoleFineGrained, FineGrained: &haven.FineGrained{
				Scoped: []haven.TokenScope{{Entity: haven.TokenEntity{Type: "model", Name: "m"}, Permissions: []string{haven.PermRepoWrite}}}}}},
			{"scoped-only permission as global", &haven.Token{UserID: alice.ID, Role: haven.RoleFineGrained, FineGrained: &haven.FineGrained{
				Global: []string{haven.PermRepoWrite}}}},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				wantCode(t, s.CreateToken(ctx, tt.tok, "bad"+string(rune('a'+i))), haven.EInvalid)
			})
		}
	})
	t.Run("Expired", func(t *testing.T) {
		tok := &haven.Token{ExpiresAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		if tok.Expired(tok.ExpiresAt.Add(-time.Second)) || !tok.Expired(tok.ExpiresAt) {
			t.Fatal("Expired is wrong around ExpiresAt")
		}
		if (&haven.Token{}).Expired(time.Now()) {
			t.Fatal("a token without ExpiresAt expired")
		}
	})
	t.Run("Contributor", func(t *testing.T) {
		s := open(t)
		acme := mustUser(t, s, "acme", true)
		bob := mustUser(t, s, "bob", false)
		mustNil(t, s.AddMember(ctx, acme.ID, bob.ID, meta.RoleContributor))
		ms, err := s.Memberships(ctx, bob.ID)
		mustNil(t, err)
		if len(ms) != 1 || ms[0].Role != meta.RoleContributor {
			t.Fatalf("Memberships = %+v, want contributor of acme", ms)
		}
		wantCode(t, s.AddMember(ctx, acme.ID, bob.ID, "owner"), haven.EInvalid)
	})
	t.Run("OrgDefaultVisibility", func(t *testing.T) {
		s := open(t)
		acme := mustUser(t, s, "acme", true)
		bob := mustUser(t, s, "bob", false)
		for _, want := range []bool{true, false} {
			mustNil(t, s.SetOrgDefaultPrivate(ctx, acme.ID, want))
			got, err := s.OrgDefaultPrivate(ctx, acme.ID)
			mustNil(t, err)
			if got != want {
				t.Fatalf("OrgDefaultPrivate = %v, want %v", got, want)
			}
		}
		wantCode(t, s.SetOrgDefaultPrivate(ctx, bob.ID, true), haven.ENotFound)
		if got, err := s.OrgDefaultPrivate(ctx, bob.ID); err != nil || got {
			t.Fatalf("OrgDefaultPrivate(user) = %v, %v; want false", got, err)
		}
	})
}
