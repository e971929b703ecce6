package meta

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/havenhub/haven"
)

// Job states.
const (
	JobQueued = "queued" // waiting for its run time
	JobLeased = "leased" // taken by a worker until its lease ends
	JobDone   = "done"
	JobFailed = "failed" // failed its last allowed attempt
)

// Job is a unit of background work in the queue.
type Job struct {
	ID        int64
	Kind      string
	Payload   []byte
	Attempts  int // leases so far, the current one included
	State     string
	LastError string
	RunAt     time.Time
	CreatedAt time.Time
}

const jobColumns = "id, kind, payload, attempts, state, last_error, run_at, created_at"

func scanJob(row scanner) (*Job, error) {
	var j Job
	if err := row.Scan(&j.ID, &j.Kind, &j.Payload, &j.Attempts, &j.State, &j.LastError, &j.RunAt, &j.CreatedAt); err != nil {
		return nil, err
	}
	j.RunAt, j.CreatedAt = j.RunAt.UTC(), j.CreatedAt.UTC()
	return &j, nil
}

func errJobNotFound(id int64) error { return haven.Errorf(haven.ENotFound, "Job #%d not found", id) }

// Enqueue adds a job of the given kind that is due at runAt (zero: now)
// and returns its id.
func (s *Store) Enqueue(ctx context.Context, kind string, payload []byte, runAt time.Time) (int64, error) {
	if kind == "" {
		return 0, haven.Errorf(haven.EInvalid, "A job needs a kind")
	}
	t, at := now(), orNow(runAt)
	var id int64
	err := s.conn().queryRow(ctx, `INSERT INTO jobs (kind, payload, state, run_at, due_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, kind, payload, JobQueued, at, at, t, t).Scan(&id)
	return id, err
}

// Lease takes the job that has been due longest among those of the given
// kinds (any kind when kinds is empty) and leases it to worker until
// now+lease: other workers pass over it until then. A job whose lease ran
// out, because its worker died, is due again. Lease returns (nil, nil)
// when nothing is due.
func (s *Store) Lease(ctx context.Context, kinds []string, worker string, lease time.Duration) (*Job, error) {
	t := now()
	args := []any{JobLeased, worker, t.Add(lease), t, t}
	kindCond := ""
	if len(kinds) > 0 {
		kindCond = " AND kind IN (" + placeholders(len(kinds)) + ")"
		for _, k := range kinds {
			args = append(args, k)
		}
	}
	j, err := scanJob(s.conn().queryRow(ctx, `UPDATE jobs SET state = ?, attempts = attempts + 1, leased_by = ?, due_at = ?, updated_at = ?
		WHERE id = (SELECT id FROM jobs WHERE state IN ('queued', 'leased') AND due_at <= ?`+kindCond+`
			ORDER BY due_at, id LIMIT 1`+s.d.skipLocked+`)
		RETURNING `+jobColumns, args...))
	return j, noRows(err, nil)
}

// Complete marks a job done.
func (s *Store) Complete(ctx context.Context, jobID int64) error {
	return s.conn().execOne(ctx, errJobNotFound(jobID), "UPDATE jobs SET state = ?, leased_by = '', updated_at = ? WHERE id = ?",
		JobDone, now(), jobID)
}

// Fail records a failed attempt of a job. The job runs again at retryAt
// unless it has been attempted maxAttempts times (no limit when
// maxAttempts <= 0); then it is marked failed for good.
func (s *Store) Fail(ctx context.Context, jobID int64, errMsg string, retryAt time.Time, maxAttempts int) error {
	if maxAttempts <= 0 {
		maxAttempts = int(^uint32(0) >> 1)
	}
	at := orNow(retryAt)
	return s.conn().execOne(ctx, errJobNotFound(jobID), `UPDATE jobs SET
		state = CASE WHEN attempts >= ? THEN ? ELSE ? END,
		last_error = ?, leased_by = '', run_at = ?, due_at = ?, updated_at = ?
		WHERE id = ?`, maxAttempts, JobFailed, JobQueued, errMsg, at, at, now(), jobID)
}

// JobByID finds a job by id.
func (s *Store) JobByID(ctx context.Context, id int64) (*Job, error) {
	j, err := scanJob(s.conn().queryRow(ctx, "SELECT "+jobColumns+" FROM jobs WHERE id = ?", id))
	return j, noRows(err, errJobNotFound(id))
}

// Waiting is how a queue worker takes jobs: which kinds, under what name
// and lease, and how it waits while none is due.
type Waiting struct {
	Kinds  []string
	Worker string // see WorkerName
	Lease  time.Duration
	// Wake is told when a job is queued; nil: the worker only polls.
	Wake <-chan struct{}
	// Poll is how often an idle worker looks anyway: retries fall due
	// without anyone telling it, and other replicas queue jobs too.
	Poll time.Duration
	// OnError is told of a lease that failed (the database is away); the
	// worker then waits as for an empty queue.
	OnError func(error)
}

// NextJob leases the next due job as w says, waiting while none is due,
// and returns nil once ctx is done.
func (s *Store) NextJob(ctx context.Context, w Waiting) *Job {
	for {
		job, err := s.Lease(ctx, w.Kinds, w.Worker, w.Lease)
		if ctx.Err() != nil {
			return nil // a job leased just now comes back when its lease ends
		}
		if job != nil {
			return job
		}
		if err != nil && w.OnError != nil {
			w.OnError(err)
		}
		t := time.NewTimer(w.Poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-w.Wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// Release hands a leased job back to the queue, due at once: its worker is
// shutting down, and the next start should not wait for the lease to end.
func (s *Store) Release(ctx context.Context, jobID int64) error {
	return s.Fail(ctx, jobID, "interrupted by shutdown", time.Time{}, 0)
}

// Retry records a failed attempt of job and makes it due again after the
// backoff step of its attempt (the last step for later ones); after
// len(backoff) retries it fails for good.
func (s *Store) Retry(ctx context.Context, job *Job, errMsg string, backoff []time.Duration) error {
	wait := backoff[max(min(job.Attempts, len(backoff)), 1)-1]
	return s.Fail(ctx, job.ID, errMsg, time.Now().Add(wait), len(backoff)+1)
}

// WorkerName names a queue worker of this process for leases: what it
// does, then the host and process, so that a stuck lease says whose it is.
func WorkerName(what string) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%s/%d", what, host, os.Getpid())
}
