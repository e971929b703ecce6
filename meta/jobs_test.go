package meta_test

import (
	"testing"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
)

func TestJobsSQLite(t *testing.T)   { testJobs(t, openSQLite) }
func TestJobsPostgres(t *testing.T) { testJobs(t, postgresOpener(t)) }

func testJobs(t *testing.T, open func(*testing.T) *meta.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, *meta.Store)
	}{
		{"Runs", testJobRuns},
		{"Schedules", testJobSchedules},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

func testJobRuns(t *testing.T, s *meta.Store) {
	alice := mustUser(t, s, "alice", false)
	acme := mustUser(t, s, "acme", true)
	spec := haven.JobSpec{DockerImage: "python:3.12", Command: []string{"python", "-c", "1"}, Flavor: "cpu-basic",
		Labels: map[string]string{"env": "prod"}, Secrets: []string{"TOKEN"}}
	var ids []string
	for i, owner := range []*haven.User{alice, alice, acme} {
		j := &haven.Job{OwnerID: owner.ID, InitiatorID: alice.ID, InitiatorType: "user", Spec: spec}
		mustNil(t, s.CreateJobRun(ctx, j, "sealed"))
		if j.ID == "" || j.Stage != haven.JobScheduling || j.Owner != owner.Name || j.OwnerIsOrg != owner.IsOrg || j.Initiator != "alice" {
			t.Fatalf("job %d = %+v", i, j)
		}
		ids = append(ids, j.ID)
		time.Sleep(2 * time.Millisecond) // distinct creation times, for the order
	}
	got, err := s.JobRun(ctx, ids[0])
	mustNil(t, err)
	if got.Spec.Labels["env"] != "prod" || got.Spec.Command[2] != "1" || !got.StartedAt.IsZero() {
		t.Errorf("read back %+v", got)
	}
	if sec, _ := s.JobRunSecrets(ctx, ids[0]); sec != "sealed" {
		t.Errorf("secrets = %q", sec)
	}
	if _, err := s.JobRun(ctx, "000000000000000000000000"); !haven.IsCode(err, haven.ENotFound) {
		t.Errorf("unknown job: %v", err)
	}

	// Only one mover wins a stage change.
	ok, err := s.MoveJobRun(ctx, ids[0], []string{haven.JobScheduling}, haven.JobRunning, "")
	mustNil(t, err)
	again, _ := s.MoveJobRun(ctx, ids[0], []string{haven.JobScheduling}, haven.JobRunning, "")
	if !ok || again {
		t.Fatalf("moves: first %v, second %v", ok, again)
	}
	ok, _ = s.MoveJobRun(ctx, ids[0], []string{haven.JobRunning}, haven.JobError, "Exit code: 1")
	got, _ = s.JobRun(ctx, ids[0])
	if !ok || got.Stage != haven.JobError || got.Message != "Exit code: 1" || got.StartedAt.IsZero() || got.FinishedAt.IsZero() {
		t.Errorf("ended job = %+v", got)
	}
	if sec, _ := s.JobRunSecrets(ctx, ids[0]); sec != "" {
		t.Errorf("an ended job keeps its secrets: %q", sec)
	}

	list, err := s.JobRunsOf(ctx, alice.ID, nil, time.Time{}, 10)
	mustNil(t, err)
	if len(list) != 2 || list[0].ID != ids[1] || list[1].ID != ids[0] {
		t.Errorf("alice's jobs, newest first: %v", jobIDs(list))
	}
	list, _ = s.JobRunsOf(ctx, alice.ID, []string{haven.JobScheduling}, time.Time{}, 10)
	if len(list) != 1 || list[0].ID != ids[1] {
		t.Errorf("scheduling: %v", jobIDs(list))
	}
	list, _ = s.JobRunsOf(ctx, alice.ID, nil, list[0].CreatedAt, 10)
	if len(list) != 1 || list[0].ID != ids[0] {
		t.Errorf("next page: %v", jobIDs(list))
	}
	mustNil(t, s.SetJobRunLabels(ctx, ids[1], map[string]string{"team": "ml"}))
	got, _ = s.JobRun(ctx, ids[1])
	if len(got.Spec.Labels) != 1 || got.Spec.Labels["team"] != "ml" {
		t.Errorf("labels = %v", got.Spec.Labels)
	}
	list, _ = s.JobRunsInStage(ctx, haven.JobScheduling)
	if len(list) != 2 {
		t.Errorf("in SCHEDULING: %v", jobIDs(list))
	}
}

func jobIDs(js []*haven.Job) []string {
	var out []string
	for _, j := range js {
		out = append(out, j.ID)
	}
	return out
}

func testJobSchedules(t *testing.T, s *meta.Store) {
	alice := mustUser(t, s, "alice", false)
	next := time.Now().Add(-time.Second).UTC().Truncate(time.Microsecond)
	sj := &haven.ScheduledJob{OwnerID: alice.ID, CreatorID: alice.ID, Schedule: "@hourly", NextRunAt: next,
		Spec: haven.JobSpec{DockerImage: "ubuntu", Command: []string{"true"}}}
	mustNil(t, s.CreateJobSchedule(ctx, sj, "sealed"))
	due, err := s.DueJobSchedules(ctx, time.Now())
	mustNil(t, err)
	if len(due) != 1 || due[0].ID != sj.ID || !due[0].NextRunAt.Equal(next) {
		t.Fatalf("due = %+v", due)
	}
	later := next.Add(time.Hour)
	ok, err := s.TakeJobScheduleTick(ctx, sj.ID, due[0].NextRunAt, later)
	mustNil(t, err)
	again, _ := s.TakeJobScheduleTick(ctx, sj.ID, due[0].NextRunAt, later)
	if !ok || again {
		t.Fatalf("ticks taken: first %v, second %v", ok, again)
	}
	if due, _ := s.DueJobSchedules(ctx, time.Now()); len(due) != 0 {
		t.Errorf("still due after the tick: %d", len(due))
	}
	mustNil(t, s.SetJobScheduleLastJob(ctx, sj.ID, "abc", time.Now()))
	sj.Suspend, sj.NextRunAt = true, next
	mustNil(t, s.UpdateJobSchedule(ctx, sj))
	got, err := s.JobSchedule(ctx, sj.ID)
	mustNil(t, err)
	if !got.Suspend || got.LastJobID != "abc" || got.Owner != "alice" {
		t.Errorf("schedule = %+v", got)
	}
	if due, _ := s.DueJobSchedules(ctx, time.Now()); len(due) != 0 {
		t.Errorf("a suspended schedule is due")
	}
	mustNil(t, s.DeleteJobSchedule(ctx, sj.ID))
	if _, err := s.JobSchedule(ctx, sj.ID); !haven.IsCode(err, haven.ENotFound) {
		t.Errorf("deleted: %v", err)
	}
}
