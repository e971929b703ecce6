package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/havenhub/haven"
)

func TestTokensPageFineGrained(t *testing.T) {
	s := newSite(t)
	b := s.browser()
	b.signIn("alice")
	tests := []struct {
		name   string
		form   url.Values
		status int
		want   *haven.FineGrained // nil when refused
		expiry bool
	}{
		{"repository and namespace", url.Values{"name": {"ci"}, "role": {"fineGrained"}, "repo0": {"alice/m"}, "repo0_write": {"on"},
			"ns1": {"alice"}, "ns1_read": {"on"}, "global_discussion": {"on"}, "expires": {"30"}}, http.StatusOK,
			&haven.FineGrained{Global: []string{haven.PermDiscussionWrite}, Scoped: []haven.TokenScope{
				{Entity: haven.TokenEntity{Type: "model", Name: "alice/m"}, Permissions: []string{haven.PermRepoContentRead, haven.PermRepoWrite, haven.PermDiscussionWrite}},
				{Entity: haven.TokenEntity{Type: "user", Name: "alice"}, Permissions: []string{haven.PermRepoContentRead}},
			}}, true},
		{"dataset read", url.Values{"name": {"ds"}, "role": {"fineGrained"}, "repo2": {"datasets/alice/d"}, "repo2_read": {"on"}, "gated": {"on"}}, http.StatusOK,
			&haven.FineGrained{CanReadGatedRepos: true, Scoped: []haven.TokenScope{
				{Entity: haven.TokenEntity{Type: "dataset", Name: "alice/d"}, Permissions: []string{haven.PermRepoContentRead}},
			}}, false},
		{"no scopes", url.Values{"name": {"empty"}, "role": {"fineGrained"}}, http.StatusBadRequest, nil, false},
		{"no level", url.Values{"name": {"nolevel"}, "role": {"fineGrained"}, "repo0": {"alice/m"}}, http.StatusBadRequest, nil, false},
		{"unknown namespace", url.Values{"name": {"ghost"}, "role": {"fineGrained"}, "ns0": {"nobody"}, "ns0_read": {"on"}}, http.StatusBadRequest, nil, false},
		{"bad expiry", url.Values{"name": {"later"}, "role": {"write"}, "expires": {"5"}}, http.StatusBadRequest, nil, false},
	}
	alice, _ := s.meta.UserByName(context.Background(), "alice")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := b.form("/settings/tokens", tt.form)
			if p.status != tt.status {
				t.Fatalf("status %d, want %d", p.status, tt.status)
			}
			list, err := s.meta.ListTokens(context.Background(), alice.ID)
			if err != nil {
				t.Fatal(err)
			}
			var got *haven.Token
			for i := range list {
				if list[i].DisplayName == tt.form.Get("name") {
					got = &list[i]
				}
			}
			if tt.want == nil {
				if got != nil {
					t.Fatalf("a refused form made a token: %+v", got)
				}
				return
			}
			if got == nil || got.Role != haven.RoleFineGrained || !equalScopes(got.FineGrained, tt.want) || got.ExpiresAt.IsZero() != !tt.expiry {
				t.Fatalf("token = %+v (%+v), want scopes %+v, expiry %v", got, got.FineGrained, tt.want, tt.expiry)
			}
			if !strings.Contains(p.body, "hf_") {
				t.Error("the new token is not shown")
			}
		})
	}
}

func equalScopes(a, b *haven.FineGrained) bool {
	if a == nil || a.CanReadGatedRepos != b.CanReadGatedRepos || strings.Join(a.Global, ",") != strings.Join(b.Global, ",") || len(a.Scoped) != len(b.Scoped) {
		return false
	}
	for i := range a.Scoped {
		if a.Scoped[i].Entity != b.Scoped[i].Entity || strings.Join(a.Scoped[i].Permissions, ",") != strings.Join(b.Scoped[i].Permissions, ",") {
			return false
		}
	}
	return true
}
