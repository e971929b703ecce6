// Package jobs runs commands on the hub's compute in a namespace's name, as
// the Hub's Jobs API does: it queues submitted jobs on the durable queue,
// runs them through a runner.Runner within a concurrency limit, keeps their
// logs and stages, starts scheduled jobs on their cron ticks, and serves
// /api/jobs and /api/scheduled-jobs.
package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/internal/seal"
	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/replica"
	"github.com/havenhub/haven/runner"
	"github.com/havenhub/haven/runner/runlog"
)

// queueKind is the kind of the queue's entries that start jobs.
const queueKind = "job.run"

// Buckets is what jobs need of bucket storage: a bucket folder copied into
// a job before it runs, and the job's changes copied back after.
type Buckets interface {
	Materialize(ctx context.Context, a *auth.Actor, bucketID, prefix, dst string) error
	SyncBack(ctx context.Context, a *auth.Actor, bucketID, prefix, src string) error
}

// Config is what the service needs.
type Config struct {
	Meta *meta.Store
	// Runner runs the jobs; nil refuses them.
	Runner runner.Runner
	GPUs   *runner.GPUPool
	// Dir holds job logs, the folders of running jobs and each owner's
	// package cache.
	Dir string
	// PublicURL is the hub's address, given to jobs as HF_ENDPOINT.
	PublicURL string
	// Secret derives the key that seals job secrets at rest.
	Secret []byte
	// Buckets serves bucket volumes; nil refuses them.
	Buckets Buckets
	// SpaceRecipe gives the environment and files of a Space the actor may
	// read, for jobs that run in it (spaceId); nil refuses those.
	SpaceRecipe func(ctx context.Context, a *auth.Actor, spaceID string) (runner.Recipe, string, error)
	// Concurrency is how many jobs run at once (default: one per CPU).
	Concurrency int
	// Replica is this process among the replicas sharing the database:
	// jobs record it as where they run. Nil: a replica of the service's
	// own, with a random id (jobs left running by a previous process are
	// then settled only once their heartbeat expired).
	Replica *replica.Self
	// Logs keeps a copy of each finished job's log where every replica
	// reads it (the blob store), so that the log outlives the replica that
	// ran the job; nil keeps logs only in Dir.
	Logs blob.Driver
	// TokensChanged is called when a job's token is deleted, so that
	// caches of identities drop it.
	TokensChanged func()
	Logger        *slog.Logger
}

