package haven

import "time"

// AccessStatus is where a user's request for the files of a gated
// repository stands.
type AccessStatus string

// The statuses of an access request, as the Hub names them.
const (
	AccessPending  AccessStatus = "pending"
	AccessAccepted AccessStatus = "accepted"
	AccessRejected AccessStatus = "rejected"
)

// ParseAccessStatus accepts "pending", "accepted" or "rejected".
func ParseAccessStatus(s string) (AccessStatus, error) {
	switch st := AccessStatus(s); st {
	case AccessPending, AccessAccepted, AccessRejected:
		return st, nil
	}
	return "", Errorf(EInvalid, "Invalid status %q: expected pending, accepted or rejected", s)
}

// AccessRequest is one user's request for the files of one gated
// repository. There is at most one per user and repository: a decision
// moves it between statuses rather than adding another.
type AccessRequest struct {
	ID        int64
	RepoID    int64
	User      *User
	Status    AccessStatus
	Fields    map[string]any // the answers to the card's extra_gated_fields
	Reason    string         // why it was rejected, shown to the requester
	Granted   bool           // added by the repository's owners, not asked for
	DecidedBy string         // who made the last decision, "" if nobody yet
	CreatedAt time.Time
	UpdatedAt time.Time
	DecidedAt time.Time // zero while nobody decided
}
