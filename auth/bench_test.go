package auth_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/internal/storetest"
)

// BenchmarkCan measures the decision alone for a classic write token and a
// fine-grained one with eleven scopes, the repository's last: what scopes
// add to every authorised request.
func BenchmarkCan(b *testing.B) {
	repo := &haven.Repo{ID: 1, Type: haven.Model, Namespace: "alice", Name: "bench", Private: true}
	fg := &haven.FineGrained{Global: []string{haven.PermDiscussionWrite}}
	for i := range 10 {
		fg.Scoped = append(fg.Scoped, haven.TokenScope{Entity: haven.TokenEntity{Type: "model", Name: fmt.Sprintf("alice/other-%d", i)}, Permissions: []string{haven.PermRepoWrite}})
	}
	fg.Scoped = append(fg.Scoped, haven.TokenScope{Entity: haven.TokenEntity{Type: "model", Name: "alice/bench"}, Permissions: []string{haven.PermRepoWrite}})
	// The actors come from ForUser on a real store, as the API caches them.
	ctx := context.Background()
	m := storetest.Open(b).Meta
	user := &haven.User{Name: "alice"}
	if err := m.CreateUser(ctx, user, ""); err != nil {
		b.Fatal(err)
	}
	actor := func(t *haven.Token) *auth.Actor {
		a, err := auth.ForUser(ctx, m, user, t)
		if err != nil {
			b.Fatal(err)
		}
		return a
	}
	actors := []struct {
		name string
		a    *auth.Actor
	}{
		{"write", actor(&haven.Token{Role: haven.RoleWrite})},
		{"fineGrained", actor(&haven.Token{Role: haven.RoleFineGrained, FineGrained: fg})},
	}
	for _, tt := range actors {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := auth.Can(tt.a, auth.Write, repo); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
