package auth

import (
	"github.com/havenhub/haven"
)

// CanManageWebhooks reports whether the actor may see (write false) or
// create, change and delete (write true) its own webhooks: any signed-in
// user to see them, a write token to change them, and a fine-grained token
// with user.webhooks.read or .write, globally or on the user's namespace.
func CanManageWebhooks(a *Actor, write bool) error {
	if a.Anonymous() {
		return haven.Errorf(haven.EUnauthorized, "You must be authenticated to do this. Please log in or pass a token.")
	}
	perm := haven.PermUserWebhooksRead
	if write {
		perm = haven.PermUserWebhooksWrite
		if a.Role == haven.RoleRead {
			return haven.Errorf(haven.EForbidden, "This token has read access only: a token with write access is needed to change webhooks")
		}
	}
	if !a.fineGrained() || a.tokenAllowsIn(perm, a.User.Name) {
		return nil
	}
	if a.Token != nil && a.Token.FineGrained != nil {
		for _, p := range a.Token.FineGrained.Global {
			if p == perm || (perm == haven.PermUserWebhooksRead && p == haven.PermUserWebhooksWrite) {
				return nil
			}
		}
	}
	return errMissingPermission(perm, "the webhooks of "+a.User.Name)
}
