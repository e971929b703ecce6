// Package endpoints runs dedicated inference endpoints, the Hub's Inference
// Endpoints on this hub: the control plane at /api/endpoints/v2 (the
// endpoint object, its state machine driven by its replicas, pause, resume,
// scale to zero), the data plane at /e/{ns}/{name} (authentication by
// endpoint type, an activator that holds requests while replicas start,
// per-endpoint concurrency, autoscaling on requests in flight, scale to
// zero when idle), and revisions: every change of model or hardware is an
// immutable revision pinned to a commit, rolled out beside the old one,
// with traffic splits, rollback and per-revision statistics that compare
// two arms.
package endpoints

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/gitstore"
	"github.com/havenhub/haven/inference"
	"github.com/havenhub/haven/internal/seal"
	"github.com/havenhub/haven/meta"
	hubreplica "github.com/havenhub/haven/replica"
	"github.com/havenhub/haven/runner"
	"github.com/havenhub/haven/runner/runlog"
)

// Endpoint states, as the Hub names them.
const (
	StatePending      = "pending"
	StateInitializing = "initializing"
	StateUpdating     = "updating"
	StateUpdateFailed = "updateFailed"
	StateRunning      = "running"
	StatePaused       = "paused"
	StateFailed       = "failed"
	StateScaledToZero = "scaledToZero"
)

// Revision states: pending until its first replica answers its health
// route, then ready for good; failed if it never did.
const (
	revPending = "pending"
	revReady   = "ready"
	revFailed  = "failed"
)

// Defaults of the data plane's line (Config.MaxQueued, Config.QueueWait).
const (
	DefaultMaxQueued = 1024
	DefaultQueueWait = 60 * time.Second
)

// Launcher starts engine replicas (inference.Launcher; a fake in tests).
type Launcher interface {
	Launch(ctx context.Context, spec inference.Spec, log io.Writer) (Replica, error)
}

// Replica is a running engine.
type Replica interface {
	Addr() string
	Done() <-chan struct{}
	Exit() runner.Exit
	Stop(ctx context.Context, grace time.Duration) error
}

// InferenceLauncher adapts the inference package's launcher.
func InferenceLauncher(l *inference.Launcher) Launcher { return engineLauncher{l} }

type engineLauncher struct{ l *inference.Launcher }

func (e engineLauncher) Launch(ctx context.Context, spec inference.Spec, log io.Writer) (Replica, error) {
	r, err := e.l.Launch(ctx, spec, log)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Config is what the Service needs.
type Config struct {
	Meta     *meta.Store
	Git      *gitstore.Store
	Launcher Launcher
	Flavors  runner.Flavors
	// Dir holds the endpoints' logs.
	Dir       string
	PublicURL string
	Secret    []byte
	// Authenticate finds the caller of a data plane request.
	Authenticate func(r *http.Request) (*auth.Actor, error)
	Logger       *slog.Logger

	// Tick is how often replicas are reconciled and the autoscaler samples
	// (default 1 s); ScaleDownDelay the autoscaler's stabilization (default
	// 300 s); StatsEvery how often statistics are saved (default 10 s);
	// Hold how long a request waits for a replica by default (120 s).
	Tick, ScaleDownDelay, StatsEvery, Hold time.Duration
	// MaxQueued bounds the requests one endpoint holds in line while its
	// replicas start or are busy (default 1024); QueueWait how long one
	// waits for a busy replica (default 60 s). Past either the answer is
	// 429 with Retry-After.
	MaxQueued int
	QueueWait time.Duration
	// KeepAlive is how often a streaming request held while the endpoint
	// wakes or waits in line is sent an SSE comment (default 10 s).
	KeepAlive time.Duration
	// Images says whether the runner runs container images (an endpoint's
	// image.custom url); without it custom endpoints must give a command.
	Images bool
	// Ready bounds a replica's start (default: the launcher's).
	Ready time.Duration
	// Minute is the unit of scaleToZeroTimeout (a minute; tests shorten it).
	Minute time.Duration
	// Replica is this process among the replicas sharing the database: one
	// of them runs the endpoints, the others pass requests to it. Nil: this
	// process runs them.
	Replica *hubreplica.Self
}

// Service runs the hub's endpoints.
type Service struct {
	cfg      Config
	meta     *meta.Store
	log      *slog.Logger
	box      *seal.Box
	computes []compute

	mu  sync.Mutex
	eps map[string]*endpoint // by lower-cased "ns/name"

	self    *hubreplica.Self
	local   bool          // this process runs the endpoints
	looping bool          // the reconcile loop runs
	peer    *meta.Replica // the replica that runs them, nil for this one
	peerAt  time.Time     // when peer was read

	seq    atomic.Int64
	tr     *http.Transport // the data plane's client of the replicas
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns the service; Start restores the endpoints.
func New(cfg Config) (*Service, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Tick <= 0 {
		cfg.Tick = time.Second
	}
	if cfg.ScaleDownDelay <= 0 {
		cfg.ScaleDownDelay = 300 * time.Second
	}
	if cfg.StatsEvery <= 0 {
		cfg.StatsEvery = 10 * time.Second
	}
	if cfg.Hold <= 0 {
		cfg.Hold = 120 * time.Second
	}
	if cfg.MaxQueued <= 0 {
		cfg.MaxQueued = DefaultMaxQueued
	}
	if cfg.QueueWait <= 0 {
		cfg.QueueWait = DefaultQueueWait
	}
	if cfg.Minute <= 0 {
		cfg.Minute = time.Minute
	}
	box, err := seal.New(cfg.Secret, "haven endpoint secrets v1")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, "logs"), 0o755); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{cfg: cfg, meta: cfg.Meta, log: cfg.Logger, box: box, computes: computesOf(cfg.Flavors),
		eps: map[string]*endpoint{}, self: cfg.Replica, ctx: ctx, cancel: cancel,
		// Keep-alive connections for every request a replica may take at
		// once: with Go's default of 2, a burst of answers closes the rest
		// and the next burst dials anew.
		tr: &http.Transport{DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 4 * perReplicaCap, IdleConnTimeout: 90 * time.Second, DisableCompression: true}}, nil
}

