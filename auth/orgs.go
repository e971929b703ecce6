package auth

// CanSeeRoles reports whether the actor may see the roles of an
// organisation's members: its members and the hub's admins may; others see
// who the members are, not their roles.
func CanSeeRoles(a *Actor, org string) bool {
	return a.namespaceRole(org) != ""
}
