package auth_test

import (
	"strings"
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
)

// check runs one authorisation and compares its outcome: code "" means
// allowed; want is a piece of the message.
func check(t *testing.T, err error, code, want string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("err = %v, want it allowed", err)
		}
		return
	}
	if !haven.IsCode(err, code) {
		t.Fatalf("err = %v, want %s", err, code)
	}
	if e, ok := err.(*haven.Error); !ok || !strings.Contains(e.Message, want) {
		t.Fatalf("message = %v, want %q in it", err, want)
	}
}

func TestOrgRoles(t *testing.T) {
	private := &haven.Repo{ID: 1, Type: haven.Model, Namespace: "acme", Name: "secret", Private: true}
	member := func(role string) *auth.Actor {
		return &auth.Actor{User: &haven.User{Name: "bob"}, Role: haven.RoleWrite, Orgs: map[string]string{"acme": role}}
	}
	type action struct {
		name string
		do   func(a *auth.Actor) error
	}
	actions := []action{
		{"read", func(a *auth.Actor) error { return auth.CanDownload(a, private, "") }},
		{"discuss", func(a *auth.Actor) error { return auth.CanDiscuss(a, auth.Discuss, private, "") }},
		{"commit to own pull request", func(a *auth.Actor) error { return auth.CanDiscuss(a, auth.Moderate, private, "bob") }},
		{"moderate others", func(a *auth.Actor) error { return auth.CanDiscuss(a, auth.Moderate, private, "carol") }},
		{"merge", func(a *auth.Actor) error { return auth.CanDiscuss(a, auth.Merge, private, "bob") }},
		{"pin or lock", func(a *auth.Actor) error { return auth.CanDiscuss(a, auth.Pin, private, "bob") }},
		{"delete discussion", func(a *auth.Actor) error { return auth.CanDiscuss(a, auth.Delete, private, "bob") }},
		{"comment on locked", func(a *auth.Actor) error {
			return auth.CanComment(a, private, &haven.Discussion{Num: 1, Author: "bob", Locked: true})
		}},
		{"comment on unlocked", func(a *auth.Actor) error {
			return auth.CanComment(a, private, &haven.Discussion{Num: 1, Author: "carol"})
		}},
		{"push", func(a *auth.Actor) error { return auth.Can(a, auth.Write, private) }},
		{"settings", func(a *auth.Actor) error { return auth.Can(a, auth.Admin, private) }},
		{"create", func(a *auth.Actor) error { return auth.CanCreateIn(a, haven.Model, "acme") }},
		{"edit collections", func(a *auth.Actor) error { return auth.CanEditCollections(a, "acme") }},
	}
	// allowed[role] lists the actions each role may take; the others are
	// refused with 403, or 404 for outsiders.
	allowed := map[string]map[string]bool{
		"admin": {"read": true, "discuss": true, "commit to own pull request": true, "moderate others": true, "merge": true, "push": true, "settings": true, "create": true, "edit collections": true,
			"pin or lock": true, "delete discussion": true, "comment on locked": true, "comment on unlocked": true},
		"write": {"read": true, "discuss": true, "commit to own pull request": true, "moderate others": true, "merge": true, "push": true, "create": true, "edit collections": true,
			"pin or lock": true, "comment on locked": true, "comment on unlocked": true},
		"contributor": {"read": true, "discuss": true, "commit to own pull request": true, "comment on unlocked": true},
		"read":        {"read": true, "discuss": true, "commit to own pull request": true, "comment on unlocked": true},
		"":            {},
	}
	for _, role := range []string{"admin", "write", "contributor", "read", ""} {
		for _, act := range actions {
			t.Run(role+"/"+act.name, func(t *testing.T) {
				a := member(role)
				if role == "" {
					a.Orgs = nil
				}
				err := act.do(a)
				switch {
				case allowed[role][act.name]:
					check(t, err, "", "")
				case role == "" && act.name != "create" && act.name != "edit collections":
					check(t, err, haven.ERepoNotFound, "Repository not found")
				default:
					check(t, err, haven.EForbidden, "rights")
				}
			})
		}
	}
}