func key(ns, name string) string { return strings.ToLower(ns + "/" + name) }

// Start loads every endpoint and brings it back to the state it was in:
// those that served are relaunched with their traffic split. Among
// replicas, only the one that holds the endpoints does; the others watch
// for the day it stops.
func (s *Service) Start() error {
	if s.self == nil {
		return s.startLocal()
	}
	if _, err := s.holder(s.ctx); err != nil {
		s.log.Warn("endpoints: holding the endpoints", "err", err)
	}
	s.wg.Add(1)
	go s.holdLoop()
	return nil
}

// startLocal restores the endpoints in this process, unless it runs them.
func (s *Service) startLocal() error {
	s.mu.Lock()
	if s.local {
		s.mu.Unlock()
		return nil
	}
	s.local = true
	s.mu.Unlock()
	rows, err := s.meta.Endpoints(s.ctx, "")
	if err != nil {
		s.mu.Lock()
		s.local = false
		s.mu.Unlock()
		return err
	}
	for _, row := range rows {
		e, err := s.load(s.ctx, row)
		if err != nil {
			s.log.Error("endpoint not restored", "endpoint", row.Namespace+"/"+row.Name, "err", err)
			continue
		}
		e.mu.Lock()
		e.restore()
		e.mu.Unlock()
	}
	s.mu.Lock()
	loop := !s.looping
	s.looping = true
	s.mu.Unlock()
	if loop {
		s.wg.Add(1)
		go s.loop()
	}
	return nil
}

// Close stops every replica (the endpoints' states stay as they are, for
// the next start) and saves the statistics.
func (s *Service) Close() {
	s.cancel()
	s.wg.Wait()
	defer s.tr.CloseIdleConnections()
	s.mu.Lock()
	list := make([]*endpoint, 0, len(s.eps))
	for _, e := range s.eps {
		list = append(list, e)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, e := range list {
		e.mu.Lock()
		e.saveStats()
		reps := e.takeAllReplicas()
		e.mu.Unlock()
		for _, r := range reps {
			wg.Add(1)
			go func() { defer wg.Done(); r.r.Stop(context.Background(), 5*time.Second) }()
		}
	}
	wg.Wait()
}

func (s *Service) loop() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	lastSave := time.Now()
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-t.C:
			save := now.Sub(lastSave) >= s.cfg.StatsEvery
			if save {
				lastSave = now
			}
			s.mu.Lock()
			list := make([]*endpoint, 0, len(s.eps))
			for _, e := range s.eps {
				list = append(list, e)
			}
			s.mu.Unlock()
			for _, e := range list {
				e.mu.Lock()
				e.tick(now)
				if save {
					e.saveStats()
				}
				e.mu.Unlock()
			}
		}
	}
}

