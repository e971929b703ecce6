package gitstore

import (
	"context"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/havenhub/haven"
)

// Ref is a named pointer to a commit.
type Ref struct {
	Name   string // short name: "main", "v1.0", "parquet", "1"
	Ref    string // full name: "refs/heads/main"
	Target string // commit sha, peeled for annotated tags
}

// Refs groups a repository's refs the way the Hub lists them.
type Refs struct {
	Branches     []Ref // refs/heads/*
	Tags         []Ref // refs/tags/*
	Converts     []Ref // refs/convert/*
	PullRequests []Ref // refs/pr/*
}

// Refs lists the branches, tags, conversions and pull-request refs, each
// sorted by name. Refs that do not lead to a commit are left out.
func (r *Repo) Refs() (Refs, error) {
	all, err := r.objs.references()
	if err != nil {
		return Refs{}, err
	}
	var out Refs
	for _, ref := range all {
		if ref.Type() != plumbing.HashReference {
			continue
		}
		full := ref.Name().String()
		var list *[]Ref
		var name string
		for _, g := range []struct {
			prefix string
			list   *[]Ref
		}{
			{"refs/heads/", &out.Branches},
			{"refs/tags/", &out.Tags},
			{"refs/convert/", &out.Converts},
			{"refs/pr/", &out.PullRequests},
		} {
			if n, ok := strings.CutPrefix(full, g.prefix); ok {
				list, name = g.list, n
				break
			}
		}
		if list == nil {
			continue
		}
		target, err := r.peelToCommit(ref.Hash())
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			continue
		}
		if err != nil {
			return Refs{}, err
		}
		*list = append(*list, Ref{Name: name, Ref: full, Target: target.String()})
	}
	for _, list := range [][]Ref{out.Branches, out.Tags, out.Converts, out.PullRequests} {
		sort.Slice(list, func(i, j int) bool { return list[i].Ref < list[j].Ref })
	}
	return out, nil
}

func invalidRef(ref string) error {
	return haven.Errorf(haven.EInvalid, "Invalid reference: %q", ref)
}

// fullRefName checks that ref is a well-formed full ref name.
func fullRefName(ref string) (plumbing.ReferenceName, error) {
	if !strings.HasPrefix(ref, "refs/") || !checkRefFormat(ref) {
		return "", invalidRef(ref)
	}
	return plumbing.ReferenceName(ref), nil
}

// CreateRef creates the full ref name ref at target (a revision, usually a
// commit sha). An existing ref is haven.EConflict.
func (r *Repo) CreateRef(ctx context.Context, ref, target string) error {
	name, err := fullRefName(ref)
	if err != nil {
		return err
	}
	h, err := r.resolve(target)
	if err != nil {
		return err
	}
	return r.createRef(ctx, name, h)
}

func (r *Repo) createRef(ctx context.Context, name plumbing.ReferenceName, h plumbing.Hash) error {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	exists := haven.Errorf(haven.EConflict, "Reference %s already exists", name)
	if _, ok, err := r.readRef(name); err != nil || ok {
		if err != nil {
			return err
		}
		return exists
	}
	moved, err := r.casRef(ctx, name, h, plumbing.ZeroHash)
	if err != nil {
		return err
	}
	if !moved {
		return exists
	}
	return nil
}

