// Package mirror keeps repositories in step with repositories of other
// Hugging Face-compatible hubs: a pull mirror copies one in (every ref, the
// full history, every large file) and follows it; a push mirror publishes
// every change of a local repository through the remote's HTTP API.
package mirror

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/gitstore"
	"github.com/havenhub/haven/internal/seal"
	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/netguard"
)

// Queue job kinds.
const (
	// JobSync syncs one mirror; its payload is {"mirror": id}.
	JobSync = "mirror.sync"
	// JobSynced tells the server that a repository was synced by another
	// process (the command line); its payload is {"repo": id}.
	JobSynced = "mirror.synced"
)

// DefaultInterval is the time between scheduled syncs unless one is given.
const DefaultInterval = time.Hour

// MinInterval bounds how often a mirror syncs on schedule.
const MinInterval = 10 * time.Second

// Config is what the mirror service needs.
type Config struct {
	Meta  *meta.Store
	Git   *gitstore.Store
	Blobs blob.Driver
	// Has reports whether a large file is stored, as LFS or Xet; Open opens it.
	Has  func(ctx context.Context, oid string) (bool, error)
	Open func(ctx context.Context, oid string) (io.ReadSeekCloser, int64, error)
	// Secret is the deployment secret that seals remote tokens.
	Secret []byte
	// AllowPrivate lets mirrors reach hubs on loopback and private addresses.
	AllowPrivate bool
	// Apply runs change, which moves refs of repo, and then tells the rest
	// of the server (caches, metadata, webhooks). Nil outside the server:
	// the change runs alone and a JobSynced tells the server afterwards.
	Apply func(ctx context.Context, repo *haven.Repo, change func() error) error
	// Changed refreshes what the server derives from repo (JobSynced).
	Changed func(ctx context.Context, repo *haven.Repo)
	Logger  *slog.Logger
	// Tick is how often the scheduler looks for due mirrors (2 s).
	Tick time.Duration
}

// Service runs mirrors: adds them, syncs them on schedule and on demand,
// and serves their part of the API.
type Service struct {
	cfg    Config
	box    *seal.Box
	log    *slog.Logger
	worker string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	wake   chan struct{}
}

// New returns a mirror service; Start runs its scheduler and worker.
func New(cfg Config) (*Service, error) {
	box, err := seal.New(cfg.Secret, "haven mirror tokens v1")
	if err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 2 * time.Second
	}
	var id [4]byte
	rand.Read(id[:])
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{cfg: cfg, box: box, log: cfg.Logger, worker: "mirror-" + hex.EncodeToString(id[:]),
		ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1)}, nil
}

// Start runs the scheduler, which queues due mirrors, and the worker that
// syncs them.
func (s *Service) Start() {
	s.wg.Add(2)
	go s.schedule()
	go s.work()
}

// Close stops the service; a sync in progress is abandoned and resumes
// from its last good state next time.
func (s *Service) Close() {
	s.cancel()
	s.wg.Wait()
}

func (s *Service) schedule() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	for {
		s.queueDue()
		select {
		case <-t.C:
		case <-s.ctx.Done():
			return
		}
	}
}

// syncGuard is how long a queued sync keeps its mirror off the schedule;
// each sync sets the next time when it ends.
const syncGuard = 30 * time.Minute

// queueDue queues a sync of each due mirror. Moving the mirror's next time
// first, with compare-and-swap, lets one scheduler of several queue it.
func (s *Service) queueDue() {
	now := time.Now()
	due, err := s.cfg.Meta.DueMirrors(s.ctx, now, 50)
	if err != nil {
		if s.ctx.Err() == nil {
			s.log.Warn("mirror: listing due mirrors", "err", err)
		}
		return
	}
	for _, m := range due {
		ok, err := s.cfg.Meta.DeferMirror(s.ctx, m.ID, m.NextSyncAt, now.Add(syncGuard))
		if err != nil || !ok {
			continue
		}
		if err := s.enqueue(s.ctx, m.ID, now); err != nil {
			s.log.Warn("mirror: queueing a sync", "mirror", m.ID, "err", err)
		}
	}
}

