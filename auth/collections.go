package auth

import (
	"github.com/havenhub/haven"
)

// CanSeeCollection reports whether the actor may see a collection of owner:
// a private one is for the members of the owning namespace only. Callers
// answer the others as for a collection that does not exist.
func CanSeeCollection(a *Actor, owner string, private bool) bool {
	return !private || (a.namespaceRole(owner) != "" && a.tokenAllowsIn(haven.PermCollectionRead, owner))
}

// CanEditCollections reports whether the actor may create, change and
// delete the collections of namespace: the rights of creating repositories
// there (a write token, and the namespace is theirs or they write in it).
func CanEditCollections(a *Actor, namespace string) error {
	if a.Anonymous() {
		return haven.Errorf(haven.EUnauthorized, "You must be authenticated to do this. Please log in or pass a token.")
	}
	if a.Role == haven.RoleRead {
		return haven.Errorf(haven.EForbidden, "This token has read access only: a token with write access is needed to change collections")
	}
	switch a.namespaceRole(namespace) {
	case "admin", "write":
	default:
		return haven.Errorf(haven.EForbidden, "You don't have the rights to change the collections of %q", namespace)
	}
	if !a.tokenAllowsIn(haven.PermCollectionWrite, namespace) {
		return errMissingPermission(haven.PermCollectionWrite, "the collections of "+namespace)
	}
	return nil
}
