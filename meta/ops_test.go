package meta_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/havenhub/haven/meta"
)

func TestQueueStats(t *testing.T) {
	s := mustOpen(t, ":memory:")
	before := time.Now().Add(-time.Second)
	for _, k := range []string{"a", "a", "b"} {
		if _, err := s.Enqueue(ctx, k, nil, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	j, err := s.Lease(ctx, []string{"b"}, "w", time.Minute)
	mustNil(t, err)
	mustNil(t, s.Complete(ctx, j.ID))

	stats, err := s.QueueStats(ctx)
	mustNil(t, err)
	got := map[string]meta.QueueStat{}
	for _, q := range stats {
		got[q.Kind+"/"+q.State] = q
	}
	if len(got) != 2 || got["a/queued"].Count != 2 || got["b/done"].Count != 1 {
		t.Fatalf("stats = %+v", stats)
	}
	if o := got["a/queued"].Oldest; o.Before(before) || o.After(time.Now()) {
		t.Errorf("oldest a = %v", o)
	}
	if !got["b/done"].Oldest.IsZero() {
		t.Errorf("done jobs have an oldest time: %v", got["b/done"].Oldest)
	}

	stages, err := s.JobRunStages(ctx)
	mustNil(t, err)
	if len(stages) != 0 {
		t.Errorf("job stages = %v", stages)
	}
	spaces, err := s.SpaceStages(ctx)
	mustNil(t, err)
	if len(spaces) != 0 {
		t.Errorf("space stages = %v", spaces)
	}
}

func TestSnapshot(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, filepath.Join(dir, "haven.db"))
	mustUser(t, s, "alice", false)
	dst := filepath.Join(dir, "copy.db")
	mustNil(t, s.Snapshot(ctx, dst))
	c, err := meta.Open(ctx, dst)
	mustNil(t, err)
	defer c.Close()
	if _, err := c.UserByName(ctx, "alice"); err != nil {
		t.Fatalf("snapshot lacks the user: %v", err)
	}
}
