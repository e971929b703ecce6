package meta_test

import (
	"testing"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
)

func TestWorkloadsSQLite(t *testing.T)   { testWorkloads(t, openSQLite) }
func TestWorkloadsPostgres(t *testing.T) { testWorkloads(t, postgresOpener(t)) }

func testWorkloads(t *testing.T, open func(*testing.T) *meta.Store) {
	t.Run("Replicas", func(t *testing.T) { testReplicaBeats(t, open(t)) })
	t.Run("JobOwners", func(t *testing.T) { testJobOwners(t, open(t)) })
	t.Run("SpaceHolders", func(t *testing.T) { testSpaceHolders(t, open(t)) })
	t.Run("Holds", func(t *testing.T) { testHolds(t, open(t)) })
}

func testHolds(t *testing.T, s *meta.Store) {
	now := time.Now()
	since := now.Add(-30 * time.Second)
	mustNil(t, s.BeatReplica(ctx, "a", "http://a", now, true))
	mustNil(t, s.BeatReplica(ctx, "b", "http://b", now, true))
	hold := func(name, rep, want string) {
		t.Helper()
		h, err := s.Hold(ctx, name, rep, since)
		mustNil(t, err)
		if h != want {
			t.Errorf("%s holding %s: holder %q, want %q", rep, name, h, want)
		}
	}
	hold("endpoints", "a", "a")
	hold("endpoints", "b", "a")
	hold("other", "b", "b")
	mustNil(t, s.BeatReplica(ctx, "a", "http://a", now.Add(-time.Minute), false))
	hold("endpoints", "b", "b")
	hold("endpoints", "a", "b")
}

func testReplicaBeats(t *testing.T, s *meta.Store) {
	t0 := time.Now().Add(-time.Minute)
	mustNil(t, s.BeatReplica(ctx, "a", "http://a", t0, true))
	mustNil(t, s.BeatReplica(ctx, "b", "http://b", t0, true))
	mustNil(t, s.BeatReplica(ctx, "a", "http://a2", t0.Add(30*time.Second), false))
	r, err := s.Replica(ctx, "a")
	mustNil(t, err)
	if r.URL != "http://a2" || !r.StartedAt.Equal(t0.UTC().Truncate(time.Microsecond)) || r.HeartbeatAt.Sub(r.StartedAt) != 30*time.Second {
		t.Errorf("replica a = %+v", r)
	}
	isUTC(t, "HeartbeatAt", r.HeartbeatAt)
	live, err := s.Replicas(ctx, t0.Add(10*time.Second))
	mustNil(t, err)
	if len(live) != 1 || live[0].ID != "a" {
		t.Errorf("live replicas = %+v, want a", live)
	}
	mustNil(t, s.DeleteReplica(ctx, "a"))
	if _, err := s.Replica(ctx, "a"); !haven.IsCode(err, haven.ENotFound) {
		t.Errorf("deleted replica: %v", err)
	}
}

