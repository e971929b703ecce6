package auth

import (
	"github.com/havenhub/haven"
)

// CanRunJobs reports whether the actor may see (write false) or start,
// change and cancel (write true) the jobs of namespace: the user's own
// namespace, or an organisation where they have write rights; readers of
// an organisation see its jobs. A fine-grained token needs job.write on
// the namespace to start jobs. A caller with no standing in the namespace
// learns nothing about its jobs: the error is a 404.
func CanRunJobs(a *Actor, namespace string, write bool) error {
	if a.Anonymous() {
		return haven.Errorf(haven.EUnauthorized, "You must be authenticated to use jobs. Please log in or pass a token.")
	}
	role := a.namespaceRole(namespace)
	if role == "" {
		return haven.Errorf(haven.ENotFound, "Namespace %s not found or not accessible", namespace)
	}
	if !write {
		return nil
	}
	if a.Role == haven.RoleRead {
		return haven.Errorf(haven.EForbidden, "This token has read access only: a token with write access is needed to run jobs")
	}
	if role != "admin" && role != "write" {
		return haven.Errorf(haven.EForbidden, "You don't have the rights to run jobs under the namespace %q", namespace)
	}
	if a.fineGrained() && !a.tokenAllowsIn(haven.PermJobWrite, namespace) {
		return errMissingPermission(haven.PermJobWrite, "the jobs of "+namespace)
	}
	return nil
}
