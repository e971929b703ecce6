package auth

import "github.com/havenhub/haven"

// CanSeeRoles reports whether the actor may see the roles of an
// organisation's members: its members and the hub's admins may; others see
// who the members are, not their roles.
func CanSeeRoles(a *Actor, org string) bool {
	return a.namespaceRole(org) != ""
}

// CanManageOrg reports whether the actor may change an organisation's
// profile, settings and members (invitations included): its admins and the
// hub's, with a token that writes; a fine-grained token needs org.write on
// the organisation.
func CanManageOrg(a *Actor, org string) error {
	if a.Anonymous() {
		return haven.Errorf(haven.EUnauthorized, "You must be authenticated to do this. Please log in or pass a token.")
	}
	if a.namespaceRole(org) != "admin" {
		return haven.Errorf(haven.EForbidden, "Only the admins of %s may change its settings and members", org)
	}
	if a.Role == haven.RoleRead {
		return haven.Errorf(haven.EForbidden, "Your token is read-only: %s cannot be changed with it", org)
	}
	if !a.tokenAllowsIn(haven.PermOrgWrite, org) {
		return errMissingPermission(haven.PermOrgWrite, org)
	}
	return nil
}

// CanActAsSelf reports whether the actor may act in its own name (follow,
// upvote a collection it sees, answer invitations, change its profile):
// any signed-in user whose token writes.
func CanActAsSelf(a *Actor) error {
	if a.Anonymous() {
		return haven.Errorf(haven.EUnauthorized, "You must be authenticated to do this. Please log in or pass a token.")
	}
	if a.Role == haven.RoleRead {
		return haven.Errorf(haven.EForbidden, "Your token is read-only")
	}
	return nil
}

// CanSeeInvitations reports whether the actor may list an organisation's
// pending invitations: its admins and the hub's, with any token; a
// fine-grained token needs org.read on the organisation.
func CanSeeInvitations(a *Actor, org string) error {
	if a.Anonymous() {
		return haven.Errorf(haven.EUnauthorized, "You must be authenticated to do this. Please log in or pass a token.")
	}
	if a.namespaceRole(org) != "admin" {
		return haven.Errorf(haven.EForbidden, "Only the admins of %s may see its invitations", org)
	}
	if !a.tokenAllowsIn(haven.PermOrgRead, org) {
		return errMissingPermission(haven.PermOrgRead, org)
	}
	return nil
}
