package auth

import (
	"fmt"
	"strings"

	"github.com/havenhub/haven"
)

// DiscussionAction is what an actor wants to do in the discussions and pull
// requests of a repository.
type DiscussionAction int

// Discussion actions.
const (
	// Discuss opens a discussion or pull request, or comments on one.
	Discuss DiscussionAction = iota
	// Moderate edits or hides a comment, renames, closes or reopens a
	// discussion, or commits to a pull request: for the author of the
	// comment or discussion and for the repository's writers.
	Moderate
	// Merge merges a pull request: for the repository's writers.
	Merge
	// Pin pins or unpins, locks or unlocks a discussion: for the
	// repository's writers.
	Pin
	// Delete deletes a discussion with its thread: for the repository's
	// admins.
	Delete
)

// CanDiscuss reports whether the actor may perform act in the discussions of
// repo; author is the user who wrote the comment or opened the discussion
// acted on ("" when there is none). Whoever may not read a private repository
// gets RepoNotFound, as everywhere. Read tokens may take part in discussions,
// as they may open pull requests, and so may org contributors, who change
// repositories only through pull requests; fine-grained tokens need
// discussion.write (or repo.write) on the repository, or discussion.write
// globally for a public one. Once a repository's discussions are disabled
// nobody opens or comments on one, but its writers still close, merge and
// moderate those there are.
func CanDiscuss(a *Actor, act DiscussionAction, repo *haven.Repo, author string) error {
	if err := Can(a, Read, repo); err != nil {
		return err
	}
	if a.Anonymous() {
		return haven.Errorf(haven.EUnauthorized, "You must be authenticated to do this. Please log in or pass a token.")
	}
	if act != Merge && !a.tokenAllows(haven.PermDiscussionWrite, repo) {
		return errMissingPermission(haven.PermDiscussionWrite, fmt.Sprintf("the %s repository %s", repo.Type, repo.FullName()))
	}
	switch act {
	case Discuss:
		if repo.DiscussionsDisabled {
			return haven.Errorf(haven.EForbidden, "Discussions are disabled for %s", repo.FullName())
		}
		return nil
	case Moderate:
		if author != "" && strings.EqualFold(author, a.User.Name) {
			return nil
		}
	case Delete:
		return Can(a, Admin, repo)
	}
	return Can(a, Write, repo)
}

// CanComment reports whether the actor may comment on discussion d of repo,
// or react to its comments: whoever may take part in its discussions, but
// only the repository's writers once d is locked.
func CanComment(a *Actor, repo *haven.Repo, d *haven.Discussion) error {
	if err := CanDiscuss(a, Discuss, repo, ""); err != nil {
		return err
	}
	if !d.Locked {
		return nil
	}
	if err := Can(a, Write, repo); err != nil {
		return haven.Errorf(haven.EForbidden, "Discussion #%d is locked: only those with the rights to write to the repository may comment on it", d.Num)
	}
	return nil
}