func (s *Service) enqueue(ctx context.Context, id int64, at time.Time) error {
	payload, _ := json.Marshal(map[string]int64{"mirror": id})
	if _, err := s.cfg.Meta.Enqueue(ctx, JobSync, payload, at); err != nil {
		return err
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// maxAttempts bounds the retries of a failed sync from the queue; the
// schedule tries again at the mirror's next interval after that.
const maxAttempts = 5

func (s *Service) work() {
	defer s.wg.Done()
	w := meta.Waiting{Kinds: []string{JobSync, JobSynced}, Worker: s.worker, Lease: syncGuard, Wake: s.wake, Poll: time.Second,
		OnError: func(err error) { s.log.Warn("mirror: leasing from the queue", "err", err) }}
	for {
		job := s.cfg.Meta.NextJob(s.ctx, w)
		if job == nil {
			return
		}
		var p struct {
			Mirror int64 `json:"mirror"`
			Repo   int64 `json:"repo"`
		}
		json.Unmarshal(job.Payload, &p)
		if job.Kind == JobSynced {
			if repo, err := s.cfg.Meta.RepoByID(s.ctx, p.Repo); err == nil && s.cfg.Changed != nil {
				s.cfg.Changed(s.ctx, repo)
			}
			s.cfg.Meta.Complete(s.ctx, job.ID)
			continue
		}
		err := s.Sync(s.ctx, p.Mirror, nil)
		switch {
		case err == nil, haven.IsCode(err, haven.ENotFound):
			s.cfg.Meta.Complete(s.ctx, job.ID)
		case errors.Is(err, errBusy):
			// Another process syncs it now; look again shortly, so that a
			// change it started too early to see is not left for an hour.
			s.cfg.Meta.Complete(s.ctx, job.ID)
			s.enqueue(s.ctx, p.Mirror, time.Now().Add(5*time.Second))
		default:
			if s.ctx.Err() != nil {
				return
			}
			s.log.Warn("mirror: sync failed", "mirror", p.Mirror, "attempt", job.Attempts, "err", err)
			backoff := 10 * time.Second << (2 * min(job.Attempts-1, 4))
			s.cfg.Meta.Fail(s.ctx, job.ID, err.Error(), time.Now().Add(backoff), maxAttempts)
		}
	}
}

var errBusy = errors.New("another sync of this mirror is running")

// claimTTL is how long a sync's claim on its mirror lasts unless renewed.
const claimTTL = 30 * time.Second

// Sync runs one sync of mirror id now, reporting to p (nil: nowhere). It
// fails with errBusy while another process syncs the same mirror.
func (s *Service) Sync(ctx context.Context, id int64, p Progress) error {
	if p == nil {
		p = quiet{}
	}
	m, err := s.cfg.Meta.MirrorByID(ctx, id)
	if err != nil {
		return err
	}
	ok, err := s.cfg.Meta.ClaimMirror(ctx, m.ID, s.worker, time.Now().Add(claimTTL))
	if err != nil {
		return err
	}
	if !ok {
		return errBusy
	}
	// The claim is renewed while the sync runs, so that a process killed
	// mid-sync holds it for claimTTL at most.
	renewed := make(chan struct{})
	go func() {
		t := time.NewTicker(claimTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-renewed:
				return
			case <-t.C:
				s.cfg.Meta.ClaimMirror(ctx, m.ID, s.worker, time.Now().Add(claimTTL))
			}
		}
	}()
	state, err := s.syncClaimed(ctx, m, p)
	close(renewed)
	res := meta.MirrorResult{State: state, Next: time.Now().Add(m.Interval)}
	if err != nil {
		// A push that published some branches before failing keeps them
		// (state); a failed pull changed nothing.
		res.Err = err.Error()
		if m.Direction == haven.MirrorPull {
			res.State = ""
		}
	}
	if ferr := s.cfg.Meta.FinishMirrorSync(context.WithoutCancel(ctx), m.ID, s.worker, res); ferr != nil && err == nil {
		err = ferr
	}
	return err
}

func (s *Service) syncClaimed(ctx context.Context, m *haven.Mirror, p Progress) (string, error) {
	repo, err := s.cfg.Meta.RepoByID(ctx, m.RepoID)
	if err != nil {
		return "", err
	}
	h, err := s.hubOf(ctx, m)
	if err != nil {
		return "", err
	}
	if m.Direction == haven.MirrorPush {
		return s.push(ctx, m, repo, h, p)
	}
	return s.pull(ctx, m, repo, h, p)
}

// hubOf returns a client of the mirror's remote, with its token.
func (s *Service) hubOf(ctx context.Context, m *haven.Mirror) (*hub, error) {
	if err := s.checkRemote(ctx, m.Remote); err != nil {
		return nil, err
	}
	token := ""
	if m.Token != "" {
		t, err := s.box.Open(tokenScope(m), m.Token)
		if err != nil {
			return nil, fmt.Errorf("the mirror's token: %w", err)
		}
		token = t
	}
	return newHub(m.Remote, token, s.cfg.AllowPrivate), nil
}

// tokenScope binds a sealed token to its mirror's repository and remote,
// so that it opens for no other.
func tokenScope(m *haven.Mirror) string {
	return fmt.Sprintf("mirror %d %s %s %s", m.RepoID, m.Direction, m.Remote, m.RemoteID)
}

// checkRemote refuses remote hubs in the server's own network unless the
// operator allows them. git connects by itself, so the check runs on the
// name before every sync as well as on every address the HTTP client dials.
func (s *Service) checkRemote(ctx context.Context, base string) error {
	err := netguard.Check(ctx, net.DefaultResolver, base, s.cfg.AllowPrivate)
	var refused *netguard.RefusedError
	switch {
	case errors.Is(err, netguard.ErrNotHTTP):
		return haven.Errorf(haven.EInvalid, "Invalid remote hub %q: an absolute http or https URL is needed", base)
	case errors.As(err, &refused):
		return haven.Errorf(haven.EInvalid, "Remote hub %q is refused: %s (the server's operator may allow them with --mirror-allow-private)", base, refused)
	}
	return err
}

// RemoteRef is a repository of another hub, parsed from its URL.
type RemoteRef struct {
	Base string // "https://hub.example" (with any path prefix the hub is served under)
	Type haven.RepoType
	ID   haven.RepoID
}

// ParseRemote reads "https://hub.example/[datasets/|spaces/]ns/name[.git]".
// t, when not empty, is the type asked for; a URL that says another type
// is an error.
func ParseRemote(raw string, t haven.RepoType) (RemoteRef, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return RemoteRef{}, haven.Errorf(haven.EInvalid, "Invalid remote repository %q: expected https://hub/[datasets/|spaces/]namespace/name", raw)
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) < 2 {
		return RemoteRef{}, haven.Errorf(haven.EInvalid, "Invalid remote repository %q: the URL must end in namespace/name", raw)
	}
	id := haven.RepoID{Namespace: parts[len(parts)-2], Name: strings.TrimSuffix(parts[len(parts)-1], ".git")}
	if !haven.ValidName(id.Namespace) || !haven.ValidName(id.Name) {
		return RemoteRef{}, haven.Errorf(haven.EInvalid, "Invalid remote repository id %q", id)
	}
	prefix := parts[:len(parts)-2]
	typ := haven.Model
	if n := len(prefix); n > 0 {
		switch prefix[n-1] {
		case "datasets":
			typ, prefix = haven.Dataset, prefix[:n-1]
		case "spaces":
			typ, prefix = haven.Space, prefix[:n-1]
		case "models":
			prefix = prefix[:n-1]
		}
	}
	if t != "" {
		if len(parts) > 2 && typ != haven.Model && t != typ {
			return RemoteRef{}, haven.Errorf(haven.EInvalid, "The URL %q names a %s, not a %s", raw, typ, t)
		}
		typ = t
	}
	base := u.Scheme + "://" + u.Host
	if len(prefix) > 0 {
		base += "/" + strings.Join(prefix, "/")
	}
	return RemoteRef{Base: base, Type: typ, ID: id}, nil
}

