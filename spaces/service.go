// Package spaces runs the apps of Space repositories: it builds them from
// their card and files on every push through a runner.Runner, keeps the
// stage of each (BUILDING, RUNNING, SLEEPING, …) as the Hub reports it,
// proxies requests to them, puts idle ones to sleep and wakes them on the
// next visit, and serves the Spaces API (runtime, secrets, variables,
// hardware, sleep time, pause, restart, logs).
package spaces

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/gitstore"
	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/replica"
	"github.com/havenhub/haven/runner"
)

// Stages of a Space, as the Hub names them.
const (
	StageNoAppFile          = "NO_APP_FILE"
	StageConfigError        = "CONFIG_ERROR"
	StageBuilding           = "BUILDING"
	StageBuildError         = "BUILD_ERROR"
	StageAppStarting        = "APP_STARTING"
	StageRunning            = "RUNNING"
	StageRunningBuilding    = "RUNNING_BUILDING"
	StageRunningAppStarting = "RUNNING_APP_STARTING"
	StageRuntimeError       = "RUNTIME_ERROR"
	StagePaused             = "PAUSED"
	StageSleeping           = "SLEEPING"
)

// defaultSleep is how long a Space on the default hardware may stay idle
// before it sleeps (the Hub's 48 hours).
const defaultSleep = 48 * time.Hour

// Config is what the service needs.
type Config struct {
	Meta *meta.Store
	Git  *gitstore.Store
	// Open returns the bytes of an LFS object by its SHA-256.
	Open func(ctx context.Context, oid string) (io.ReadSeekCloser, int64, error)
	// Runner builds and runs the apps; nil runs static Spaces only.
	Runner runner.Runner
	// GPUs are the machine's GPUs, handed to apps on GPU flavors; nil for
	// none (GPU flavors are then not offered).
	GPUs *runner.GPUPool
	// Dir holds checkouts, logs and each Space's /data folder.
	Dir string
	// PublicURL is Haven's base URL; apps are reached under it at
	// /-/spaces/{ns}/{name}/ unless Domain is set.
	PublicURL string
	// Domain, when set, serves each app at {subdomain}.{Domain} (static
	// Spaces at {subdomain}.static.{Domain}).
	Domain string
	// Secret derives the key that seals Space secrets at rest.
	Secret []byte
	// Authenticate finds the caller of a request to an app.
	Authenticate func(*http.Request) (*auth.Actor, error)
	// SessionCookie is the name of Haven's sign-in cookie, which apps
	// never receive.
	SessionCookie string
	// Replica is this process among the replicas sharing the database:
	// one replica runs each Space's app, the others pass its requests on.
	// Nil: a replica of the service's own, with a random id.
	Replica *replica.Self
	Logger  *slog.Logger
}

