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
)

// CanDiscuss reports whether the actor may perform act in the discussions of
// repo; author is the user who wrote the comment or opened the discussion
// acted on ("" when there is none). Whoever may not read a private repository
// gets RepoNotFound, as everywhere. Read tokens may take part in discussions,
// as they may open pull requests, and so may org contributors, who change
// repositories only through pull requests; fine-grained tokens need
// discussion.write (or repo.write) on the repository, or discussion.write
// globally for a public one.
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
		return nil
	case Moderate:
		if author != "" && strings.EqualFold(author, a.User.Name) {
			return nil
		}
	}
	return Can(a, Write, repo)
}
