package auth

import "github.com/havenhub/haven"

// CanManageEndpoints decides who sees (write: creates, changes, pauses,
// deletes) the dedicated inference endpoints of a namespace: its members
// may see them, its writers (the user, or an organisation's admins and
// writers) manage them. Those with no standing get "not found".
func CanManageEndpoints(a *Actor, namespace string, write bool) error {
	return canUseCompute(a, namespace, write, "inference endpoints", "manage inference endpoints", haven.PermInferenceEndpointsWrite)
}

// CanInvokeEndpoint decides who may call an endpoint of namespace by its
// type: "public" ones anyone, "authenticated" (or "protected") ones any
// signed-in caller, "private" ones the members of the namespace.
func CanInvokeEndpoint(a *Actor, namespace, typ string) error {
	if typ == "public" {
		return nil
	}
	if a.Anonymous() {
		return haven.Errorf(haven.EUnauthorized, "This endpoint needs a token: pass one in the Authorization header")
	}
	if typ != "private" {
		return nil
	}
	if a.namespaceRole(namespace) == "" {
		return haven.Errorf(haven.EForbidden, "This endpoint is private to %s", namespace)
	}
	if a.fineGrained() && !a.tokenAllowsIn(haven.PermInferenceEndpointsInfer, namespace) && !a.tokenAllowsIn(haven.PermInferenceEndpointsWrite, namespace) {
		return errMissingPermission(haven.PermInferenceEndpointsInfer, "the inference endpoints of "+namespace)
	}
	return nil
}