func testJobOwners(t *testing.T, s *meta.Store) {
	alice := mustUser(t, s, "alice", false)
	newJob := func() string {
		j := &haven.Job{OwnerID: alice.ID, InitiatorID: alice.ID, InitiatorType: "user", Spec: haven.JobSpec{DockerImage: "python:3.12"}}
		mustNil(t, s.CreateJobRun(ctx, j, "sealed"))
		return j.ID
	}
	now := time.Now()
	mustNil(t, s.BeatReplica(ctx, "a", "http://a", now, true))
	mustNil(t, s.BeatReplica(ctx, "b", "http://b", now, true))
	mustNil(t, s.BeatReplica(ctx, "dead", "http://dead", now.Add(-time.Hour), true))
	onA, onB, onDead, legacy := newJob(), newJob(), newJob(), newJob()
	for id, rep := range map[string]string{onA: "a", onB: "b", onDead: "dead"} {
		ok, err := s.StartJobRun(ctx, id, rep)
		mustNil(t, err)
		if !ok {
			t.Fatalf("start %s on %s refused", id, rep)
		}
	}
	if again, _ := s.StartJobRun(ctx, onA, "b"); again {
		t.Fatal("a running job started twice")
	}
	_, err := s.MoveJobRun(ctx, legacy, []string{haven.JobScheduling}, haven.JobRunning, "")
	mustNil(t, err)
	j, err := s.JobRun(ctx, onA)
	mustNil(t, err)
	if j.Replica != "a" || j.Stage != haven.JobRunning || j.StartedAt.IsZero() {
		t.Errorf("job on a = %+v", j)
	}

	ids := func(js []*haven.Job) map[string]bool {
		m := map[string]bool{}
		for _, j := range js {
			m[j.ID] = true
		}
		return m
	}
	since := now.Add(-30 * time.Second)
	// B starting again settles its own jobs and the dead replica's, never A's.
	got, err := s.StrandedJobRuns(ctx, "b", since)
	mustNil(t, err)
	if g := ids(got); len(g) != 3 || !g[onB] || !g[onDead] || !g[legacy] {
		t.Errorf("stranded at b's start = %v; want %s, %s, %s", g, onB, onDead, legacy)
	}
	// A's sweep while it runs: not its own.
	got, err = s.StrandedJobRuns(ctx, "", since)
	mustNil(t, err)
	if g := ids(got); len(g) != 2 || !g[onDead] || !g[legacy] {
		t.Errorf("stranded in a sweep = %v; want %s, %s", g, onDead, legacy)
	}

	// Settling is conditional on the replica: a job taken up again since
	// is left alone.
	ok, err := s.SettleJobRun(ctx, onDead, "dead", haven.JobScheduling, "")
	mustNil(t, err)
	if !ok {
		t.Fatal("requeue of the dead replica's job refused")
	}
	ok, _ = s.StartJobRun(ctx, onDead, "a")
	if !ok {
		t.Fatal("requeued job did not start again")
	}
	if late, _ := s.SettleJobRun(ctx, onDead, "dead", haven.JobError, "Interrupted"); late {
		t.Error("a second sweeper interrupted the job that runs again on a")
	}
	ok, err = s.SettleJobRun(ctx, onB, "b", haven.JobError, "Interrupted")
	mustNil(t, err)
	j, _ = s.JobRun(ctx, onB)
	if !ok || j.Stage != haven.JobError || j.Message != "Interrupted" || j.FinishedAt.IsZero() {
		t.Errorf("settled job = %v %+v", ok, j)
	}
	if sec, _ := s.JobRunSecrets(ctx, onB); sec != "" {
		t.Errorf("an ended job kept its secrets: %q", sec)
	}

	// Cancels asked on any replica reach the one running the job.
	running, err := s.RunningJobsOn(ctx, "a")
	mustNil(t, err)
	if len(running) != 2 || running[onA] || running[onDead] {
		t.Errorf("running on a = %v", running)
	}
	ok, err = s.RequestJobCancel(ctx, onA)
	mustNil(t, err)
	if !ok {
		t.Error("cancel of a running job refused")
	}
	if ok, _ := s.RequestJobCancel(ctx, onB); ok {
		t.Error("cancel of an ended job accepted")
	}
	running, _ = s.RunningJobsOn(ctx, "a")
	if !running[onA] || running[onDead] {
		t.Errorf("cancels on a = %v", running)
	}
}

func testSpaceHolders(t *testing.T, s *meta.Store) {
	mustUser(t, s, "alice", false)
	repo := mustRepo(t, s, &haven.Repo{Type: haven.Space, Namespace: "alice", Name: "demo", SDK: "gradio"})
	now := time.Now()
	since := now.Add(-30 * time.Second)
	mustNil(t, s.BeatReplica(ctx, "a", "http://a", now, true))
	mustNil(t, s.BeatReplica(ctx, "b", "http://b", now, true))
	if h, err := s.SpaceHolder(ctx, repo.ID); err != nil || h != "" {
		t.Fatalf("holder of a new Space = %q, %v", h, err)
	}
	hold := func(rep, want string) {
		t.Helper()
		h, err := s.HoldSpace(ctx, repo.ID, rep, since)
		mustNil(t, err)
		if h != want {
			t.Errorf("%s holding: holder %q, want %q", rep, h, want)
		}
	}
	unheld := func(want int) {
		t.Helper()
		ids, err := s.UnheldSpaces(ctx, []string{"RUNNING", "BUILDING"}, since)
		mustNil(t, err)
		if (want == 0 && len(ids) != 0) || (want != 0 && (len(ids) != 1 || ids[0] != repo.ID)) {
			t.Errorf("unheld Spaces = %v, want %d of them", ids, want)
		}
	}
	mustNil(t, s.PutSpaceState(ctx, &meta.SpaceState{RepoID: repo.ID, Stage: "RUNNING", SHA: "abc"}))
	unheld(1)
	hold("a", "a")
	unheld(0)
	hold("b", "a") // a is alive
	hold("a", "a") // renewing is a no-op
	// a's heartbeat expires: b takes over.
	mustNil(t, s.BeatReplica(ctx, "a", "http://a", now.Add(-time.Hour), false))
	unheld(1)
	hold("b", "b")
	hold("a", "b")
	mustNil(t, s.PutSpaceState(ctx, &meta.SpaceState{RepoID: repo.ID, Stage: "SLEEPING", SHA: "abc"}))
	mustNil(t, s.BeatReplica(ctx, "b", "http://b", now.Add(-time.Hour), false))
	unheld(0) // a sleeping Space needs no one
	mustNil(t, s.BeatReplica(ctx, "b", "http://b", now, false))
	mustNil(t, s.ReleaseSpace(ctx, repo.ID, "a")) // not a's to release
	hold("a", "b")
	mustNil(t, s.ReleaseSpace(ctx, repo.ID, "b"))
	hold("a", "a")
	mustNil(t, s.DeleteRepo(ctx, repo.ID))
	if h, _ := s.SpaceHolder(ctx, repo.ID); h != "" {
		t.Errorf("deleted Space still held by %q", h)
	}
}
