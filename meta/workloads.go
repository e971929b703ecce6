package meta

import (
	"context"
	"time"

	"github.com/havenhub/haven"
)

// Replica is one haven serve process sharing the database, as its
// heartbeats record it.
type Replica struct {
	ID          string
	URL         string // where the other replicas reach it
	StartedAt   time.Time
	HeartbeatAt time.Time
}

func errReplicaNotFound(id string) error {
	return haven.Errorf(haven.ENotFound, "Replica %s not found", id)
}

// BeatReplica records that replica id is alive at the given time and
// reachable at url; the first beat of a process (start) also sets its start
// time.
func (s *Store) BeatReplica(ctx context.Context, id, url string, at time.Time, start bool) error {
	t := dbTime(at)
	q := `INSERT INTO replicas (id, url, started_at, heartbeat_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET url = excluded.url, heartbeat_at = excluded.heartbeat_at`
	if start {
		q += ", started_at = excluded.started_at"
	}
	_, err := s.conn().exec(ctx, q, id, url, t, t)
	return err
}

// Replica returns the replica with the given id.
func (s *Store) Replica(ctx context.Context, id string) (*Replica, error) {
	var r Replica
	err := s.conn().queryRow(ctx, "SELECT id, url, started_at, heartbeat_at FROM replicas WHERE id = ?", id).
		Scan(&r.ID, &r.URL, &r.StartedAt, &r.HeartbeatAt)
	if err != nil {
		return nil, noRows(err, errReplicaNotFound(id))
	}
	r.StartedAt, r.HeartbeatAt = r.StartedAt.UTC(), r.HeartbeatAt.UTC()
	return &r, nil
}

