package gitstore

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/havenhub/haven"
)

// Repo is an open bare repository. It is safe for concurrent use; refs are
// read from disk on every call, so updates by other processes are seen.
type Repo struct {
	path string
	objs *objects

	// writeMu serialises ref updates made through this handle, so that
	// writers in one process do not spin on compare-and-swap failures.
	// Other processes are kept honest by the compare-and-swap itself.
	writeMu sync.Mutex

	history historyCache
	sizes   sizeCache
}

func openRepo(path string) *Repo {
	return &Repo{path: path, objs: newObjects(path)}
}

// Path is the directory of the bare repository.
func (r *Repo) Path() string { return r.path }

func revisionNotFound(rev string) error {
	return haven.Errorf(haven.ERevisionNotFound, "Invalid rev id: %s", rev)
}

// Resolve turns a revision into a full commit sha. A revision is "" or
// "HEAD" (the default branch), a branch, a tag (peeled to its commit), a
// full or unique short (at least 4 hex digits) commit sha, or a full ref
// name such as "refs/pr/1". When names collide a branch wins over a tag and
// a tag over a sha. Anything else is haven.ERevisionNotFound.
func (r *Repo) Resolve(rev string) (string, error) {
	h, err := r.resolve(rev)
	if err != nil {
		return "", err
	}
	return h.String(), nil
}

func (r *Repo) resolve(rev string) (plumbing.Hash, error) {
	var candidates []plumbing.ReferenceName
	switch {
	case rev == "" || rev == "HEAD":
		candidates = []plumbing.ReferenceName{plumbing.HEAD}
	case strings.HasPrefix(rev, "refs/"):
		if checkRefFormat(rev) {
			candidates = []plumbing.ReferenceName{plumbing.ReferenceName(rev)}
		}
	case checkRefFormat("refs/heads/" + rev):
		candidates = []plumbing.ReferenceName{
			plumbing.NewBranchReferenceName(rev),
			plumbing.NewTagReferenceName(rev),
		}
	}
	for _, name := range candidates {
		h, ok, err := r.readRef(name)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if ok {
			c, err := r.peelToCommit(h)
			if errors.Is(err, plumbing.ErrObjectNotFound) {
				return plumbing.ZeroHash, revisionNotFound(rev)
			}
			return c, err
		}
	}
	if h, ok, err := r.resolveSHA(rev); err != nil || ok {
		return h, err
	}
	return plumbing.ZeroHash, revisionNotFound(rev)
}

// resolveSHA finds the commit named by a full or unique abbreviated sha.
func (r *Repo) resolveSHA(rev string) (plumbing.Hash, bool, error) {
	if len(rev) < 4 || len(rev) > 40 || !isHex(rev) {
		return plumbing.ZeroHash, false, nil
	}
	rev = strings.ToLower(rev)
	if len(rev) == 40 {
		h := plumbing.NewHash(rev)
		c, err := r.peelToCommit(h)
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			return plumbing.ZeroHash, false, nil
		}
		return c, err == nil, err
	}
	prefix, _ := hex.DecodeString(rev[:len(rev)&^1])
	hashes, err := r.objs.hashesWithPrefix(prefix)
	if err != nil {
		return plumbing.ZeroHash, false, err
	}
	var found plumbing.Hash
	n := 0
	for _, h := range hashes {
		if !strings.HasPrefix(h.String(), rev) {
			continue
		}
		if _, err := r.objs.EncodedObject(plumbing.CommitObject, h); err != nil {
			continue
		}
		found = h
		n++
	}
	// An ambiguous abbreviation names nothing.
	return found, n == 1, nil
}

// readRef reads a ref, following symbolic refs. ok is false when it does not exist.
func (r *Repo) readRef(name plumbing.ReferenceName) (h plumbing.Hash, ok bool, err error) {
	for range 5 {
		ref, err := r.objs.reference(name)
		if errors.Is(err, plumbing.ErrReferenceNotFound) {
			return plumbing.ZeroHash, false, nil
		}
		if err != nil {
			return plumbing.ZeroHash, false, err
		}
		if ref.Type() == plumbing.HashReference {
			return ref.Hash(), true, nil
		}
		name = ref.Target()
	}
	return plumbing.ZeroHash, false, fmt.Errorf("gitstore: symbolic ref loop at %s", name)
}

// headBranch is the full name of the ref HEAD points at (the default branch).
func (r *Repo) headBranch() (plumbing.ReferenceName, error) {
	ref, err := r.objs.reference(plumbing.HEAD)
	if err != nil {
		return "", err
	}
	if ref.Type() != plumbing.SymbolicReference {
		return "", errors.New("gitstore: HEAD is detached")
	}
	return ref.Target(), nil
}

// DefaultBranch is the short name of the branch HEAD points at.
func (r *Repo) DefaultBranch() (string, error) {
	name, err := r.headBranch()
	if err != nil {
		return "", err
	}
	return name.Short(), nil
}

// peelToCommit follows annotated tags until it reaches a commit.
func (r *Repo) peelToCommit(h plumbing.Hash) (plumbing.Hash, error) {
	for range 10 {
		obj, err := r.objs.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		switch obj.Type() {
		case plumbing.CommitObject:
			return h, nil
		case plumbing.TagObject:
			tag, err := object.DecodeTag(r.objs, obj)
			if err != nil {
				return plumbing.ZeroHash, err
			}
			h = tag.Target
		default:
			return plumbing.ZeroHash, plumbing.ErrObjectNotFound
		}
	}
	return plumbing.ZeroHash, plumbing.ErrObjectNotFound
}

// IsBranch reports whether name is an existing branch: a short branch name,
// or a full ref name under refs/heads/ or refs/pr/.
func (r *Repo) IsBranch(name string) bool {
	full := name
	if !strings.HasPrefix(name, "refs/") {
		full = "refs/heads/" + name
	}
	if !isBranchLike(full) || !checkRefFormat(full) {
		return false
	}
	_, ok, err := r.readRef(plumbing.ReferenceName(full))
	return err == nil && ok
}

// isBranchLike reports whether a full ref name can carry commits made
// through the API: branches and pull-request refs.
func isBranchLike(ref string) bool {
	return strings.HasPrefix(ref, "refs/heads/") || strings.HasPrefix(ref, "refs/pr/")
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// commitObject loads and decodes a commit.
func (r *Repo) commitObject(h plumbing.Hash) (*object.Commit, error) {
	return object.GetCommit(r.objs, h)
}
