package haven

import (
	"strconv"
	"time"
)

// Discussion statuses. A pull request opened by create_pull_request starts
// as a draft; publishing it makes it open, and only a merge makes it merged.
const (
	StatusDraft  = "draft"
	StatusOpen   = "open"
	StatusClosed = "closed"
	StatusMerged = "merged"
)

// Discussion event types, as the Hub names them.
const (
	EventComment      = "comment"
	EventStatusChange = "status-change"
	EventTitleChange  = "title-change"
	EventCommit       = "commit"
	EventPinning      = "pinning-change"
	EventLocking      = "locking-change"
)

// Orders of the discussion listing, as the Hub's list API names them.
const (
	SortRecentlyCreated = "recently-created" // newest first, the default
	SortTrending        = "trending"         // most comments and reactions in the last week first
	SortReactions       = "reactions"        // most users reacting to the opening comment first
)

// Reactions are the emoji a comment may be given, the Hub's set.
var Reactions = []string{"🔥", "🚀", "👀", "❤️", "🤗", "😎", "➕", "🧠", "👍", "🤝", "😔", "🤯"}

// ValidReaction reports whether r is one of Reactions.
func ValidReaction(r string) bool {
	for _, x := range Reactions {
		if x == r {
			return true
		}
	}
	return false
}

// Reaction is one emoji given to a comment, with the users who gave it in
// the order they did.
type Reaction struct {
	Reaction string
	Users    []string
}

// Discussion is a discussion or pull request of a repository. Discussions
// and pull requests share one sequence of numbers per repository.
type Discussion struct {
	ID            int64
	ObjectID      string // 24 lowercase hex digits
	RepoID        int64
	Num           int
	Title         string
	Author        string // user name
	Status        string
	IsPullRequest bool
	TargetRef     string   // pull requests: the branch it merges into, "refs/heads/main"
	MergeCommit   string   // pull requests: the commit that merged it
	Conflicts     []string // pull requests: paths that kept the last merge from happening
	Pinned        bool     // shown first in listings
	Locked        bool     // only the repository's writers may comment
	NumComments   int      // filled in by listings
	// ReactionUsers counts the users who reacted to the opening comment;
	// TopReactions, filled in by listings, are those reactions, most
	// given first.
	ReactionUsers int
	TopReactions  []Reaction
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// PullRequestRef is the git ref that holds the commits of pull request num.
func PullRequestRef(num int) string { return "refs/pr/" + strconv.Itoa(num) }

// DiscussionEvent is one entry of a discussion's thread.
type DiscussionEvent struct {
	ID           int64
	ObjectID     string
	DiscussionID int64
	Type         string
	Author       string
	// Body is a comment's latest text; Versions lists every text it had,
	// oldest first, with who wrote it.
	Body     string
	Versions []CommentVersion
	Hidden   bool
	HiddenBy string
	// Reactions of a comment, in the order of Reactions.
	Reactions []Reaction
	// Data holds the fields of other events as JSON: {"status"},
	// {"from","to"}, {"subject","oid"}.
	Data      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// CommentVersion is one text a comment had.
type CommentVersion struct {
	Body      string
	Author    string
	CreatedAt time.Time
}

// DiscussionFilter selects discussions of a repository. Status "open"
// includes drafts, as on the Hub.
type DiscussionFilter struct {
	PullRequests *bool  // nil: both
	Status       string // "", "all", "open" or "closed" (closed includes merged)
	Author       string
	Search       string // in titles
	Sort         string // one of the Sort… orders; "" is SortRecentlyCreated
	Offset       int
	Limit        int
}

// DiscussionChange is what an event changes on its discussion.
type DiscussionChange struct {
	Title       *string
	Status      *string
	MergeCommit *string
	Conflicts   *[]string
	Pinned      *bool
	Locked      *bool
}
