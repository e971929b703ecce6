package jobs

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/internal/storetest"
	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/replica"
	"github.com/havenhub/haven/runner"
)

// holdRunner starts workloads that run until they are stopped or the test
// ends them with finish.
type holdRunner struct {
	mu      sync.Mutex
	handles map[string]*holdHandle // by workload id
	started chan string
}

func newHoldRunner() *holdRunner {
	return &holdRunner{handles: map[string]*holdHandle{}, started: make(chan string, 16)}
}

type holdBuild struct{}

func (holdBuild) Key() string  { return "fake" }
func (holdBuild) Reused() bool { return true }

func (f *holdRunner) Name() string { return "fake" }

func (f *holdRunner) Build(context.Context, *runner.Workload, bool, io.Writer) (runner.Build, error) {
	return holdBuild{}, nil
}

func (f *holdRunner) Start(_ context.Context, w *runner.Workload, _ runner.Build, out io.Writer) (runner.Handle, error) {
	h := &holdHandle{done: make(chan struct{})}
	io.WriteString(out, "hello from "+w.ID+"\n")
	f.mu.Lock()
	f.handles[w.ID] = h
	f.mu.Unlock()
	f.started <- w.ID
	return h, nil
}

func (f *holdRunner) handle(id string) *holdHandle {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.handles["job-"+id]
}

type holdHandle struct {
	once sync.Once
	done chan struct{}
	exit runner.Exit
}

func (h *holdHandle) end(e runner.Exit) {
	h.once.Do(func() { h.exit = e; close(h.done) })
}

func (h *holdHandle) Addr() string                                    { return "" }
func (h *holdHandle) Done() <-chan struct{}                           { return h.done }
func (h *holdHandle) Exit() runner.Exit                               { <-h.done; return h.exit }
func (h *holdHandle) Metrics(context.Context) (runner.Metrics, error) { return runner.Metrics{}, nil }
func (h *holdHandle) Stop(context.Context, time.Duration) error {
	h.end(runner.Exit{Code: -1, Signal: "terminated", Stopped: true, Reason: "Stopped"})
	return nil
}
func (h *holdHandle) Exec(context.Context, []string, io.Reader, io.Writer, io.Writer) (int, error) {
	return 0, nil
}

// replicaOf is a jobs service as one replica named id, on store m with a
// data folder of its own; its heartbeat is renewed every 100ms and expires
// after 2s.
func replicaOf(t *testing.T, m *meta.Store, id string, run runner.Runner) *Service {
	t.Helper()
	return replicaWithLogs(t, m, id, run, nil)
}

// replicaWithLogs is replicaOf keeping finished logs in logs.
func replicaWithLogs(t *testing.T, m *meta.Store, id string, run runner.Runner, logs blob.Driver) *Service {
	t.Helper()
	return replicaWithConfig(t, m, id, Config{Runner: run, Logs: logs})
}

// replicaWithConfig is replicaOf with cfg's runner and hooks; it fills in
// the store, replica, data folder, URL, secret and concurrency (2).
func replicaWithConfig(t *testing.T, m *meta.Store, id string, cfg Config) *Service {
	t.Helper()
	self := replica.New(replica.Config{Meta: m, ID: id, URL: "http://" + id, Beat: 100 * time.Millisecond, Expiry: 2 * time.Second})
	if err := self.Start(); err != nil {
		t.Fatal(err)
	}
	cfg.Meta, cfg.Replica, cfg.Dir, cfg.PublicURL = m, self, t.TempDir(), "http://hub"
	cfg.Secret, cfg.Concurrency = []byte("test-secret-test-secret-test-secret"), 2
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); self.Close() })
	return s
}

// storeWithAlice opens a store holding one user, alice.
func storeWithAlice(t *testing.T) (*storetest.Stores, *haven.User) {
	t.Helper()
	st := storetest.Open(t)
	alice := &haven.User{Name: "alice", Email: "alice@example.com"}
	if err := st.Meta.CreateUser(context.Background(), alice, ""); err != nil {
		t.Fatal(err)
	}
	return st, alice
}

