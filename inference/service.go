package inference

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/gitstore"
	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/runner"
)

// Starter starts engine replicas: *Launcher in Haven, a fake in tests.
type Starter interface {
	Launch(ctx context.Context, spec Spec, log io.Writer) (*Replica, error)
}

var _ Starter = (*Launcher)(nil)

// Defaults of Config.
const (
	DefaultIdle        = 15 * time.Minute
	DefaultHold        = 10 * time.Minute
	DefaultMaxInFlight = 32
	DefaultRetryFailed = 30 * time.Second
	DefaultQueueWait   = 30 * time.Second
)

// Config is what a Service needs.
type Config struct {
	Meta     *meta.Store
	Git      *gitstore.Store
	Launcher Starter
	// PublicURL is the hub's base URL (the gated-access messages name the
	// model's page).
	PublicURL string
	// Flavor is the hardware of serverless replicas (default cpu-basic).
	Flavor runner.Flavor
	// Idle unloads a model's replica after this long without requests
	// (default 15 minutes).
	Idle time.Duration
	// Hold bounds how long a request waits for its model to load before it
	// is answered 503 (default 10 minutes).
	Hold time.Duration
	// MaxInFlight caps the requests one model takes at once, held ones
	// included (default 32). Past it requests wait in line for a place,
	// MaxQueued of them at most (default 8 × MaxInFlight; negative: none)
	// and QueueWait each (default 30 s); past those the answer is 429.
	MaxInFlight int
	MaxQueued   int
	QueueWait   time.Duration
	// KeepAlive is how often a streaming request held while its model
	// loads or waits in line is sent an SSE comment (default 10 s).
	KeepAlive time.Duration
	// RetryFailed is how long a model that failed to load answers that
	// failure before a request tries again (default 30 seconds).
	RetryFailed time.Duration
	// LogDir keeps each model's engine output ({repo id}.log); "" drops it.
	LogDir string
	Logger *slog.Logger
}

// Service serves hub models without setup: the first request for a model
// starts a replica of its engine at the default branch's commit, later ones
// share it, and an idle one is unloaded.
type Service struct {
	cfg    Config
	log    *slog.Logger
	ctx    context.Context // canceled by Close: loads in progress end
	cancel context.CancelFunc
	wg     sync.WaitGroup // stops and loads in progress
	done   chan struct{}  // closes the janitor

	tr      *http.Transport
	checked sync.Map // "{repo id}/{sha}" → nil or why the engine cannot load it

	mu    sync.Mutex
	slots map[int64]*slot // by repository id
	seq   int
}

// slot is one model's state.
type slot struct {
	repo     *haven.Repo     // the row last seen
	inflight int             // requests taken (held or proxied)
	line     []chan struct{} // requests waiting for a place under the cap, in their order
	cur      *instance       // the replica serving new requests, or nil
	loadTime time.Duration
}

// instance is a replica of a model at one commit, from its launch to its
// stop.
type instance struct {
	sha      string
	ready    chan struct{} // closed when the launch ended (rep or err set)
	rep      *Replica
	err      error
	started  time.Time
	failedAt time.Time
	users    int // requests held for or proxied to it
	lastUsed time.Time
	retired  bool // replaced by a newer commit: stopped once unused
	stopping bool
}