func TestFineGrainedTokens(t *testing.T) {
	mine := &haven.Repo{ID: 1, Type: haven.Model, Namespace: "alice", Name: "mine", Private: true}
	other := &haven.Repo{ID: 2, Type: haven.Model, Namespace: "alice", Name: "other", Private: true}
	public := &haven.Repo{ID: 3, Type: haven.Model, Namespace: "alice", Name: "open"}
	orgRepo := &haven.Repo{ID: 4, Type: haven.Dataset, Namespace: "acme", Name: "data", Private: true}
	gated := &haven.Repo{ID: 5, Type: haven.Model, Namespace: "carol", Name: "llama", Gated: "manual"}
	token := func(fg haven.FineGrained) *auth.Actor {
		return &auth.Actor{
			User: &haven.User{Name: "alice"}, Role: haven.RoleFineGrained,
			Token:  &haven.Token{Role: haven.RoleFineGrained, FineGrained: &fg},
			Orgs:   map[string]string{"acme": "write"},
			Access: map[int64]haven.AccessStatus{5: haven.AccessAccepted},
		}
	}
	repoScope := func(typ, name string, perms ...string) haven.TokenScope {
		return haven.TokenScope{Entity: haven.TokenEntity{Type: typ, Name: name}, Permissions: perms}
	}
	readMine := token(haven.FineGrained{Scoped: []haven.TokenScope{repoScope("model", "alice/mine", haven.PermRepoContentRead)}})
	writeMine := token(haven.FineGrained{Scoped: []haven.TokenScope{repoScope("model", "alice/mine", haven.PermRepoWrite)}})
	orgWrite := token(haven.FineGrained{Scoped: []haven.TokenScope{repoScope("org", "acme", haven.PermRepoContentRead, haven.PermRepoWrite, haven.PermCollectionWrite)}})
	globalDiscuss := token(haven.FineGrained{Global: []string{haven.PermDiscussionWrite}})
	gatedReader := token(haven.FineGrained{CanReadGatedRepos: true})
	empty := token(haven.FineGrained{})

	tests := []struct {
		name string
		err  error
		code string
		want string
	}{
		{"read scope reads its repo", auth.CanDownload(readMine, mine, ""), "", ""},
		{"read scope hides another private repo", auth.Can(readMine, auth.Read, other), haven.ERepoNotFound, "Repository not found"},
		{"read scope reads public repos", auth.CanDownload(readMine, public, ""), "", ""},
		{"read scope cannot push", auth.Can(readMine, auth.Write, mine), haven.EForbidden, `lacks the "repo.write" permission on the model repository alice/mine`},
		{"read scope cannot discuss", auth.CanDiscuss(readMine, auth.Discuss, mine, ""), haven.EForbidden, `"discussion.write"`},
		{"write scope pushes", auth.Can(writeMine, auth.Write, mine), "", ""},
		{"write scope reads", auth.CanDownload(writeMine, mine, ""), "", ""},
		{"write scope changes settings", auth.Can(writeMine, auth.Admin, mine), "", ""},
		{"write scope opens pull requests", auth.CanDiscuss(writeMine, auth.Discuss, mine, ""), "", ""},
		{"write scope does not push to public repos", auth.Can(writeMine, auth.Write, public), haven.EForbidden, `"repo.write" permission on the model repository alice/open`},
		{"write scope creates nothing", auth.CanCreateIn(writeMine, haven.Model, "alice"), haven.EForbidden, `lacks the "repo.write" permission on alice`},
		{"org scope writes org repos", auth.Can(orgWrite, auth.Write, orgRepo), "", ""},
		{"org scope creates in the org", auth.CanCreateIn(orgWrite, haven.Dataset, "acme"), "", ""},
		{"org scope edits org collections", auth.CanEditCollections(orgWrite, "acme"), "", ""},
		{"org scope does not edit own collections", auth.CanEditCollections(orgWrite, "alice"), haven.EForbidden, `"collection.write"`},
		{"org scope hides own private repos", auth.Can(orgWrite, auth.Read, mine), haven.ERepoNotFound, ""},
		{"type is part of the repo scope", auth.Can(token(haven.FineGrained{Scoped: []haven.TokenScope{repoScope("dataset", "alice/mine", haven.PermRepoWrite)}}), auth.Read, mine), haven.ERepoNotFound, ""},
		{"global discussion on public repos", auth.CanDiscuss(globalDiscuss, auth.Discuss, public, ""), "", ""},
		{"global discussion is not for private repos", auth.CanDiscuss(globalDiscuss, auth.Discuss, mine, ""), haven.ERepoNotFound, ""},
		{"empty token reads public repos", auth.CanDownload(empty, public, ""), "", ""},
		{"empty token cannot merge", auth.CanDiscuss(empty, auth.Merge, public, ""), haven.EForbidden, `"repo.write"`},
		{"gated repo needs canReadGatedRepos", auth.CanDownload(empty, gated, ""), haven.EGatedRepo, "canReadGatedRepos"},
		{"canReadGatedRepos with approval", auth.CanDownload(gatedReader, gated, ""), "", ""},
		{"private collections need collection.read", boolErr(auth.CanSeeCollection(writeMine, "alice", true)), haven.EForbidden, ""},
		{"collection scope sees org collections", boolErr(auth.CanSeeCollection(orgWrite, "acme", true)), "", ""},
		{"token without scopes is refused", auth.Can(&auth.Actor{User: &haven.User{Name: "alice"}, Role: haven.RoleFineGrained}, auth.Read, mine), haven.ERepoNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { check(t, tt.err, tt.code, tt.want) })
	}
}

func boolErr(ok bool) error {
	if ok {
		return nil
	}
	return haven.Errorf(haven.EForbidden, "")
}

func TestParseRepoScope(t *testing.T) {
	tests := []struct {
		in       string
		typ, id  string
		perms    int
		wantFail bool
	}{
		{"alice/m:read", "model", "alice/m", 1, false},
		{"alice/m:write", "model", "alice/m", 3, false},
		{"datasets/alice/d:read", "dataset", "alice/d", 1, false},
		{"spaces/alice/s:write", "space", "alice/s", 3, false},
		{"alice/m", "", "", 0, true},
		{"alice/m:admin", "", "", 0, true},
		{"alice:read", "", "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			sc, err := haven.ParseRepoScope(tt.in)
			if tt.wantFail {
				if err == nil {
					t.Fatalf("ParseRepoScope(%q) = %+v, want an error", tt.in, sc)
				}
				return
			}
			if err != nil || sc.Entity.Type != tt.typ || sc.Entity.Name != tt.id || len(sc.Permissions) != tt.perms {
				t.Fatalf("ParseRepoScope(%q) = %+v, %v", tt.in, sc, err)
			}
		})
	}
}
