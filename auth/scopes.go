package auth

import (
	"strings"

	"github.com/havenhub/haven"
)

// fineGrained reports whether the actor's token is a fine-grained one, whose
// scopes narrow what the owner's role allows.
func (a *Actor) fineGrained() bool {
	return !a.Anonymous() && a.Role == haven.RoleFineGrained
}

// implied lists, for a permission, the stronger ones that include it:
// writing a repository needs reading it, and a writer may take part in its
// discussions.
var implied = map[string][]string{
	haven.PermRepoContentRead:  {haven.PermRepoWrite},
	haven.PermRepoAccessRead:   {haven.PermRepoWrite},
	haven.PermDiscussionWrite:  {haven.PermRepoWrite},
	haven.PermCollectionRead:   {haven.PermCollectionWrite},
	haven.PermOrgRead:          {haven.PermOrgWrite},
	haven.PermUserWebhooksRead: {haven.PermUserWebhooksWrite},
}

// grants reports whether the token's scope on entity grants perm.
func grants(sc *haven.TokenScope, perm string) bool {
	for _, p := range sc.Permissions {
		if p == perm {
			return true
		}
		for _, q := range implied[perm] {
			if p == q {
				return true
			}
		}
	}
	return false
}

// tokenAllows reports whether the fine-grained token of a grants perm on
// repo, through a scope on the repository itself or on its namespace, or
// through a global permission when the repository is public. Tokens that
// are not fine-grained allow everything their role allows.
func (a *Actor) tokenAllows(perm string, repo *haven.Repo) bool {
	if !a.fineGrained() {
		return true
	}
	if a.Token == nil || a.Token.FineGrained == nil {
		return false
	}
	fg := a.Token.FineGrained
	if !repo.Private {
		for _, p := range fg.Global {
			if p == perm {
				return true
			}
		}
	}
	full := repo.FullName()
	for i := range fg.Scoped {
		sc := &fg.Scoped[i]
		var match bool
		switch sc.Entity.Type {
		case "user", "org":
			match = strings.EqualFold(sc.Entity.Name, repo.Namespace)
		default:
			match = sc.Entity.Type == string(repo.Type) && strings.EqualFold(sc.Entity.Name, full)
		}
		if match && grants(sc, perm) {
			return true
		}
	}
	return false
}

// tokenAllowsIn reports whether the fine-grained token of a grants perm on
// a whole namespace (a user or organisation scope).
func (a *Actor) tokenAllowsIn(perm, namespace string) bool {
	if !a.fineGrained() {
		return true
	}
	if a.Token == nil || a.Token.FineGrained == nil {
		return false
	}
	for i := range a.Token.FineGrained.Scoped {
		sc := &a.Token.FineGrained.Scoped[i]
		if (sc.Entity.Type == "user" || sc.Entity.Type == "org") && strings.EqualFold(sc.Entity.Name, namespace) && grants(sc, perm) {
			return true
		}
	}
	return false
}

// errMissingPermission is the Hub's 403 for a token that may read a
// repository but lacks the permission an operation needs, naming it so
// that the owner knows which scope to add.
func errMissingPermission(perm, target string) error {
	return haven.Errorf(haven.EForbidden, "You have read access but not the required permissions for this operation: this fine-grained token lacks the %q permission on %s", perm, target)
}