// Replicas lists the replicas that have beaten since since, by id.
func (s *Store) Replicas(ctx context.Context, since time.Time) ([]Replica, error) {
	rows, err := s.conn().query(ctx, "SELECT id, url, started_at, heartbeat_at FROM replicas WHERE heartbeat_at >= ? ORDER BY id", dbTime(since))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Replica
	for rows.Next() {
		var r Replica
		if err := rows.Scan(&r.ID, &r.URL, &r.StartedAt, &r.HeartbeatAt); err != nil {
			return nil, err
		}
		r.StartedAt, r.HeartbeatAt = r.StartedAt.UTC(), r.HeartbeatAt.UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// DeleteReplica forgets a replica that stopped for good, so that the
// others take its Spaces and jobs over at once.
func (s *Store) DeleteReplica(ctx context.Context, id string) error {
	_, err := s.conn().exec(ctx, "DELETE FROM replicas WHERE id = ?", id)
	return err
}

// deadOwner is the condition that the replica named by column has no
// heartbeat since the next argument: it stopped, or never existed.
func deadOwner(column string) string {
	return column + " NOT IN (SELECT id FROM replicas WHERE heartbeat_at >= ?)"
}

// StartJobRun moves a job from SCHEDULING to RUNNING on replica, and
// reports whether this caller did it.
func (s *Store) StartJobRun(ctx context.Context, id, replica string) (bool, error) {
	res, err := s.conn().exec(ctx, `UPDATE job_runs SET stage = ?, message = '', started_at = ?, replica_id = ?, cancel_requested = ?
		WHERE id = ? AND stage = ?`, haven.JobRunning, now(), replica, false, id, haven.JobScheduling)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// StrandedJobRuns lists the RUNNING jobs whose replica has not beaten since
// since — it died or stopped — oldest first; with self set, also those of
// replica self, which a replica settles as it starts (they ran in its
// previous life). Jobs recorded before replicas were (no replica) count as
// stranded.
func (s *Store) StrandedJobRuns(ctx context.Context, self string, since time.Time) ([]*haven.Job, error) {
	q := "WHERE j.stage = ? AND (" + deadOwner("j.replica_id")
	args := []any{haven.JobRunning, dbTime(since)}
	if self != "" {
		q += " OR j.replica_id = ?"
		args = append(args, self)
	}
	return s.jobRuns(ctx, q+") ORDER BY j.created_at", args...)
}

// SettleJobRun moves a RUNNING job of replica to stage to (a terminal
// stage, or SCHEDULING to run it again), and reports whether it was still
// running there: a job another replica took up meanwhile is left alone.
func (s *Store) SettleJobRun(ctx context.Context, id, replica, to, message string) (bool, error) {
	t := now()
	set := "stage = ?, message = ?, cancel_requested = ?"
	args := []any{to, message, false}
	if to == haven.JobScheduling {
		set += ", started_at = NULL"
	} else {
		set += ", finished_at = ?, secrets = ''"
		args = append(args, t)
	}
	args = append(args, id, haven.JobRunning, replica)
	res, err := s.conn().exec(ctx, "UPDATE job_runs SET "+set+" WHERE id = ? AND stage = ? AND replica_id = ?", args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// RequestJobCancel asks the replica running a job to stop it, and reports
// whether the job was running.
func (s *Store) RequestJobCancel(ctx context.Context, id string) (bool, error) {
	res, err := s.conn().exec(ctx, "UPDATE job_runs SET cancel_requested = ? WHERE id = ? AND stage = ?", true, id, haven.JobRunning)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// RunningJobsOn returns the jobs RUNNING on replica, each with whether a
// cancel was asked of it.
func (s *Store) RunningJobsOn(ctx context.Context, replica string) (map[string]bool, error) {
	rows, err := s.conn().query(ctx, "SELECT id, cancel_requested FROM job_runs WHERE replica_id = ? AND stage = ?", replica, haven.JobRunning)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		var cancel bool
		if err := rows.Scan(&id, &cancel); err != nil {
			return nil, err
		}
		out[id] = cancel
	}
	return out, rows.Err()
}

// HoldSpace makes replica the one that runs a Space's app, unless another
// replica that has beaten since since holds it, and returns the holder
// after the attempt (replica when it holds it now).
func (s *Store) HoldSpace(ctx context.Context, repoID int64, replica string, since time.Time) (string, error) {
	_, err := s.conn().exec(ctx, `INSERT INTO space_holders (repo_id, replica_id, since) VALUES (?, ?, ?)
		ON CONFLICT (repo_id) DO UPDATE SET replica_id = excluded.replica_id, since = excluded.since
		WHERE space_holders.replica_id <> excluded.replica_id AND `+deadOwner("space_holders.replica_id"),
		repoID, replica, now(), dbTime(since))
	if err != nil {
		return "", err
	}
	return s.SpaceHolder(ctx, repoID)
}

// SpaceHolder returns the replica that holds a Space ("" for none).
func (s *Store) SpaceHolder(ctx context.Context, repoID int64) (string, error) {
	var id string
	err := s.conn().queryRow(ctx, "SELECT replica_id FROM space_holders WHERE repo_id = ?", repoID).Scan(&id)
	return id, noRows(err, nil)
}

// ReleaseSpace gives up replica's hold of a Space, if it has it.
func (s *Store) ReleaseSpace(ctx context.Context, repoID int64, replica string) error {
	_, err := s.conn().exec(ctx, "DELETE FROM space_holders WHERE repo_id = ? AND replica_id = ?", repoID, replica)
	return err
}

// UnheldSpaces lists the Spaces in one of stages that no replica beating
// since since holds: their app should run, and nothing runs it.
func (s *Store) UnheldSpaces(ctx context.Context, stages []string, since time.Time) ([]int64, error) {
	args := []any{}
	for _, st := range stages {
		args = append(args, st)
	}
	args = append(args, dbTime(since))
	rows, err := s.conn().query(ctx, `SELECT st.repo_id FROM space_state st LEFT JOIN space_holders h ON h.repo_id = st.repo_id
		WHERE st.stage IN (`+placeholders(len(stages))+`) AND (h.replica_id IS NULL OR `+deadOwner("h.replica_id")+`)
		ORDER BY st.repo_id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// Hold makes replica the one that does the work named name, unless another
// replica that has beaten since since holds it, and returns the holder
// after the attempt.
func (s *Store) Hold(ctx context.Context, name, replica string, since time.Time) (string, error) {
	_, err := s.conn().exec(ctx, `INSERT INTO replica_holds (name, replica_id, since) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET replica_id = excluded.replica_id, since = excluded.since
		WHERE replica_holds.replica_id <> excluded.replica_id AND `+deadOwner("replica_holds.replica_id"),
		name, replica, now(), dbTime(since))
	if err != nil {
		return "", err
	}
	var id string
	err = s.conn().queryRow(ctx, "SELECT replica_id FROM replica_holds WHERE name = ?", name).Scan(&id)
	return id, noRows(err, nil)
}
