package haven

import "context"

// Event scopes, as webhooks name them. A scope with a dot is a part of the
// scope before it: receivers that do not know "repo.content" treat it as
// "repo".
const (
	ScopeRepo              = "repo"
	ScopeRepoContent       = "repo.content"
	ScopeRepoConfig        = "repo.config"
	ScopeDiscussion        = "discussion"
	ScopeDiscussionComment = "discussion.comment"
)

// Event actions.
const (
	ActionCreate = "create"
	ActionUpdate = "update"
	ActionDelete = "delete"
	ActionMove   = "move"
)

// RepoEvent is a change to a repository or to one of its discussions,
// told to whoever listens (webhooks) after the change is stored.
type RepoEvent struct {
	Scope  string
	Action string
	// Repo is the repository after the change; for a deletion, as it was,
	// and for a move, under its old name (MovedTo is the new one).
	Repo          *Repo
	UpdatedRefs   []RefUpdate    // repo.content: the refs that moved
	UpdatedConfig map[string]any // repo.config: the settings that changed
	MovedTo       string         // repo move: "namespace/name"
	// Discussion and Comment are set for the discussion scopes; Comment
	// also when a discussion is opened with its first comment.
	Discussion *Discussion
	Comment    *DiscussionEvent
}

// RefUpdate is a ref that moved; OldSHA is "" when it was created, NewSHA
// "" when it was deleted.
type RefUpdate struct {
	Ref    string `json:"ref"`
	OldSHA string `json:"oldSha"`
	NewSHA string `json:"newSha"`
}

// EventSink hears of repository events. RepoEvent must return quickly: it
// runs on the request that made the change, so a sink defers its work.
type EventSink interface {
	RepoEvent(ctx context.Context, ev *RepoEvent)
}

// EventSinks tells each of its sinks, in order.
type EventSinks []EventSink

// RepoEvent tells every sink of the list.
func (l EventSinks) RepoEvent(ctx context.Context, ev *RepoEvent) {
	for _, s := range l {
		s.RepoEvent(ctx, ev)
	}
}