// UpdateRef moves ref to newTarget if it currently points at oldTarget
// (any value when oldTarget is ""). A mismatch is haven.EPrecondition.
func (r *Repo) UpdateRef(ctx context.Context, ref, newTarget, oldTarget string) error {
	name, err := fullRefName(ref)
	if err != nil {
		return err
	}
	h, err := r.resolve(newTarget)
	if err != nil {
		return err
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	current, ok, err := r.readRef(name)
	if err != nil {
		return err
	}
	if oldTarget != "" {
		if !ok || !strings.EqualFold(current.String(), oldTarget) {
			return haven.Errorf(haven.EPrecondition, "Reference %s is not at %s", ref, oldTarget)
		}
	}
	moved, err := r.casRef(ctx, name, h, current)
	if err != nil {
		return err
	}
	if !moved {
		return haven.Errorf(haven.EPrecondition, "Reference %s was updated concurrently", ref)
	}
	return nil
}

// DeleteRef deletes the full ref name ref. A missing ref is
// haven.ERevisionNotFound; the default branch cannot be deleted.
func (r *Repo) DeleteRef(ctx context.Context, ref string) error {
	name, err := fullRefName(ref)
	if err != nil {
		return revisionNotFound(ref)
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	current, ok, err := r.readRef(name)
	if err != nil {
		return err
	}
	if !ok {
		return revisionNotFound(ref)
	}
	if head, err := r.headBranch(); err == nil && head == name {
		return haven.Errorf(haven.EForbidden, "Cannot delete the default branch %s", name.Short())
	}
	if _, err := runGit(ctx, r.path, nil, "update-ref", "-d", ref, current.String()); err != nil {
		if _, still, _ := r.readRef(name); !still {
			return revisionNotFound(ref)
		}
		return haven.Errorf(haven.EPrecondition, "Reference %s was updated concurrently", ref)
	}
	return nil
}

// CreateTag creates tag name at target: an annotated tag object when
// message is not empty, a lightweight tag otherwise. An existing tag is
// haven.EConflict.
func (r *Repo) CreateTag(ctx context.Context, name, target, message string, tagger Signature) error {
	if !ValidRefName(name) {
		return haven.Errorf(haven.EInvalid, "Invalid tag name: %q", name)
	}
	h, err := r.resolve(target)
	if err != nil {
		return err
	}
	if message != "" {
		tag := &object.Tag{
			Name:       name,
			Tagger:     tagger.toGit(),
			Message:    strings.TrimRight(message, "\n") + "\n",
			TargetType: plumbing.CommitObject,
			Target:     h,
		}
		if h, err = r.writeEncoded(plumbing.TagObject, tag); err != nil {
			return err
		}
	}
	return r.createRef(ctx, plumbing.NewTagReferenceName(name), h)
}

// Squash replaces the history of ref with one root commit holding the tree
// of its head, and returns that commit's sha.
func (r *Repo) Squash(ctx context.Context, ref string, author Signature, title, message string) (string, error) {
	name, err := fullRefName(ref)
	if err != nil {
		return "", err
	}
	sig := author.toGit()
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	for attempt := 1; ; attempt++ {
		head, ok, err := r.readRef(name)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", revisionNotFound(ref)
		}
		c, err := r.commitObject(head)
		if err != nil {
			return "", err
		}
		sha, err := r.writeCommit(c.TreeHash, nil, sig, title, message)
		if err != nil {
			return "", err
		}
		moved, err := r.casRef(ctx, name, sha, head)
		if err != nil {
			return "", err
		}
		if moved {
			return sha.String(), nil
		}
		if attempt == maxCommitAttempts {
			return "", haven.Errorf(haven.EConflict, "Too many concurrent updates of %s, please retry", ref)
		}
		backoff(ctx, attempt)
	}
}

// casRef moves name from old (zero: name must not exist) to h with git
// update-ref, which takes the same lock as git receive-pack. It reports
// false when the ref was not at old.
func (r *Repo) casRef(ctx context.Context, name plumbing.ReferenceName, h, old plumbing.Hash) (bool, error) {
	for attempt := 1; ; attempt++ {
		_, err := runGit(ctx, r.path, nil, "update-ref", name.String(), h.String(), old.String())
		if err == nil {
			r.history.forget()
			return true, nil
		}
		current, ok, rerr := r.readRef(name)
		if rerr != nil {
			return false, rerr
		}
		if current != old || (old.IsZero() && ok) {
			return false, nil
		}
		var gerr *gitError
		if !errors.As(err, &gerr) {
			return false, err
		}
		// Another process holds the ref's lock for a moment.
		if strings.Contains(gerr.stderr, ".lock': File exists") && attempt < 10 {
			time.Sleep(time.Duration(attempt) * 5 * time.Millisecond)
			continue
		}
		if strings.Contains(gerr.stderr, "cannot lock ref") {
			// For example refs/heads/a/b while refs/heads/a exists.
			return false, haven.Errorf(haven.EConflict, "Cannot create reference %s: it conflicts with an existing reference", name)
		}
		return false, err
	}
}

// ValidRefName reports whether name is acceptable as a branch or tag
// created through the API: git's check-ref-format rules, no "refs/" prefix,
// no leading '-', and not "HEAD" or "@".
func ValidRefName(name string) bool {
	if name == "HEAD" || name == "@" || strings.HasPrefix(name, "refs/") || strings.HasPrefix(name, "-") {
		return false
	}
	return checkRefFormat("refs/heads/" + name)
}

// checkRefFormat applies git check-ref-format's rules to a full ref name.
func checkRefFormat(ref string) bool {
	if ref == "" || ref == "@" || strings.HasSuffix(ref, ".") ||
		strings.Contains(ref, "..") || strings.Contains(ref, "@{") {
		return false
	}
	for i := 0; i < len(ref); i++ {
		c := ref[i]
		if c < 0x20 || c == 0x7f || strings.IndexByte(" ~^:?*[\\", c) >= 0 {
			return false
		}
	}
	for _, comp := range strings.Split(ref, "/") {
		if comp == "" || strings.HasPrefix(comp, ".") || strings.HasSuffix(comp, ".lock") {
			return false
		}
	}
	return true
}