// New returns a Service. Call Close to stop its replicas.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Idle <= 0 {
		cfg.Idle = DefaultIdle
	}
	if cfg.Hold <= 0 {
		cfg.Hold = DefaultHold
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.MaxQueued == 0 {
		cfg.MaxQueued = 8 * cfg.MaxInFlight
	}
	if cfg.QueueWait <= 0 {
		cfg.QueueWait = DefaultQueueWait
	}
	if cfg.RetryFailed <= 0 {
		cfg.RetryFailed = DefaultRetryFailed
	}
	if cfg.Flavor.Name == "" {
		cfg.Flavor, _ = runner.SpaceFlavors(nil).Lookup(runner.DefaultFlavor)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{cfg: cfg, log: cfg.Logger, ctx: ctx, cancel: cancel, done: make(chan struct{}), slots: map[int64]*slot{}, tr: newTransport()}
	s.wg.Add(1)
	go s.janitor()
	return s
}

// Close stops every replica and waits for them.
func (s *Service) Close() error {
	s.cancel()
	close(s.done)
	s.mu.Lock()
	for _, sl := range s.slots {
		if in := sl.cur; in != nil {
			sl.cur = nil
			in.retired = true
			if in.rep != nil {
				s.stop(in, "shutting down")
			}
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.tr.CloseIdleConnections()
	return nil
}

// Warm reports whether a replica of the model is loaded and serving.
func (s *Service) Warm(repoID int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	sl := s.slots[repoID]
	return sl != nil && sl.cur != nil && sl.cur.live()
}

// warmRepos returns the rows of the models with a replica serving.
func (s *Service) warmRepos() []*haven.Repo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*haven.Repo
	for _, sl := range s.slots {
		if sl.cur != nil && sl.cur.live() {
			out = append(out, sl.repo)
		}
	}
	return out
}

// live reports whether the instance has a running replica (mu held).
func (in *instance) live() bool {
	if in.rep == nil || in.stopping {
		return false
	}
	select {
	case <-in.rep.Done():
		return false
	default:
		return true
	}
}

func (in *instance) loaded() bool {
	select {
	case <-in.ready:
		return true
	default:
		return false
	}
}

// Error is an answer of the inference routes that is not the Hub's error
// shape: {"error", "error_type"} (what the inference clients parse), with
// Retry-After and, while a model loads, "estimated_time".
type Error struct {
	Status     int
	Type       string // "overloaded", "validation", … ("" for none)
	Message    string
	RetryAfter int     // seconds; 0 for no header
	Estimated  float64 // seconds until loaded; 0 for no key
}

func (e *Error) Error() string { return e.Message }

// waitPlace takes a place for one more request, with s.mu held (and
// released while waiting): at once below the cap when nobody waits, else in
// line, first come first served, for a bounded time; a full line or a wait
// that runs out is 429. A place that frees up is handed to the head of the
// line (see free). The caller gives the place back with free.
func (s *Service) waitPlace(ctx context.Context, sl *slot, repo *haven.Repo) error {
	if sl.inflight < s.cfg.MaxInFlight && len(sl.line) == 0 {
		sl.inflight++
		return nil
	}
	overloaded := func() error {
		return &Error{Status: http.StatusTooManyRequests, Type: "overloaded", RetryAfter: 1,
			Message: fmt.Sprintf("Model %s is overloaded: %d requests are in flight and %d waiting, try again later", repo.FullName(), sl.inflight, len(sl.line))}
	}
	if len(sl.line) >= s.cfg.MaxQueued {
		return overloaded()
	}
	w := make(chan struct{}, 1)
	sl.line = append(sl.line, w)
	t := time.NewTimer(s.cfg.QueueWait)
	defer t.Stop()
	s.mu.Unlock()
	var err error
	select {
	case <-w:
	case <-t.C:
		err = overloaded()
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.mu.Lock()
	if err == nil {
		return nil
	}
	if i := slices.Index(sl.line, w); i >= 0 {
		sl.line = slices.Delete(sl.line, i, i+1)
		return err
	}
	// Handed a place as the wait ended: pass it on.
	s.free(sl)
	return err
}

// free gives a request's place back (mu held): to the head of the line,
// else to the model's count.
func (s *Service) free(sl *slot) {
	if len(sl.line) > 0 {
		w := sl.line[0]
		sl.line = sl.line[1:]
		w <- struct{}{}
		return
	}
	sl.inflight--
}

// acquire gets a replica of repo at sha serving task: the running one, or
// one launched for this request and those arriving meanwhile (one launch per
// model and commit), waiting up to hold for it. launch false only takes a
// loaded replica. release must be called once the replica is no longer
// used.
func (s *Service) acquire(ctx context.Context, repo *haven.Repo, sha, task string, hold time.Duration, launch bool) (*Replica, func(), error) {
	s.mu.Lock()
	sl := s.slots[repo.ID]
	if sl == nil {
		sl = &slot{}
		s.slots[repo.ID] = sl
	}
	sl.repo = repo
	if err := s.waitPlace(ctx, sl, repo); err != nil {
		s.mu.Unlock()
		return nil, nil, err
	}
	in := sl.cur
	if in != nil && in.sha != sha {
		// A new commit on the default branch: new requests go to a replica
		// of it; the old one finishes what it has and stops.
		s.log.Info("inference: new commit, replacing the model's replica", "model", repo.FullName(), "old", in.sha, "new", sha)
		sl.cur = nil
		s.retire(in)
		in = nil
	}
	if in != nil && in.loaded() {
		switch {
		case in.err != nil && time.Since(in.failedAt) < s.cfg.RetryFailed:
			err := in.err
			s.free(sl)
			s.mu.Unlock()
			return nil, nil, err
		case in.err != nil:
			sl.cur, in = nil, nil
		case !in.live():
			// It crashed (its watcher logs why): start it again.
			sl.cur, in = nil, nil
		}
	}
	if in == nil {
		if !launch {
			s.free(sl)
			err := s.loadingError(repo, sl, nil)
			s.mu.Unlock()
			return nil, nil, err
		}
		in = &instance{sha: sha, ready: make(chan struct{}), started: time.Now()}
		sl.cur = in
		s.seq++
		s.wg.Add(1)
		go s.launch(sl, repo, in, task, s.seq)
	}
	in.users++
	s.mu.Unlock()

	var once sync.Once
	release := func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.free(sl)
			in.users--
			in.lastUsed = time.Now()
			if in.retired && in.users == 0 && in.loaded() && in.err == nil {
				s.stop(in, "replaced by a newer commit")
			}
		})
	}
	if !in.loaded() {
		if !launch || hold <= 0 {
			release()
			s.mu.Lock()
			defer s.mu.Unlock()
			return nil, nil, s.loadingError(repo, sl, in)
		}
		t := time.NewTimer(hold)
		defer t.Stop()
		select {
		case <-in.ready:
		case <-t.C:
			release()
			s.mu.Lock()
			defer s.mu.Unlock()
			return nil, nil, s.loadingError(repo, sl, in)
		case <-ctx.Done():
			release()
			return nil, nil, ctx.Err()
		}
	}
	if in.err != nil {
		release()
		return nil, nil, in.err
	}
	return in.rep, release, nil
}