// PullSpec says what to mirror and where.
type PullSpec struct {
	Source RemoteRef
	As     haven.RepoID // the local repository; the source's id when empty
	// Interval between scheduled syncs; DefaultInterval when zero.
	Interval time.Duration
	Token    string // read token for the source, "" for none
	Private  bool
}

// AddPull creates a read-only mirror of spec.Source: the local repository
// (empty until its first sync, which is queued) and its mirror. A private
// source makes a private mirror and a gated one a gated mirror, so that
// the mirror never shows more than its source does. The caller has checked
// that whoever asks may create the repository.
func (s *Service) AddPull(ctx context.Context, spec PullSpec) (*haven.Mirror, *haven.Repo, error) {
	if spec.As.Namespace == "" {
		spec.As = spec.Source.ID
	}
	interval, err := checkInterval(spec.Interval)
	if err != nil {
		return nil, nil, err
	}
	if err := s.checkRemote(ctx, spec.Source.Base); err != nil {
		return nil, nil, err
	}
	h := newHub(spec.Source.Base, spec.Token, s.cfg.AllowPrivate)
	info, err := h.repoInfo(ctx, spec.Source.Type, spec.Source.ID)
	if err != nil {
		return nil, nil, haven.Errorf(haven.EInvalid, "Cannot read the source repository %s: %v", spec.Source.ID, err)
	}
	if _, err := s.cfg.Meta.UserByName(ctx, spec.As.Namespace); err != nil {
		if haven.IsCode(err, haven.ENotFound) {
			return nil, nil, haven.Errorf(haven.EInvalid, "There is no user or organisation %q here: mirror into another namespace (--as NS/NAME, \"repo\" in the API) or create it first (haven org create %s --owner USER)",
				spec.As.Namespace, spec.As.Namespace)
		}
		return nil, nil, err
	}
	// The first sync is the caller's to start: now (SyncSoon) or inline.
	m := &haven.Mirror{Direction: haven.MirrorPull, Remote: spec.Source.Base, RemoteType: spec.Source.Type,
		RemoteID: spec.Source.ID, Interval: interval, NextSyncAt: time.Now().Add(interval)}
	repo := &haven.Repo{Type: spec.Source.Type, Namespace: spec.As.Namespace, Name: spec.As.Name,
		Private: spec.Private || info.Private, MirrorOf: m.RemoteURL()}
	if g, ok := info.Gated.(string); ok && (g == "auto" || g == "manual") {
		repo.Gated = "manual"
	}
	if err := s.cfg.Meta.CreateRepo(ctx, repo); err != nil {
		return nil, nil, err
	}
	undo := func(err error) (*haven.Mirror, *haven.Repo, error) {
		s.cfg.Meta.DeleteRepo(context.WithoutCancel(ctx), repo.ID)
		s.cfg.Git.Remove(context.WithoutCancel(ctx), repo.Type, repo.RepoID())
		return nil, nil, err
	}
	if err := s.cfg.Git.Init(ctx, repo.Type, repo.RepoID()); err != nil {
		return undo(err)
	}
	m.RepoID = repo.ID
	if spec.Token != "" {
		m.Token = s.box.Seal(tokenScope(m), spec.Token)
	}
	if err := s.cfg.Meta.CreateMirror(ctx, m); err != nil {
		return undo(err)
	}
	return m, repo, nil
}

