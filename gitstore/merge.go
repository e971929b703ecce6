package gitstore

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/havenhub/haven"
)

// MergeResult is what Merge did.
type MergeResult struct {
	SHA         string   // the new head of the target ref
	FastForward bool     // the ref moved to the merged commit itself
	UpToDate    bool     // the commit was already in the target's history
	Conflicts   []string // paths that conflict; set with a haven.EConflict error
}

// maxMergeAttempts bounds the retries when other writers move the target ref
// while a merge is built.
const maxMergeAttempts = 5

// Merge merges the commit head into the ref target (a full ref name such as
// "refs/heads/main"). It fast-forwards when the target's head is an ancestor
// of head, and writes a merge commit by author otherwise, built with git
// merge-tree. The ref moves with a compare-and-swap on the head the merge was
// built on; when another writer moved it meanwhile, the merge is built again
// on the new head. A conflict is haven.EConflict with the conflicting paths
// in the result, and leaves every ref as it was.
func (r *Repo) Merge(ctx context.Context, target, head string, author Signature, title, message string) (MergeResult, error) {
	name, err := fullRefName(target)
	if err != nil {
		return MergeResult{}, err
	}
	theirs, err := r.resolve(head)
	if err != nil {
		return MergeResult{}, err
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	for attempt := 1; ; attempt++ {
		ours, ok, err := r.readRef(name)
		if err != nil {
			return MergeResult{}, err
		}
		if !ok {
			return MergeResult{}, revisionNotFound(target)
		}
		res, next, err := r.mergeOnto(ctx, ours, theirs, author, title, message)
		if err != nil || res.UpToDate {
			return res, err
		}
		moved, err := r.casRef(ctx, name, next, ours)
		if err != nil {
			return MergeResult{}, err
		}
		if moved {
			return res, nil
		}
		if attempt == maxMergeAttempts {
			return MergeResult{}, haven.Errorf(haven.EConflict, "Too many concurrent updates of %s, please retry", target)
		}
		backoff(ctx, attempt)
	}
}

// mergeOnto computes the commit that merges theirs into ours, without moving
// any ref.
func (r *Repo) mergeOnto(ctx context.Context, ours, theirs plumbing.Hash, author Signature, title, message string) (MergeResult, plumbing.Hash, error) {
	if ours == theirs {
		return MergeResult{SHA: ours.String(), UpToDate: true}, ours, nil
	}
	if anc, err := r.isAncestor(ctx, theirs, ours); err != nil {
		return MergeResult{}, plumbing.ZeroHash, err
	} else if anc {
		return MergeResult{SHA: ours.String(), UpToDate: true}, ours, nil
	}
	if anc, err := r.isAncestor(ctx, ours, theirs); err != nil {
		return MergeResult{}, plumbing.ZeroHash, err
	} else if anc {
		return MergeResult{SHA: theirs.String(), FastForward: true}, theirs, nil
	}
	tree, conflicts, err := r.mergeTree(ctx, ours, theirs)
	if err != nil {
		return MergeResult{}, plumbing.ZeroHash, err
	}
	if len(conflicts) > 0 {
		return MergeResult{Conflicts: conflicts}, plumbing.ZeroHash,
			haven.Errorf(haven.EConflict, "Merge conflict in %s: resolve it on the pull request's branch first", strings.Join(conflicts, ", "))
	}
	sha, err := r.writeCommit(tree, []plumbing.Hash{ours, theirs}, author.toGit(), title, message)
	if err != nil {
		return MergeResult{}, plumbing.ZeroHash, err
	}
	return MergeResult{SHA: sha.String()}, sha, nil
}

// Conflicts lists the paths that would conflict if head were merged into the
// revision base; none when it fast-forwards or is merged already.
func (r *Repo) Conflicts(ctx context.Context, base, head string) ([]string, error) {
	ours, err := r.resolve(base)
	if err != nil {
		return nil, err
	}
	theirs, err := r.resolve(head)
	if err != nil {
		return nil, err
	}
	if ours == theirs {
		return nil, nil
	}
	for _, pair := range [][2]plumbing.Hash{{theirs, ours}, {ours, theirs}} {
		if anc, err := r.isAncestor(ctx, pair[0], pair[1]); err != nil || anc {
			return nil, err
		}
	}
	_, conflicts, err := r.mergeTree(ctx, ours, theirs)
	return conflicts, err
}

// Diff is the unified diff of what head changes since its merge base with
// base, as "git diff base...head" prints it; without a merge base, from
// base to head.
func (r *Repo) Diff(ctx context.Context, base, head string) (string, error) {
	ours, err := r.resolve(base)
	if err != nil {
		return "", err
	}
	theirs, err := r.resolve(head)
	if err != nil {
		return "", err
	}
	revs := ours.String() + "..." + theirs.String()
	if _, err := runGit(ctx, r.path, nil, "merge-base", ours.String(), theirs.String()); exitCode(err) == 1 {
		// Unrelated histories (an empty branch) have no merge base: the diff
		// is then from base's tree to head's.
		revs = ours.String() + ".." + theirs.String()
	} else if err != nil {
		return "", err
	}
	out, err := runGit(ctx, r.path, nil, "diff", "--no-color", "--no-ext-diff", "--full-index", revs)
	if err != nil {
		return "", err
	}
	return string(out), nil
}

// isAncestor reports whether a is in the history of b.
func (r *Repo) isAncestor(ctx context.Context, a, b plumbing.Hash) (bool, error) {
	_, err := runGit(ctx, r.path, nil, "merge-base", "--is-ancestor", a.String(), b.String())
	if err == nil {
		return true, nil
	}
	if exitCode(err) == 1 {
		return false, nil
	}
	return false, err
}

// mergeTree writes the tree of the three-way merge of ours and theirs (git
// merge-tree --write-tree, git 2.38 or later, which touches no ref, index or
// work tree) and returns it, or the conflicting paths.
func (r *Repo) mergeTree(ctx context.Context, ours, theirs plumbing.Hash) (plumbing.Hash, []string, error) {
	args := []string{"merge-tree", "--write-tree", "--name-only", "--no-messages", "-z", ours.String(), theirs.String()}
	cmd := gitCommand(ctx, r.path, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	// Exit status 1 is a conflict, with the tree and the paths on stdout.
	out, err := cmd.Output()
	conflicted := exitCode(err) == 1
	if err != nil && !conflicted {
		return plumbing.ZeroHash, nil, &gitError{args: args, err: err, stderr: strings.TrimSpace(stderr.String())}
	}
	// -z output: the tree id, then (on conflict) one NUL-terminated path per
	// conflicting stage.
	fields := strings.Split(strings.TrimRight(string(out), "\x00"), "\x00")
	tree := plumbing.NewHash(strings.TrimSpace(fields[0]))
	if !conflicted {
		return tree, nil, nil
	}
	seen := map[string]bool{}
	var paths []string
	for _, f := range fields[1:] {
		if f == "" || seen[f] {
			continue
		}
		seen[f] = true
		paths = append(paths, f)
	}
	sort.Strings(paths)
	if len(paths) == 0 {
		// A conflict git reports without a path (rare): say so all the same.
		paths = []string{"(unknown)"}
	}
	return tree, paths, nil
}

// exitCode is the exit status of a failed git command, or -1.
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// MergeBase is the best common ancestor of the revisions a and b.
func (r *Repo) MergeBase(ctx context.Context, a, b string) (string, error) {
	ha, err := r.resolve(a)
	if err != nil {
		return "", err
	}
	hb, err := r.resolve(b)
	if err != nil {
		return "", err
	}
	out, err := runGit(ctx, r.path, nil, "merge-base", ha.String(), hb.String())
	if err != nil {
		if exitCode(err) == 1 {
			return "", haven.Errorf(haven.ERevisionNotFound, "%s and %s have no common history", a, b)
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}