// loadingError is the 503 of a model still loading (mu held); in is its
// load in progress, or nil.
func (s *Service) loadingError(repo *haven.Repo, sl *slot, in *instance) *Error {
	total := sl.loadTime
	if total <= 0 {
		total = 30 * time.Second
	}
	left := total
	if in != nil {
		left -= time.Since(in.started)
	}
	left = max(left, time.Second)
	est := math.Round(left.Seconds()*10) / 10
	return &Error{Status: http.StatusServiceUnavailable, Message: "Model " + repo.FullName() + " is currently loading",
		Estimated: est, RetryAfter: int(math.Ceil(est))}
}

// launch starts a replica of repo at in.sha and tells the requests held for
// it.
func (s *Service) launch(sl *slot, repo *haven.Repo, in *instance, task string, seq int) {
	defer s.wg.Done()
	short := in.sha
	if len(short) > 12 {
		short = short[:12]
	}
	spec := Spec{
		ID:     fmt.Sprintf("infer-%d-%s-%d", repo.ID, short, seq),
		Repo:   repo,
		SHA:    in.sha,
		Task:   task,
		Name:   repo.FullName(),
		Flavor: s.cfg.Flavor,
		Ready:  s.cfg.Hold,
		// The engine takes as many requests as Haven lets through to it:
		// a lower limit there would refuse what Haven already accepted.
		MaxConcurrency: s.cfg.MaxInFlight,
	}
	logw := s.openLog(repo)
	s.log.Info("inference: loading a model", "model", repo.FullName(), "sha", in.sha, "task", task)
	var out io.Writer = io.Discard
	if logw != nil {
		out = logw
	}
	rep, err := s.cfg.Launcher.Launch(s.ctx, spec, out)
	took := time.Since(in.started)

	s.mu.Lock()
	defer s.mu.Unlock()
	in.rep = rep
	if err != nil {
		in.err = loadError(repo, err)
		in.failedAt = time.Now()
		s.log.Warn("inference: the model failed to load", "model", repo.FullName(), "sha", in.sha, "err", err)
		if logw != nil {
			logw.Close()
		}
	} else {
		sl.loadTime = took
		in.lastUsed = time.Now()
		s.log.Info("inference: model loaded", "model", repo.FullName(), "sha", in.sha, "took", took.Round(time.Millisecond))
		s.wg.Add(1)
		go s.watch(sl, repo, in, logw)
		if in.retired && in.users == 0 {
			s.stop(in, "replaced by a newer commit")
		}
	}
	close(in.ready)
}