// AddPush makes repo publish every change to target. The remote
// repository is created at the first sync if it does not exist.
func (s *Service) AddPush(ctx context.Context, repo *haven.Repo, target RemoteRef, token string, interval time.Duration) (*haven.Mirror, error) {
	interval, err := checkInterval(interval)
	if err != nil {
		return nil, err
	}
	if err := s.checkRemote(ctx, target.Base); err != nil {
		return nil, err
	}
	if token == "" {
		return nil, haven.Errorf(haven.EInvalid, "A push mirror needs a token with write access to %s", target.ID)
	}
	m := &haven.Mirror{RepoID: repo.ID, Direction: haven.MirrorPush, Remote: target.Base, RemoteType: target.Type,
		RemoteID: target.ID, Interval: interval, NextSyncAt: time.Now().Add(interval)}
	m.Token = s.box.Seal(tokenScope(m), token)
	if err := s.cfg.Meta.CreateMirror(ctx, m); err != nil {
		return nil, err
	}
	return m, nil
}

func checkInterval(d time.Duration) (time.Duration, error) {
	if d == 0 {
		return DefaultInterval, nil
	}
	if d < MinInterval {
		return 0, haven.Errorf(haven.EInvalid, "A mirror's interval must be at least %s", MinInterval)
	}
	return d, nil
}

// SyncSoon queues a sync of mirror id now.
func (s *Service) SyncSoon(ctx context.Context, id int64) error {
	m, err := s.cfg.Meta.MirrorByID(ctx, id)
	if err != nil {
		return err
	}
	ok, err := s.cfg.Meta.DeferMirror(ctx, m.ID, m.NextSyncAt, time.Now().Add(syncGuard))
	if err != nil {
		return err
	}
	if !ok {
		return nil // a scheduler queued it just now
	}
	return s.enqueue(ctx, m.ID, time.Now())
}

// Synced tells the server that repo was synced from outside it, so that
// it refreshes what it derives from the repository.
func (s *Service) Synced(ctx context.Context, repo *haven.Repo) error {
	payload, _ := json.Marshal(map[string]int64{"repo": repo.ID})
	_, err := s.cfg.Meta.Enqueue(ctx, JobSynced, payload, time.Now())
	return err
}

// apply moves refs of repo through the server when there is one.
func (s *Service) apply(ctx context.Context, repo *haven.Repo, change func() error) error {
	if s.cfg.Apply == nil {
		if err := change(); err != nil {
			return err
		}
		return s.Synced(ctx, repo)
	}
	return s.cfg.Apply(ctx, repo, change)
}

// RepoEvent brings the push mirrors of a repository whose content changed
// forward (haven.EventSink); the scheduler picks them up at its next tick.
func (s *Service) RepoEvent(ctx context.Context, ev *haven.RepoEvent) {
	if ev.Scope != haven.ScopeRepoContent || ev.Repo == nil {
		return
	}
	id := ev.Repo.ID
	go func() {
		if err := s.cfg.Meta.SyncMirrorsOf(s.ctx, id, haven.MirrorPush, time.Now()); err != nil && s.ctx.Err() == nil {
			s.log.Warn("mirror: scheduling push mirrors", "repo", id, "err", err)
		}
	}()
}
