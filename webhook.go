package haven

import "time"

// Webhook sends the events of the repositories it watches to a URL. It
// belongs to a user and watches repositories and whole namespaces.
type Webhook struct {
	ID       string // 24 lowercase hex digits
	OwnerID  int64
	Owner    string // the owner's user name
	URL      string
	Watched  []WatchedItem
	Domains  []string // "repo", "discussion"
	Secret   string   // sent as X-Webhook-Secret; "" for none
	Disabled bool
	// JobSourceID, instead of a URL, names the job whose spec every event
	// runs again (with the payload in its environment); JobSecrets are
	// those runs' secrets, sealed.
	JobSourceID string
	JobSecrets  string
	// LastTriggerAt is when an event last matched it; zero if never.
	LastTriggerAt time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// WatchedItem is what a webhook watches: a repository ("model", "dataset",
// "space" with its "namespace/name") or a namespace ("user", "org").
type WatchedItem struct {
	Type string `json:"type"`
	Name string `json:"name"`
}

// Webhook domains.
const (
	DomainRepo       = "repo"
	DomainDiscussion = "discussion"
)

// WebhookDelivery is one attempt to deliver an event to a webhook: its
// payload, the receiver's answer and how long it took.
type WebhookDelivery struct {
	ID        string // 24 lowercase hex digits
	WebhookID string
	Event     string // "scope.action", e.g. "repo.content.update"
	Payload   []byte // the JSON sent
	Status    int    // the receiver's HTTP status; 0 when none came
	Duration  time.Duration
	Response  string // the start of the receiver's body
	Error     string // why the attempt failed, "" when it succeeded
	Attempt   int    // 1 for the first attempt
	CreatedAt time.Time
}

// OK reports whether the receiver took the delivery (a 2xx answer).
func (d *WebhookDelivery) OK() bool { return d.Error == "" && d.Status >= 200 && d.Status < 300 }