func stageWithin(t *testing.T, m *meta.Store, id, want string, d time.Duration) *haven.Job {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		j, err := m.JobRun(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if j.Stage == want {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s is %s (%s), want %s", id, j.Stage, j.Message, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func submitJob(t *testing.T, s *Service, u *haven.User, resumable bool) *haven.Job {
	t.Helper()
	j, err := s.Submit(context.Background(), u, u, "user", "", haven.JobSpec{DockerImage: "python:3.12", Command: []string{"sleep", "1000"},
		Flavor: "cpu-basic", Resumable: resumable}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// TestJobsAcrossReplicas runs a job on replica A while B starts, restarts
// and cancels it: B leaves the job alone until it asks A to stop it.
func TestJobsAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	st, alice := storeWithAlice(t)
	runA := newHoldRunner()
	a := replicaOf(t, st.Meta, "a", runA)

	j := submitJob(t, a, alice, false)
	<-runA.started
	if got := stageWithin(t, st.Meta, j.ID, haven.JobRunning, 5*time.Second); got.Replica != "a" {
		t.Fatalf("job runs on %q, want a", got.Replica)
	}

	// B starting (twice) does not touch A's job: A's heartbeat is fresh.
	b := replicaOf(t, st.Meta, "b", newHoldRunner())
	b.Close()
	b = replicaOf(t, st.Meta, "b", newHoldRunner())
	time.Sleep(2500 * time.Millisecond) // past the expiry: A keeps beating
	if got, _ := st.Meta.JobRun(ctx, j.ID); got.Stage != haven.JobRunning {
		t.Fatalf("after B restarted the job is %s (%s)", got.Stage, got.Message)
	}

	// Canceled through B, it stops on A.
	if err := b.Cancel(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	got := stageWithin(t, st.Meta, j.ID, haven.JobCanceled, 5*time.Second)
	if e := runA.handle(j.ID).Exit(); !e.Stopped {
		t.Errorf("A's workload was not stopped: %+v", e)
	}
	if got.Message != "Canceled" {
		t.Errorf("message = %q", got.Message)
	}

	// A job that ends on its own is recorded COMPLETED by A.
	j2 := submitJob(t, a, alice, false)
	<-runA.started
	stageWithin(t, st.Meta, j2.ID, haven.JobRunning, 5*time.Second)
	runA.handle(j2.ID).end(runner.Exit{Code: 0})
	stageWithin(t, st.Meta, j2.ID, haven.JobCompleted, 5*time.Second)
}

// TestJobsOfDeadReplica: a job whose replica stopped beating is settled by
// another replica's sweep (resumable ones queued again and run there), and
// the replica that comes back under its old id settles what it left.
func TestJobsOfDeadReplica(t *testing.T) {
	ctx := context.Background()
	st, alice := storeWithAlice(t)
	// Jobs recorded as running on "gone", which beat long ago, and on "c",
	// alive but about to restart.
	if err := st.Meta.BeatReplica(ctx, "gone", "http://gone", time.Now().Add(-time.Hour), true); err != nil {
		t.Fatal(err)
	}
	c := replica.New(replica.Config{Meta: st.Meta, ID: "c", URL: "http://c", Beat: 100 * time.Millisecond, Expiry: 2 * time.Second})
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	mk := func(rep string, resumable bool) string {
		j := &haven.Job{OwnerID: alice.ID, InitiatorID: alice.ID, InitiatorType: "user",
			Spec: haven.JobSpec{DockerImage: "python:3.12", Command: []string{"true"}, Flavor: "cpu-basic", Resumable: resumable}}
		if err := st.Meta.CreateJobRun(ctx, j, ""); err != nil {
			t.Fatal(err)
		}
		if ok, err := st.Meta.StartJobRun(ctx, j.ID, rep); err != nil || !ok {
			t.Fatal(ok, err)
		}
		return j.ID
	}
	lost, again, onC := mk("gone", false), mk("gone", true), mk("c", false)

	runA := newHoldRunner()
	replicaOf(t, st.Meta, "a", runA)
	got := stageWithin(t, st.Meta, lost, haven.JobError, 5*time.Second)
	if got.Message != "Interrupted: the replica gone that ran the job stopped" {
		t.Errorf("message = %q", got.Message)
	}
	<-runA.started
	if got := stageWithin(t, st.Meta, again, haven.JobRunning, 5*time.Second); got.Replica != "a" {
		t.Errorf("the resumable job runs again on %q, want a", got.Replica)
	}
	if got, _ := st.Meta.JobRun(ctx, onC); got.Stage != haven.JobRunning {
		t.Errorf("c's job, c alive: %s", got.Stage)
	}
	// c comes back: its job ran in its previous life.
	c.Close()
	replicaOf(t, st.Meta, "c", newHoldRunner())
	got = stageWithin(t, st.Meta, onC, haven.JobError, time.Second)
	if got.Message != "Interrupted: Haven stopped while the job ran" {
		t.Errorf("message = %q", got.Message)
	}
}

// TestJobSettledElsewhereStops: a replica whose heartbeat lapsed, and whose
// job another replica settled meanwhile, stops that job.
func TestJobSettledElsewhereStops(t *testing.T) {
	ctx := context.Background()
	st, alice := storeWithAlice(t)
	runA := newHoldRunner()
	a := replicaOf(t, st.Meta, "a", runA)
	j := submitJob(t, a, alice, false)
	<-runA.started
	stageWithin(t, st.Meta, j.ID, haven.JobRunning, 5*time.Second)
	if ok, err := st.Meta.SettleJobRun(ctx, j.ID, "a", haven.JobError, "Interrupted elsewhere"); err != nil || !ok {
		t.Fatal(ok, err)
	}
	select {
	case <-runA.handle(j.ID).Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the job settled elsewhere still runs")
	}
	time.Sleep(100 * time.Millisecond)
	if got, _ := st.Meta.JobRun(ctx, j.ID); got.Stage != haven.JobError || got.Message != "Interrupted elsewhere" {
		t.Errorf("job = %s %q; the other replica's record must stay", got.Stage, got.Message)
	}
}

// TestJobLogOutlivesItsReplica: the log of a job that ended on replica A is
// read through B after A stopped for good, from the copy in the blob store;
// without that copy B says where the log is.
func TestJobLogOutlivesItsReplica(t *testing.T) {
	st, alice := storeWithAlice(t)
	for _, kept := range []bool{true, false} {
		var logs blob.Driver
		if kept {
			logs = st.Blobs
		}
		runA := newHoldRunner()
		a := replicaWithLogs(t, st.Meta, "a", runA, logs)
		j := submitJob(t, a, alice, false)
		<-runA.started
		stageWithin(t, st.Meta, j.ID, haven.JobRunning, 5*time.Second)
		runA.handle(j.ID).end(runner.Exit{Code: 0})
		j = stageWithin(t, st.Meta, j.ID, haven.JobCompleted, 5*time.Second)
		a.Close()
		a.self.Close()
		time.Sleep(2500 * time.Millisecond) // past A's heartbeat expiry

		b := replicaWithLogs(t, st.Meta, "b", newHoldRunner(), logs)
		rec := httptest.NewRecorder()
		b.handleLogs(rec, httptest.NewRequest("GET", "/api/jobs/alice/"+j.ID+"/logs", nil), j)
		body := rec.Body.String()
		switch {
		case kept && (rec.Code != 200 || !strings.Contains(body, "hello from job-"+j.ID)):
			t.Errorf("log through B with a kept copy: %d %q, want the job's output", rec.Code, body)
		case !kept && (rec.Code != 503 || !strings.Contains(body, "replica a")):
			t.Errorf("log through B without a kept copy: %d %q, want 503 naming replica a", rec.Code, body)
		}
		b.Close()
		b.self.Close()
	}
}

// TestCancelWhilePreparing: a job canceled while its environment is being
// prepared ends CANCELED, though the step the cancel cut short fails.
func TestCancelWhilePreparing(t *testing.T) {
	ctx := context.Background()
	st, alice := storeWithAlice(t)
	preparing := make(chan struct{}, 1)
	s := replicaWithConfig(t, st.Meta, "a", Config{Runner: newHoldRunner(),
		SpaceRecipe: func(ctx context.Context, _ *auth.Actor, _ string) (runner.Recipe, string, error) {
			preparing <- struct{}{}
			<-ctx.Done()
			return runner.Recipe{}, "", ctx.Err()
		}})

	j, err := s.Submit(ctx, alice, alice, "user", "", haven.JobSpec{SpaceID: "alice/app", Command: []string{"true"}, Flavor: "cpu-basic"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-preparing:
	case <-time.After(5 * time.Second):
		t.Fatal("the job never reached its Space's recipe")
	}
	if err := s.Cancel(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	if got := stageWithin(t, st.Meta, j.ID, haven.JobCanceled, 5*time.Second); got.Message != "Canceled" {
		t.Errorf("message = %q", got.Message)
	}
}
