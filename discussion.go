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
)

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
	NumComments   int      // filled in by listings
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
	Offset       int
	Limit        int
}

// DiscussionChange is what an event changes on its discussion.
type DiscussionChange struct {
	Title       *string
	Status      *string
	MergeCommit *string
	Conflicts   *[]string
}
