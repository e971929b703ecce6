package meta_test

import (
	"context"
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
)

func TestIdentitiesSQLite(t *testing.T) { testIdentities(t, openSQLite(t)) }

func TestIdentitiesPostgres(t *testing.T) { testIdentities(t, postgresOpener(t)(t)) }

func testIdentities(t *testing.T, s *meta.Store) {
	ctx := context.Background()
	mustUser(t, s, "taken", false)
	const iss, other = "https://id.example.org", "https://other.example.org"

	steps := []struct {
		name              string
		user, issuer, sub string
		wantCode          string // "" for success
	}{
		{"first sign-in", "alice", iss, "sub-1", ""},
		{"same account again", "alice2", iss, "sub-1", haven.EConflict},
		{"name taken, any case", "TAKEN", iss, "sub-2", haven.EConflict},
		{"invalid name", "-bad", iss, "sub-2", haven.EInvalid},
		{"same subject at another provider", "alice-other", other, "sub-1", ""},
	}
	for _, st := range steps {
		u := &haven.User{Name: st.user, FullName: "Full " + st.user, Email: st.user + "@example.org"}
		err := s.CreateIdentityUser(ctx, u, st.issuer, st.sub)
		if st.wantCode != "" {
			wantCode(t, err, st.wantCode)
			if _, err := s.UserByName(ctx, st.user); st.user != "TAKEN" && !haven.IsCode(err, haven.ENotFound) {
				t.Errorf("%s: a refused link left the user %s behind (%v)", st.name, st.user, err)
			}
			continue
		}
		mustNil(t, err)
		if u.ID == 0 || u.CreatedAt.IsZero() {
			t.Errorf("%s: ID and CreatedAt not filled: %+v", st.name, u)
		}
	}

	lookups := []struct {
		issuer, sub, want string // want "" means not found
	}{
		{iss, "sub-1", "alice"},
		{other, "sub-1", "alice-other"},
		{iss, "sub-2", ""},
		{"https://ID.example.org", "sub-1", ""}, // issuers compare exactly
	}
	for _, l := range lookups {
		u, err := s.UserByIdentity(ctx, l.issuer, l.sub)
		if l.want == "" {
			wantCode(t, err, haven.ENotFound)
			continue
		}
		mustNil(t, err)
		if u.Name != l.want || u.Email != l.want+"@example.org" || u.IsOrg {
			t.Errorf("UserByIdentity(%s, %s) = %+v, want %s", l.issuer, l.sub, u, l.want)
		}
	}
	if h, err := s.PasswordHash(ctx, mustFind(t, s, "alice").ID); err != nil || h != "" {
		t.Errorf("a user of a provider has password hash %q (%v), want none", h, err)
	}
}

func mustFind(t *testing.T, s *meta.Store, name string) *haven.User {
	t.Helper()
	u, err := s.UserByName(context.Background(), name)
	mustNil(t, err)
	return u
}
