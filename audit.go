package haven

import (
	"context"
	"time"
)

// Audit actions, named "scope.action" as the Hub's audit log names them.
const (
	AuditSignIn           = "user.sign_in"
	AuditSignInFailed     = "user.sign_in_failed"
	AuditUserPassword     = "user.change_password"
	AuditTokenCreate      = "token.create"
	AuditTokenRevoke      = "token.revoke"
	AuditRepoCreate       = "repo.create"
	AuditRepoDelete       = "repo.delete"
	AuditRepoMove         = "repo.move"
	AuditRepoSettings     = "repo.update_settings"
	AuditOrgAddUser       = "org.add_user"
	AuditOrgRemoveUser    = "org.remove_user"
	AuditOrgChangeRole    = "org.change_role"
	AuditOrgSettings      = "org.update_settings"
	AuditAccessDecision   = "repo.access_request"
	AuditWebhookCreate    = "webhook.create"
	AuditWebhookUpdate    = "webhook.update"
	AuditWebhookDelete    = "webhook.delete"
	AuditDiscussionMerge  = "discussion.merge"
	AuditLogExport        = "org.audit_log.export"
	AuditActorTypeUser    = "user"
	AuditActorTypeSystem  = "system"
	AuditTargetRepo       = "repo"
	AuditTargetUser       = "user"
	AuditTargetToken      = "token"
	AuditTargetWebhook    = "webhook"
	AuditTargetDiscussion = "discussion"
)

// AuditEntry is one security-relevant action, kept in the audit log.
type AuditEntry struct {
	ID     string    // 24 hex digits, given when stored
	Time   time.Time // when it happened; now when zero
	Action string    // one of the Audit… actions
	// The actor: a user (ActorID, ActorName) or, for the admin commands,
	// the system (ActorType "system", ActorID 0).
	ActorID   int64
	ActorName string
	ActorType string
	TokenID   int64 // the token the request was made with; 0 for sessions
	IP        string
	UserAgent string
	// Namespace is the user or organisation the action concerns: the
	// owner of the repository, the org whose member changed, the user
	// whose token or webhook it is. Org admins see their namespace's
	// entries.
	Namespace  string
	TargetType string // one of the AuditTarget… kinds
	Target     string // "ns/name", a user name, a token or webhook id
	Details    map[string]any
}

// AuditFilter selects audit entries, newest first.
type AuditFilter struct {
	Namespace string // required unless ActorID is set
	ActorID   int64
	Action    string   // an action, or a scope ("repo") matching its actions
	Exclude   []string // actions left out
	From, To  time.Time
	// Before continues a listing after the entry with this id (the cursor).
	Before string
	Limit  int
}

// Auditor records audit entries. Record does not fail the action it
// records: a store that cannot write logs the error.
type Auditor interface {
	Record(ctx context.Context, e AuditEntry)
}

// Audit records e through a, which may be nil (nothing is recorded), so
// that callers and their tests need no auditor.
func Audit(ctx context.Context, a Auditor, e AuditEntry) {
	if a != nil {
		a.Record(ctx, e)
	}
}

// Audit actions of discussions besides merges.
const (
	AuditDiscussionPin    = "discussion.pin"
	AuditDiscussionLock   = "discussion.lock"
	AuditDiscussionDelete = "discussion.delete"
)

// pendingAudit is an audit entry that the change it records writes.
type pendingAudit struct {
	build   func() AuditEntry
	entry   AuditEntry
	written bool
}

type auditKey struct{}

// WithAudit returns ctx carrying e, to be written by the store in the same
// transaction as the change made with ctx, so that the log holds an entry
// exactly when the change happened. Pass it only to the call that makes
// the change.
func WithAudit(ctx context.Context, e AuditEntry) context.Context {
	return WithAuditFunc(ctx, func() AuditEntry { return e })
}

// WithAuditFunc is WithAudit for an entry that names what the change
// creates (the id of a new token): the store calls build in the
// transaction, after the change.
func WithAuditFunc(ctx context.Context, build func() AuditEntry) context.Context {
	list, _ := ctx.Value(auditKey{}).([]*pendingAudit)
	return context.WithValue(ctx, auditKey{}, append(list[:len(list):len(list)], &pendingAudit{build: build}))
}

// PendingAudit lists the entries of ctx that no transaction has written
// yet; the store calls it in a transaction, writes them and then calls
// done with whether it committed.
func PendingAudit(ctx context.Context) (entries []*AuditEntry, done func(committed bool)) {
	list, _ := ctx.Value(auditKey{}).([]*pendingAudit)
	var todo []*pendingAudit
	for _, p := range list {
		if !p.written {
			p.entry = p.build()
			todo = append(todo, p)
			entries = append(entries, &p.entry)
		}
	}
	return entries, func(committed bool) {
		for _, p := range todo {
			p.written = committed
		}
	}
}
