package auth

import (
	"github.com/havenhub/haven"
)

// CanReadAuditLog reports whether the actor may read the audit log of
// namespace: an organisation's admins (and the site's), or a user their
// own. A fine-grained token needs org.read on the namespace, since the log
// tells who did what in it. Others are refused, not told "not found": the
// organisation and its members are public, only the log is not.
func CanReadAuditLog(a *Actor, namespace string) error {
	if a.Anonymous() {
		return haven.Errorf(haven.EUnauthorized, "You must be authenticated to do this. Please log in or pass a token.")
	}
	if a.namespaceRole(namespace) != "admin" {
		return haven.Errorf(haven.EForbidden, "Only the admins of %s may read its audit log", namespace)
	}
	if !a.tokenAllowsIn(haven.PermOrgRead, namespace) {
		return errMissingPermission(haven.PermOrgRead, namespace)
	}
	return nil
}
