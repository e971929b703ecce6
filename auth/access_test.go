package auth_test

import (
	"strings"
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
)

func TestCanDownloadGated(t *testing.T) {
	repo := &haven.Repo{ID: 7, Type: haven.Model, Namespace: "alice", Name: "gated", Gated: "manual"}
	user := func(name string, access map[int64]haven.AccessStatus) *auth.Actor {
		return &auth.Actor{User: &haven.User{Name: name}, Role: haven.RoleRead, Access: access}
	}
	tests := []struct {
		name  string
		actor *auth.Actor
		repo  *haven.Repo
		code  string // "" when allowed
		want  string // in the message
	}{
		{"anonymous", &auth.Actor{}, repo, haven.EGatedRepo, "Please log in"},
		{"owner", user("alice", nil), repo, "", ""},
		{"org member", &auth.Actor{User: &haven.User{Name: "bob"}, Orgs: map[string]string{"alice": "read"}}, repo, "", ""},
		{"no request", user("bob", nil), repo, haven.EGatedRepo, "not in the authorized list"},
		{"request elsewhere", user("bob", map[int64]haven.AccessStatus{8: haven.AccessAccepted}), repo, haven.EGatedRepo, "not in the authorized list"},
		{"pending", user("bob", map[int64]haven.AccessStatus{7: haven.AccessPending}), repo, haven.EGatedRepo, "awaiting a review"},
		{"rejected", user("bob", map[int64]haven.AccessStatus{7: haven.AccessRejected}), repo, haven.EGatedRepo, "rejected"},
		{"accepted", user("bob", map[int64]haven.AccessStatus{7: haven.AccessAccepted}), repo, "", ""},
		{"not gated", user("bob", nil), &haven.Repo{ID: 9, Namespace: "alice", Name: "open"}, "", ""},
		{"private beats accepted", user("bob", map[int64]haven.AccessStatus{10: haven.AccessAccepted}),
			&haven.Repo{ID: 10, Namespace: "alice", Name: "p", Private: true, Gated: "manual"}, haven.ERepoNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := auth.CanDownload(tt.actor, tt.repo, "http://hub/alice/gated")
			if tt.code == "" {
				if err != nil {
					t.Fatalf("err = %v, want access", err)
				}
				return
			}
			if !haven.IsCode(err, tt.code) {
				t.Fatalf("err = %v, want %s", err, tt.code)
			}
			if e, ok := err.(*haven.Error); !ok || !strings.Contains(e.Message, tt.want) {
				t.Fatalf("message = %v, want %q in it", err, tt.want)
			}
		})
	}
}

func TestCanDecideAccess(t *testing.T) {
	repo := &haven.Repo{ID: 7, Namespace: "alice", Name: "gated", Gated: "manual"}
	tests := []struct {
		name  string
		actor *auth.Actor
		code  string
	}{
		{"owner", &auth.Actor{User: &haven.User{Name: "alice"}, Role: haven.RoleWrite}, ""},
		{"owner with a read token", &auth.Actor{User: &haven.User{Name: "alice"}, Role: haven.RoleRead}, haven.EForbidden},
		{"org writer", &auth.Actor{User: &haven.User{Name: "bob"}, Role: haven.RoleWrite, Orgs: map[string]string{"alice": "write"}}, ""},
		{"accepted requester", &auth.Actor{User: &haven.User{Name: "bob"}, Role: haven.RoleWrite, Access: map[int64]haven.AccessStatus{7: haven.AccessAccepted}}, haven.EForbidden},
		{"anonymous", &auth.Actor{}, haven.EUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := auth.CanDecideAccess(tt.actor, repo)
			if tt.code == "" && err != nil || tt.code != "" && !haven.IsCode(err, tt.code) {
				t.Fatalf("err = %v, want %q", err, tt.code)
			}
		})
	}
}