// loadError turns a launch failure into the answer of the requests that
// waited for it.
func loadError(repo *haven.Repo, err error) error {
	var re *runner.Error
	switch {
	case errors.As(err, &re):
		return &Error{Status: http.StatusInternalServerError, Type: "load", Message: "Model " + repo.FullName() + " failed to load: " + re.Message}
	case errors.Is(err, context.Canceled):
		return &Error{Status: http.StatusServiceUnavailable, Message: "The server is shutting down", RetryAfter: 5}
	case haven.ErrorCode(err) != haven.EInternal:
		return err
	}
	return &Error{Status: http.StatusInternalServerError, Type: "load", Message: "Model " + repo.FullName() + " failed to load (the server log says why)"}
}

// watch waits for a replica to end; one that ends without being stopped
// crashed, and the next request starts another.
func (s *Service) watch(sl *slot, repo *haven.Repo, in *instance, logw io.Closer) {
	defer s.wg.Done()
	<-in.rep.Done()
	s.mu.Lock()
	crashed := !in.stopping
	if crashed {
		in.stopping = true
	}
	if sl.cur == in {
		sl.cur = nil
	}
	s.mu.Unlock()
	if crashed {
		s.log.Warn("inference: the model's engine exited; the next request starts it again",
			"model", repo.FullName(), "sha", in.sha, "reason", in.rep.Exit().Reason)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		in.rep.Stop(ctx, 0) // gives its GPUs back
		cancel()
	}
	if logw != nil {
		logw.Close()
	}
}

// retire marks an instance replaced (mu held); it stops once unused.
func (s *Service) retire(in *instance) {
	in.retired = true
	if in.users == 0 && in.loaded() && in.err == nil {
		s.stop(in, "replaced by a newer commit")
	}
}

// stop ends a loaded replica in the background (mu held).
func (s *Service) stop(in *instance, why string) {
	if in.stopping || in.rep == nil {
		return
	}
	in.stopping = true
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := in.rep.Stop(ctx, 5*time.Second); err != nil {
			s.log.Warn("inference: stopping a replica", "model", in.rep.Spec.Name, "err", err)
		}
		s.log.Info("inference: model unloaded", "model", in.rep.Spec.Name, "sha", in.sha, "why", why)
	}()
}

// janitor unloads the replicas idle for longer than Config.Idle.
func (s *Service) janitor() {
	defer s.wg.Done()
	every := min(max(s.cfg.Idle/4, 10*time.Millisecond), 30*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		s.mu.Lock()
		for _, sl := range s.slots {
			in := sl.cur
			if in == nil || !in.loaded() || in.users > 0 {
				continue
			}
			if in.err != nil {
				if time.Since(in.failedAt) >= s.cfg.RetryFailed {
					sl.cur = nil
				}
				continue
			}
			if time.Since(in.lastUsed) >= s.cfg.Idle {
				sl.cur = nil
				s.stop(in, "idle for "+s.cfg.Idle.String())
			}
		}
		s.mu.Unlock()
	}
}

// openLog opens the file that keeps a model's engine output, or returns nil.
func (s *Service) openLog(repo *haven.Repo) io.WriteCloser {
	if s.cfg.LogDir == "" {
		return nil
	}
	if err := os.MkdirAll(s.cfg.LogDir, 0o755); err != nil {
		s.log.Warn("inference: log folder", "err", err)
		return nil
	}
	f, err := os.OpenFile(filepath.Join(s.cfg.LogDir, strconv.FormatInt(repo.ID, 10)+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.log.Warn("inference: log file", "err", err)
		return nil
	}
	return f
}
