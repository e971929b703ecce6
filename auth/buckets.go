package auth

import (
	"github.com/havenhub/haven"
)

// BucketNotFound is the answer for a bucket the caller may not see, the
// same as for one that does not exist. Its code is RepoNotFound, which the
// Python client turns into BucketNotFoundError on bucket URLs.
func BucketNotFound() error {
	return haven.Errorf(haven.ERepoNotFound, "Bucket not found")
}

// CanReadBucket reports whether the actor may list and download the files
// of b: anyone for a public bucket; for a private one, the members of its
// namespace (as for private repositories, with repo.content.read on the
// namespace for a fine-grained token). Others get BucketNotFound.
func CanReadBucket(a *Actor, b *haven.Bucket) error {
	if b.Private && (a.namespaceRole(b.Namespace) == "" || !a.tokenAllowsIn(haven.PermRepoContentRead, b.Namespace)) {
		return BucketNotFound()
	}
	return nil
}

// CanWriteBucket reports whether the actor may change the files of b: the
// rights of pushing to a repository of its namespace (a write token, role
// admin or write, repo.write on the namespace for a fine-grained token).
func CanWriteBucket(a *Actor, b *haven.Bucket) error {
	return canChangeBucket(a, b, Write)
}

// CanAdminBucket reports whether the actor may change the settings of b,
// move it or delete it: the admins of its namespace.
func CanAdminBucket(a *Actor, b *haven.Bucket) error {
	return canChangeBucket(a, b, Admin)
}

func canChangeBucket(a *Actor, b *haven.Bucket, act Action) error {
	if err := CanReadBucket(a, b); err != nil {
		return err
	}
	if a.Anonymous() {
		return haven.Errorf(haven.EUnauthorized, "You must be authenticated to do this. Please log in or pass a token.")
	}
	if a.Role == haven.RoleRead {
		return haven.Errorf(haven.EForbidden, "This token has read access only: a token with write access is needed to modify the bucket %s", b.FullName())
	}
	switch role := a.namespaceRole(b.Namespace); {
	case act == Write && (role == "admin" || role == "write"):
	case act == Admin && role == "admin":
	default:
		return haven.Errorf(haven.EForbidden, "You don't have the rights to modify the bucket %s", b.FullName())
	}
	if !a.tokenAllowsIn(haven.PermRepoWrite, b.Namespace) {
		return errMissingPermission(haven.PermRepoWrite, "the bucket "+b.FullName())
	}
	return nil
}

// CanCreateBucketIn reports whether the actor may create buckets in
// namespace: the rights of creating repositories there.
func CanCreateBucketIn(a *Actor, namespace string) error {
	if a.Anonymous() {
		return haven.Errorf(haven.EUnauthorized, "You must be authenticated to create a bucket. Please log in or pass a token.")
	}
	if a.Role == haven.RoleRead {
		return haven.Errorf(haven.EForbidden, "This token has read access only: a token with write access is needed to create a bucket")
	}
	switch a.namespaceRole(namespace) {
	case "admin", "write":
	default:
		return haven.Errorf(haven.EForbidden, "You don't have the rights to create a bucket under the namespace %q", namespace)
	}
	if !a.tokenAllowsIn(haven.PermRepoWrite, namespace) {
		return errMissingPermission(haven.PermRepoWrite, namespace)
	}
	return nil
}
