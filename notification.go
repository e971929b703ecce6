package haven

import (
	"context"
	"time"
)

// Notification kinds: what a notification tells its recipient of.
const (
	NotifyAccessRequest  = "access.request"  // someone asks for access to a gated repository of theirs
	NotifyAccessDecision = "access.decision" // their own request was accepted, rejected or granted
	NotifyMention        = "mention"         // someone named them with @name in a discussion
)

// Notification is a message to one user, kept on their notifications page
// and sent by email where the hub has a mail server.
type Notification struct {
	ID      string    // 24 hex digits, given when stored
	UserID  int64     // the recipient
	Time    time.Time // when it was made; now when zero
	Kind    string    // one of the Notify… kinds
	Actor   string    // the user whose action it tells of
	Subject string    // one line: the email's subject and the page's title
	Body    string    // plain text
	URL     string    // where the recipient acts on it
	Read    bool
}

// Notifier tells users of what concerns them. Notify does not fail the
// action it tells of: a notifier that cannot store or send logs the error.
type Notifier interface {
	Notify(ctx context.Context, to *User, n Notification)
}

// Notify tells to of n through nt, which may be nil (nobody is told), so
// that callers and their tests need no notifier.
func Notify(ctx context.Context, nt Notifier, to *User, n Notification) {
	if nt != nil && to != nil {
		nt.Notify(ctx, to, n)
	}
}