// Service runs Spaces. Create it with New, then Start its loops.
type Service struct {
	cfg    Config
	log    *slog.Logger
	seal   *sealer
	access *accessSigner
	cache  *readCache
	mu     sync.Mutex
	apps   map[int64]*app // by repository id
	subs   sync.Map       // subdomain → repository id
	self   *replica.Self
	own    bool // self was made here, and is started and closed here
	held   holders
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	sl, err := newSealer(cfg.Secret)
	if err != nil {
		return nil, err
	}
	self, own := cfg.Replica, false
	if self == nil {
		self, own = replica.New(replica.Config{Meta: cfg.Meta, URL: cfg.PublicURL, Logger: cfg.Logger}), true
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{cfg: cfg, log: cfg.Logger, seal: sl, access: newAccessSigner(cfg.Secret), cache: newReadCache(), apps: map[int64]*app{},
		self: self, own: own, ctx: ctx, cancel: cancel}, nil
}

// Start brings the Spaces whose app should run, and that this replica
// holds or no live replica does, back to their recorded stage, then runs
// the loop that takes pushes from the queue, the one that puts idle apps
// to sleep and the one that takes over the Spaces of stopped replicas.
func (s *Service) Start() error {
	if s.own {
		if err := s.self.Start(); err != nil {
			return err
		}
	}
	states, err := s.cfg.Meta.SpaceStates(s.ctx)
	if err != nil {
		return err
	}
	for _, st := range states {
		if !slices.Contains(runningStages, st.Stage) {
			continue // read when first needed
		}
		repo, err := s.cfg.Meta.RepoByID(s.ctx, st.RepoID)
		if err != nil {
			continue
		}
		if repo.SDK != SDKStatic {
			// Holding it restores it here, unless another replica runs it.
			s.holder(s.ctx, repo)
			continue
		}
		a := s.appFor(repo)
		a.restore(st)
	}
	s.wg.Add(3)
	go s.queueLoop()
	go s.sleepLoop()
	go s.holdLoop()
	return nil
}

// Close stops every running app and the loops.
func (s *Service) Close() error {
	s.cancel()
	s.wg.Wait()
	s.mu.Lock()
	apps := make([]*app, 0, len(s.apps))
	for _, a := range s.apps {
		apps = append(apps, a)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, a := range apps {
		wg.Add(1)
		go func() { defer wg.Done(); a.shutdown() }()
	}
	wg.Wait()
	if s.own {
		s.self.Close()
	}
	return nil
}

// appFor returns the live record of a Space, creating it on first use from
// its recorded state.
func (s *Service) appFor(repo *haven.Repo) *app {
	a, _ := s.appOf(repo)
	return a
}

// appOf is appFor, and reports whether it created the record.
func (s *Service) appOf(repo *haven.Repo) (*app, bool) {
	var st *meta.SpaceState
	if s.lookupApp(repo.ID) == nil {
		st, _ = s.cfg.Meta.SpaceStateOf(s.ctx, repo.ID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.apps[repo.ID]
	if !ok {
		a = newApp(s, repo)
		if st != nil {
			a.st = *st
		}
		s.apps[repo.ID] = a
	}
	a.setRepo(repo)
	s.subs.Store(subdomain(repo), repo.ID)
	return a, !ok
}

// lookupApp returns the live record of a Space that has one.
func (s *Service) lookupApp(repoID int64) *app {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apps[repoID]
}

// queueLoop takes space.updated jobs: each push to a Space's default branch
// deploys the new revision. The job is done once the deploy is recorded
// (stage BUILDING at the new sha): a restart of Haven resumes it from there.
func (s *Service) queueLoop() {
	defer s.wg.Done()
	worker := fmt.Sprintf("spaces-%d", os.Getpid())
	for {
		job, err := s.cfg.Meta.Lease(s.ctx, []string{api.JobSpaceUpdated}, worker, time.Minute)
		if err != nil && s.ctx.Err() == nil {
			s.log.Warn("spaces: lease", "err", err)
		}
		if job == nil {
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(500 * time.Millisecond):
			}
			continue
		}
		var p struct {
			RepoID int64  `json:"repo_id"`
			SHA    string `json:"sha"`
		}
		err = json.Unmarshal(job.Payload, &p)
		if err == nil {
			err = s.pushed(s.ctx, p.RepoID, p.SHA)
		}
		if errors.Is(err, errHeldElsewhere) {
			// Left for the replica that runs the app, which leases it in
			// turn.
			s.cfg.Meta.Fail(s.ctx, job.ID, err.Error(), time.Now().Add(500*time.Millisecond), 0)
			continue
		}
		if err != nil && !haven.IsCode(err, haven.ERepoNotFound) {
			s.cfg.Meta.Fail(s.ctx, job.ID, err.Error(), time.Now().Add(10*time.Second), 3)
			continue
		}
		s.cfg.Meta.Complete(s.ctx, job.ID)
	}
}

// pushed deploys a new revision of a Space unless it is paused.
func (s *Service) pushed(ctx context.Context, repoID int64, sha string) error {
	repo, err := s.cfg.Meta.RepoByID(ctx, repoID)
	if err != nil {
		return err
	}
	s.cache.forget(repo)
	if head, err := s.head(ctx, repo); err == nil && head != sha {
		// A later push moved the branch and has its own entry: deploying
		// this one after it would go back in time (two replicas may take
		// two pushes in either order).
		return nil
	}
	if repo.SDK != SDKStatic {
		peer, err := s.holder(ctx, repo)
		if err != nil {
			return err
		}
		if peer != nil {
			return errHeldElsewhere
		}
	}
	a := s.appFor(repo)
	a.push(sha)
	return nil
}

// sleepLoop stops apps that have had no request for longer than their
// sleep time.
func (s *Service) sleepLoop() {
	defer s.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		apps := make([]*app, 0, len(s.apps))
		for _, a := range s.apps {
			apps = append(apps, a)
		}
		s.mu.Unlock()
		for _, a := range apps {
			a.maybeSleep(time.Now())
		}
	}
}

// subdomain is the Hub's host label of a Space: "{owner}-{name}" lower-cased
// with "_" and "." turned into "-". Labels over 63 characters keep their
// first 54 and a short hash of the whole id.
func subdomain(repo *haven.Repo) string {
	s := strings.ToLower(repo.Namespace + "-" + repo.Name)
	s = strings.NewReplacer("_", "-", ".", "-").Replace(s)
	if len(s) > 63 {
		s = s[:54] + "-" + shortHash(s)
	}
	return s
}

// PathPrefix is where an app is served below the public URL when no Spaces
// domain is set. "-" cannot start a user name, so it never hides a repository.
func PathPrefix(repo *haven.Repo) string {
	return "/-/spaces/" + repo.Namespace + "/" + repo.Name
}

// Host is the URL of a Space's app, as space_info reports it in "host".
func (s *Service) Host(repo *haven.Repo) string {
	if s.cfg.Domain != "" {
		scheme := "http"
		if strings.HasPrefix(s.cfg.PublicURL, "https:") {
			scheme = "https"
		}
		if repo.SDK == SDKStatic {
			return scheme + "://" + subdomain(repo) + ".static." + s.cfg.Domain
		}
		return scheme + "://" + subdomain(repo) + "." + s.cfg.Domain
	}
	// The trailing slash matters under a path: clients resolve the app's
	// routes against the host as a base URL (urljoin), as gradio_client does.
	return strings.TrimRight(s.cfg.PublicURL, "/") + PathPrefix(repo) + "/"
}

// Describe gives the Space fields of repo info: host, subdomain and runtime.
func (s *Service) Describe(ctx context.Context, repo *haven.Repo) map[string]any {
	rt, err := s.runtime(ctx, repo)
	if err != nil {
		rt = map[string]any{"stage": StageConfigError, "hardware": map[string]any{"current": nil, "requested": nil}}
	}
	return map[string]any{"host": s.Host(repo), "subdomain": subdomain(repo), "runtime": rt}
}

// msgNoRunner is the CONFIG_ERROR of an app Space on a Haven with no runner.
const msgNoRunner = "Spaces that run code need a runner: none is configured"