// Service runs jobs. Create it with New, then Start its loops.
type Service struct {
	cfg     Config
	log     *slog.Logger
	self    *replica.Self
	ownSelf bool // self was made here, and is started and closed here
	box     *seal.Box
	wake    chan struct{} // a job was submitted
	slots   chan struct{}

	mu      sync.Mutex
	runs    map[string]*run // jobs running here, by id
	changed chan struct{}   // closed and replaced when any job changes stage

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// run is a job running in this process.
type run struct {
	log      *runlog.File
	cancel   context.CancelFunc // ends its build or start
	h        runner.Handle      // nil until started
	canceled bool
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = runtime.NumCPU()
	}
	for _, d := range []string{"logs", "work", "cache"} {
		if err := os.MkdirAll(filepath.Join(cfg.Dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	box, err := seal.New(cfg.Secret, "haven job secrets v1")
	if err != nil {
		return nil, err
	}
	self, own := cfg.Replica, false
	if self == nil {
		self, own = replica.New(replica.Config{Meta: cfg.Meta, URL: cfg.PublicURL, Logger: cfg.Logger}), true
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{cfg: cfg, log: cfg.Logger, self: self, ownSelf: own, box: box, wake: make(chan struct{}, 1), slots: make(chan struct{}, cfg.Concurrency),
		runs: map[string]*run{}, changed: make(chan struct{}), ctx: ctx, cancel: cancel}, nil
}

// Start settles the jobs that this replica left running in its previous
// life, and those of replicas whose heartbeat expired — resumable ones are
// queued again, others end as interrupted — then runs the loop that starts
// queued jobs, the one that fires schedules and the one that watches the
// jobs running here and the other replicas.
func (s *Service) Start() error {
	if s.ownSelf {
		if err := s.self.Start(); err != nil {
			return err
		}
	}
	if err := s.settle(s.self.ID()); err != nil {
		return err
	}
	s.wg.Add(3)
	go s.workLoop()
	go s.scheduleLoop()
	go s.watchLoop()
	return nil
}

// settle ends or queues again the RUNNING jobs whose replica is dead, and
// those of replica self (its previous life) unless self is "".
func (s *Service) settle(self string) error {
	left, err := s.cfg.Meta.StrandedJobRuns(s.ctx, self, s.self.LiveSince())
	if err != nil {
		return err
	}
	for _, j := range left {
		mine := j.Replica == s.self.ID()
		if mine && self == "" {
			continue // its heartbeat lapsed, yet it runs: not for it to end
		}
		if j.Replica == "" {
			// Recorded before jobs named their replica: its log is here
			// if it ran here.
			_, err := os.Stat(s.logPath(j.ID))
			mine = err == nil
		}
		if j.Spec.Resumable {
			if ok, err := s.cfg.Meta.SettleJobRun(s.ctx, j.ID, j.Replica, haven.JobScheduling, ""); err != nil || !ok {
				continue
			}
			if mine {
				s.notice(j.ID, "===== Haven restarted: the job is queued again and resumes from its last checkpoint =====")
			}
			s.enqueue(s.ctx, j.ID, time.Time{})
		} else {
			msg := "Interrupted: Haven stopped while the job ran"
			if j.Replica != "" && !mine {
				msg = fmt.Sprintf("Interrupted: the replica %s that ran the job stopped", j.Replica)
			}
			if ok, err := s.cfg.Meta.SettleJobRun(s.ctx, j.ID, j.Replica, haven.JobError, msg); err != nil || !ok {
				continue
			}
			if mine {
				s.notice(j.ID, "===== Haven stopped while this job ran =====")
			}
		}
		s.broadcast()
	}
	return nil
}

// notice appends a line to the log of a job that ran here.
func (s *Service) notice(id, line string) {
	l := s.appendLog(id)
	fmt.Fprintln(l, line)
	l.Close()
}

// TokensChanged sets what is called when a job's token is deleted (the
// API's cache of identities is made after the service).
func (s *Service) TokensChanged(fn func()) { s.cfg.TokensChanged = fn }

// Close stops the loops and the jobs running here. Their records stay
// RUNNING, for the next Start to settle.
func (s *Service) Close() error {
	s.cancel()
	s.mu.Lock()
	var hs []runner.Handle
	for _, r := range s.runs {
		r.cancel()
		if r.h != nil {
			hs = append(hs, r.h)
		}
	}
	s.mu.Unlock()
	for _, h := range hs {
		h.Stop(context.Background(), 5*time.Second)
	}
	s.wg.Wait()
	if s.ownSelf {
		s.self.Close()
	}
	return nil
}

// appendLog opens a job's log to add lines after it (a restart notice).
func (s *Service) appendLog(id string) io.WriteCloser {
	f, err := os.OpenFile(s.logPath(id), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nopCloser{io.Discard}
	}
	return &lineAppender{f: f}
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// lineAppender appends whole lines to a finished log in its file format.
type lineAppender struct{ f *os.File }

func (a *lineAppender) Write(p []byte) (int, error) {
	b, _ := json.Marshal(runlog.Line{Time: time.Now().UTC(), Text: string(trimNewline(p))})
	_, err := a.f.Write(append(b, '\n'))
	return len(p), err
}

func (a *lineAppender) Close() error { return a.f.Close() }

func trimNewline(p []byte) []byte {
	for len(p) > 0 && (p[len(p)-1] == '\n' || p[len(p)-1] == '\r') {
		p = p[:len(p)-1]
	}
	return p
}

func (s *Service) logPath(id string) string { return filepath.Join(s.cfg.Dir, "logs", id+".log") }

// broadcast wakes everyone waiting for a job to change stage.
func (s *Service) broadcast() {
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// Changed returns a channel closed at the next change of any job's stage.
func (s *Service) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// enqueue puts a job on the durable queue, due at at (zero: now).
func (s *Service) enqueue(ctx context.Context, id string, at time.Time) error {
	payload, _ := json.Marshal(map[string]string{"id": id})
	if _, err := s.cfg.Meta.Enqueue(ctx, queueKind, payload, at); err != nil {
		return err
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// Submit records a job of spec in namespace ns, submitted by initiator, and
// queues it. The spec must have been checked (parse); secrets are sealed.
func (s *Service) Submit(ctx context.Context, ns, initiator *haven.User, initiatorType, scheduleID string, spec haven.JobSpec, secrets map[string]string) (*haven.Job, error) {
	if s.cfg.Runner == nil {
		return nil, haven.Errorf(haven.EInvalid, "This hub runs no jobs: start Haven with a runner (--runner process or oci)")
	}
	j := &haven.Job{ID: newID(), OwnerID: ns.ID, InitiatorID: initiator.ID, InitiatorType: initiatorType, ScheduleID: scheduleID, Spec: spec}
	sealed, err := s.sealSecrets("job "+j.ID, secrets)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Meta.CreateJobRun(ctx, j, sealed); err != nil {
		return nil, err
	}
	if err := s.enqueue(ctx, j.ID, time.Time{}); err != nil {
		return nil, err
	}
	s.broadcast()
	return j, nil
}

// Get returns a job.
func (s *Service) Get(ctx context.Context, id string) (*haven.Job, error) {
	return s.cfg.Meta.JobRun(ctx, id)
}

// Cancel ends a job: one still queued never starts, a running one is
// stopped with its whole process tree. A job running on another replica is
// flagged in the database, and that replica stops it (watchLoop); Cancel
// waits a little for it to end, so that the answer shows it ended.
func (s *Service) Cancel(ctx context.Context, id string) error {
	ok, err := s.cfg.Meta.MoveJobRun(ctx, id, []string{haven.JobScheduling}, haven.JobCanceled, "Canceled before it started")
	if err != nil {
		return err
	}
	if ok {
		s.broadcast()
		return nil
	}
	if s.stopLocal(id) {
		return nil
	}
	j, err := s.cfg.Meta.JobRun(ctx, id)
	if err != nil || j.Stage != haven.JobRunning {
		return err
	}
	if j.Replica != s.self.ID() {
		p, err := s.self.Peer(ctx, j.Replica)
		if err != nil {
			return err
		}
		if p == nil {
			// Its replica is dead: nothing runs it any more.
			if _, err := s.cfg.Meta.SettleJobRun(ctx, id, j.Replica, haven.JobCanceled, "Canceled"); err != nil {
				return err
			}
			s.broadcast()
			return nil
		}
	}
	if _, err := s.cfg.Meta.RequestJobCancel(ctx, id); err != nil {
		return err
	}
	wait, cancel := context.WithTimeout(ctx, cancelWait)
	defer cancel()
	for {
		select {
		case <-wait.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
		if cur, err := s.cfg.Meta.JobRun(ctx, id); err != nil || haven.JobTerminal(cur.Stage) {
			return nil
		}
	}
}

// cancelWait bounds how long Cancel waits for another replica to stop a job.
const cancelWait = 10 * time.Second

// stopLocal stops a job running in this process, and reports whether it
// runs here.
func (s *Service) stopLocal(id string) bool {
	s.mu.Lock()
	r := s.runs[id]
	var h runner.Handle
	if r != nil {
		r.canceled = true
		r.cancel()
		h = r.h
	}
	s.mu.Unlock()
	if h != nil {
		h.Stop(context.Background(), 5*time.Second)
	}
	return r != nil
}

// Log returns the log of a job that has started (nil before).
func (s *Service) Log(id string) *runlog.File {
	s.mu.Lock()
	r := s.runs[id]
	s.mu.Unlock()
	if r != nil {
		return r.log
	}
	l, err := runlog.Open(s.logPath(id))
	if err != nil {
		return nil
	}
	return l
}

// newID is a job or scheduled job id: 24 hex digits, as the Hub's.
func newID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// sealSecrets seals secret values as one JSON object bound to scope.
func (s *Service) sealSecrets(scope string, secrets map[string]string) (string, error) {
	if len(secrets) == 0 {
		return "", nil
	}
	b, err := json.Marshal(secrets)
	if err != nil {
		return "", err
	}
	return s.box.Seal(scope, string(b)), nil
}

func (s *Service) openSecrets(scope, sealed string) (map[string]string, error) {
	out := map[string]string{}
	if sealed == "" {
		return out, nil
	}
	plain, err := s.box.Open(scope, sealed)
	if err != nil {
		return nil, err
	}
	return out, json.Unmarshal([]byte(plain), &out)
}