// find returns the endpoint ns/name.
func (s *Service) find(ns, name string) (*endpoint, error) {
	s.mu.Lock()
	e := s.eps[key(ns, name)]
	s.mu.Unlock()
	if e == nil {
		return nil, haven.Errorf(haven.ENotFound, "Endpoint %s/%s not found", ns, name)
	}
	return e, nil
}

// list returns a namespace's endpoints by name.
func (s *Service) list(ns string) []*endpoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*endpoint
	for _, e := range s.eps {
		if strings.EqualFold(e.row.Namespace, ns) {
			out = append(out, e)
		}
	}
	sortEndpoints(out)
	return out
}

// load builds an endpoint's runtime from its rows and registers it.
func (s *Service) load(ctx context.Context, row *meta.Endpoint) (*endpoint, error) {
	e := &endpoint{s: s, row: *row, changed: make(chan struct{}), lastActive: time.Now()}
	if err := jsonUnmarshal(row.Config, &e.cfg); err != nil {
		return nil, err
	}
	sec, err := s.openSecrets(row.Namespace, row.Name, 0, row.Secrets)
	if err != nil {
		return nil, err
	}
	e.secrets = sec
	revs, err := s.meta.EndpointRevisions(ctx, row.ID)
	if err != nil {
		return nil, err
	}
	for _, r := range revs {
		rv := &revision{n: r.Number, commit: r.Commit, state: r.State, message: r.Message, stats: loadStats(r.Stats),
			scaler: scaler{stabilized: s.cfg.ScaleDownDelay}}
		if err := jsonUnmarshal(r.Config, &rv.spec); err != nil {
			return nil, err
		}
		if rv.secrets, err = s.openSecrets(row.Namespace, row.Name, r.Number, r.Secrets); err != nil {
			return nil, err
		}
		e.revs = append(e.revs, rv)
	}
	if e.traffic, err = s.meta.EndpointTraffic(ctx, row.ID); err != nil {
		return nil, err
	}
	if e.log, err = runlog.Append(s.logPath(row.ID)); err != nil {
		return nil, err
	}
	for _, v := range e.secrets {
		e.log.Mask(v)
	}
	s.mu.Lock()
	s.eps[key(row.Namespace, row.Name)] = e
	s.mu.Unlock()
	return e, nil
}

func (s *Service) logPath(id int64) string {
	return filepath.Join(s.cfg.Dir, "logs", strconv.FormatInt(id, 10)+".log")
}

// sealSecrets seals secret values for an endpoint (rev 0) or one of its
// revisions, bound to its name.
func (s *Service) sealSecrets(ns, name string, rev int, m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	b, _ := jsonMarshal(m)
	return s.box.Seal(sealScope(ns, name, rev), string(b))
}

func sealScope(ns, name string, rev int) string {
	return fmt.Sprintf("endpoint:%s:%d", key(ns, name), rev)
}

func (s *Service) openSecrets(ns, name string, rev int, sealed string) (map[string]string, error) {
	if sealed == "" {
		return nil, nil
	}
	plain, err := s.box.Open(sealScope(ns, name, rev), sealed)
	if err != nil {
		return nil, fmt.Errorf("endpoint secrets: %w", err)
	}
	var m map[string]string
	return m, jsonUnmarshal(plain, &m)
}

// resolve checks that the actor may read the model and pins rev (a
// branch, tag, sha, or "" for the default branch) to a commit.
func (s *Service) resolve(ctx context.Context, a *auth.Actor, repository, rev string) (*haven.Repo, string, error) {
	id, err := haven.ParseRepoID(repository)
	if err != nil {
		return nil, "", haven.Errorf(haven.EInvalid, "Invalid model repository: %q", repository)
	}
	repo, err := s.meta.RepoByName(ctx, haven.Model, id.Namespace, id.Name)
	if err == nil {
		err = auth.Can(a, auth.Read, repo)
	}
	if err != nil {
		return nil, "", haven.Errorf(haven.EInvalid, "Model %s not found or not accessible", repository)
	}
	g, err := s.cfg.Git.Open(ctx, repo.Type, repo.RepoID())
	if err != nil {
		return nil, "", err
	}
	sha, err := g.Resolve(rev)
	if err != nil {
		return nil, "", haven.Errorf(haven.EInvalid, "Revision %q of %s not found", rev, repository)
	}
	return repo, sha, nil
}

// flavorOf is the runner flavor of a compute id.
func (s *Service) flavorOf(id string) runner.Flavor {
	return closestCompute(s.computes, Compute{ID: id}).Flavor
}
