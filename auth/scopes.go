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

// permBits gives each permission a bit, so that a scope's permissions, with
// those they imply, are one mask tested per scope.
var permBits = func() map[string]uint32 {
	m := make(map[string]uint32, len(haven.Permissions))
	for i, p := range haven.Permissions {
		m[p] = 1 << i
	}
	return m
}()

// implies lists, for a permission, the weaker ones it includes: writing a
// repository needs reading it, and a writer may take part in its
// discussions and see its access requests.
var implies = map[string][]string{
	haven.PermRepoWrite:         {haven.PermRepoContentRead, haven.PermRepoAccessRead, haven.PermDiscussionWrite},
	haven.PermCollectionWrite:   {haven.PermCollectionRead},
	haven.PermOrgWrite:          {haven.PermOrgRead},
	haven.PermUserWebhooksWrite: {haven.PermUserWebhooksRead},
}

// scope is a token scope prepared for matching: the entity split into
// namespace and repository name ("" for a namespace scope) and the
// permissions as a mask.
type scope struct {
	typ, ns, name string
	perms         uint32
}

// compileScopes prepares the scopes of a fine-grained token.
func compileScopes(fg *haven.FineGrained) (scoped []scope, global uint32) {
	mask := func(perms []string) uint32 {
		var m uint32
		for _, p := range perms {
			m |= permBits[p]
			for _, q := range implies[p] {
				m |= permBits[q]
			}
		}
		return m
	}
	for _, sc := range fg.Scoped {
		s := scope{typ: sc.Entity.Type, ns: sc.Entity.Name, perms: mask(sc.Permissions)}
		if s.typ != "user" && s.typ != "org" {
			s.ns, s.name, _ = strings.Cut(sc.Entity.Name, "/")
		}
		scoped = append(scoped, s)
	}
	return scoped, mask(fg.Global)
}

// prepared returns the actor's compiled scopes, made once by ForUser for
// the cached identity, or here for an Actor built by hand.
func (a *Actor) prepared() ([]scope, uint32, bool) {
	if a.scopesReady {
		return a.scopes, a.globalPerms, true
	}
	if a.Token == nil || a.Token.FineGrained == nil {
		return nil, 0, false
	}
	s, g := compileScopes(a.Token.FineGrained)
	return s, g, true
}

// sameName compares names case-insensitively, cheaply when lengths differ.
func sameName(a, b string) bool { return len(a) == len(b) && strings.EqualFold(a, b) }

// tokenAllows reports whether the fine-grained token of a grants perm on
// repo, through a scope on the repository itself or on its namespace, or
// through a global permission when the repository is public. Tokens that
// are not fine-grained allow everything their role allows.
func (a *Actor) tokenAllows(perm string, repo *haven.Repo) bool {
	if !a.fineGrained() {
		return true
	}
	scoped, global, ok := a.prepared()
	if !ok {
		return false
	}
	bit := permBits[perm]
	if !repo.Private && global&bit != 0 {
		return true
	}
	for i := range scoped {
		s := &scoped[i]
		if s.perms&bit == 0 {
			continue
		}
		// Repository names tell scopes apart sooner than namespaces, which
		// a token's scopes mostly share.
		if s.name != "" && (s.typ != string(repo.Type) || !sameName(s.name, repo.Name)) {
			continue
		}
		if sameName(s.ns, repo.Namespace) {
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
	scoped, _, ok := a.prepared()
	if !ok {
		return false
	}
	bit := permBits[perm]
	for i := range scoped {
		s := &scoped[i]
		if s.name == "" && s.perms&bit != 0 && sameName(s.ns, namespace) {
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
