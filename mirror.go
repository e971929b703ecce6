package haven

import "time"

// Mirror directions.
const (
	// MirrorPull copies a repository of another hub into this one: the local
	// repository is read-only and follows its source.
	MirrorPull = "pull"
	// MirrorPush publishes every change of a local repository to a
	// repository of another hub.
	MirrorPush = "push"
)

// Mirror ties a local repository to a repository of another
// Hugging Face-compatible hub, in one direction.
type Mirror struct {
	ID        int64
	RepoID    int64
	Direction string // MirrorPull or MirrorPush
	// Remote is the other hub's base URL ("https://huggingface.co"),
	// RemoteType and RemoteID the repository there.
	Remote     string
	RemoteType RepoType
	RemoteID   RepoID
	Interval   time.Duration // between scheduled syncs
	// Token is the remote token, sealed ("" for none).
	Token string
	// State is what the last successful sync left for the next one, as
	// JSON: the remote refs a pull mirror copied, the local commits a push
	// mirror published.
	State string

	NextSyncAt    time.Time
	LastAttemptAt time.Time // zero until the first sync
	LastSuccessAt time.Time // zero until the first good sync
	LastError     string    // "" when the last sync succeeded
	CreatedAt     time.Time
}

// RemoteURL is the remote repository's page URL ("https://hub/datasets/ns/name").
func (m *Mirror) RemoteURL() string {
	return m.Remote + "/" + m.RemoteType.URLPrefix() + m.RemoteID.String()
}
