package auth_test

import (
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
)

func TestCanReadAuditLog(t *testing.T) {
	fineGrained := func(perms ...string) *auth.Actor {
		return &auth.Actor{User: &haven.User{Name: "alice"}, Role: haven.RoleFineGrained, Orgs: map[string]string{"acme": "admin"},
			Token: &haven.Token{Role: haven.RoleFineGrained, FineGrained: &haven.FineGrained{Scoped: []haven.TokenScope{
				{Entity: haven.TokenEntity{Type: "org", Name: "acme"}, Permissions: perms}}}}}
	}
	tests := []struct {
		name      string
		a         *auth.Actor
		namespace string
		code      string
	}{
		{"anonymous", &auth.Actor{}, "acme", haven.EUnauthorized},
		{"org admin", &auth.Actor{User: &haven.User{Name: "alice"}, Orgs: map[string]string{"acme": "admin"}}, "ACME", ""},
		{"org writer", &auth.Actor{User: &haven.User{Name: "bob"}, Orgs: map[string]string{"acme": "write"}}, "acme", haven.EForbidden},
		{"outsider", &auth.Actor{User: &haven.User{Name: "carol"}}, "acme", haven.EForbidden},
		{"own account", &auth.Actor{User: &haven.User{Name: "carol"}}, "carol", ""},
		{"site admin", &auth.Actor{User: &haven.User{Name: "root", IsAdmin: true}}, "acme", ""},
		{"token with org.read", fineGrained(haven.PermOrgRead), "acme", ""},
		{"token with org.write", fineGrained(haven.PermOrgWrite), "acme", ""},
		{"token without org.read", fineGrained(haven.PermRepoContentRead), "acme", haven.EForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check(t, auth.CanReadAuditLog(tt.a, tt.namespace), tt.code, "")
		})
	}
}
