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
	return canUseCompute(a, namespace, write, "jobs", "run jobs", haven.PermJobWrite)
}

// canUseCompute is the rule of a namespace's workloads (jobs, inference
// endpoints): members see them; the user or an organisation's admins and
// writers, with a write token (a fine-grained one holding perm on the
// namespace), start and change them; those with no standing get "not
// found". what names them, act what writing them is, for the messages.
func canUseCompute(a *Actor, namespace string, write bool, what, act, perm string) error {
	if a.Anonymous() {
		return haven.Errorf(haven.EUnauthorized, "You must be authenticated to use %s. Please log in or pass a token.", what)
	}
	role := a.namespaceRole(namespace)
	if role == "" {
		return haven.Errorf(haven.ENotFound, "Namespace %s not found or not accessible", namespace)
	}
	if !write {
		return nil
	}
	if a.Role == haven.RoleRead {
		return haven.Errorf(haven.EForbidden, "This token has read access only: a token with write access is needed to %s", act)
	}
	if role != "admin" && role != "write" {
		return haven.Errorf(haven.EForbidden, "You don't have the rights to %s under the namespace %q", act, namespace)
	}
	if a.fineGrained() && !a.tokenAllowsIn(perm, namespace) {
		return errMissingPermission(perm, "the "+what+" of "+namespace)
	}
	return nil
}
