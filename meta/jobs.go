package meta

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/havenhub/haven"
)

func errJobRunNotFound() error      { return haven.Errorf(haven.ENotFound, "Job not found") }
func errJobScheduleNotFound() error { return haven.Errorf(haven.ENotFound, "Scheduled job not found") }

const jobRunColumns = `j.id, j.owner_id, o.name, o.is_org, j.initiator_id, i.name, j.initiator_type, j.schedule_id,
	j.spec, j.stage, j.message, j.created_at, j.started_at, j.finished_at, j.replica_id`

const jobRunFrom = " FROM job_runs j JOIN users o ON o.id = j.owner_id JOIN users i ON i.id = j.initiator_id"

func scanJobRun(row scanner) (*haven.Job, error) {
	var j haven.Job
	var spec string
	var started, finished sql.NullTime
	if err := row.Scan(&j.ID, &j.OwnerID, &j.Owner, &j.OwnerIsOrg, &j.InitiatorID, &j.Initiator, &j.InitiatorType,
		&j.ScheduleID, &spec, &j.Stage, &j.Message, &j.CreatedAt, &started, &finished, &j.Replica); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(spec), &j.Spec); err != nil {
		return nil, err
	}
	j.CreatedAt = j.CreatedAt.UTC()
	if started.Valid {
		j.StartedAt = started.Time.UTC()
	}
	if finished.Valid {
		j.FinishedAt = finished.Time.UTC()
	}
	return &j, nil
}

func (s *Store) jobRuns(ctx context.Context, query string, args ...any) ([]*haven.Job, error) {
	rows, err := s.conn().query(ctx, "SELECT "+jobRunColumns+jobRunFrom+" "+query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*haven.Job
	for rows.Next() {
		j, err := scanJobRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// CreateJobRun stores j, a new job in the SCHEDULING stage, with its sealed
// secrets, and fills its ID (unless set), names and creation time.
func (s *Store) CreateJobRun(ctx context.Context, j *haven.Job, secrets string) error {
	spec, err := json.Marshal(j.Spec)
	if err != nil {
		return err
	}
	if j.ID == "" {
		j.ID = newObjectID()
	}
	j.CreatedAt, j.Stage = now(), haven.JobScheduling
	err = s.inTx(ctx, func(c conn) error {
		if err := c.queryRow(ctx, "SELECT name, is_org FROM users WHERE id = ?", j.OwnerID).Scan(&j.Owner, &j.OwnerIsOrg); err != nil {
			return noRows(err, errUserIDNotFound(j.OwnerID))
		}
		if err := c.queryRow(ctx, "SELECT name FROM users WHERE id = ?", j.InitiatorID).Scan(&j.Initiator); err != nil {
			return noRows(err, errUserIDNotFound(j.InitiatorID))
		}
		_, err := c.exec(ctx, `INSERT INTO job_runs (id, owner_id, initiator_id, initiator_type, schedule_id, spec, secrets, stage, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, j.ID, j.OwnerID, j.InitiatorID, j.InitiatorType, j.ScheduleID, string(spec), secrets, j.Stage, j.CreatedAt)
		return err
	})
	return err
}

// JobRun returns the job with the given id.
func (s *Store) JobRun(ctx context.Context, id string) (*haven.Job, error) {
	j, err := scanJobRun(s.conn().queryRow(ctx, "SELECT "+jobRunColumns+jobRunFrom+" WHERE j.id = ?", id))
	return j, noRows(err, errJobRunNotFound())
}

// JobRunSecrets returns the sealed secrets of a job ("" once it ended).
func (s *Store) JobRunSecrets(ctx context.Context, id string) (string, error) {
	var v string
	err := s.conn().queryRow(ctx, "SELECT secrets FROM job_runs WHERE id = ?", id).Scan(&v)
	return v, noRows(err, errJobRunNotFound())
}

// JobRunsOf lists the jobs of a namespace, newest first, limited to the
// given stages (all when none) and to those created before before (the
// cursor of the next page; zero for the first), at most limit of them.
func (s *Store) JobRunsOf(ctx context.Context, ownerID int64, stages []string, before time.Time, limit int) ([]*haven.Job, error) {
	q := "WHERE j.owner_id = ?"
	args := []any{ownerID}
	if len(stages) > 0 {
		q += " AND j.stage IN (" + placeholders(len(stages)) + ")"
		for _, st := range stages {
			args = append(args, st)
		}
	}
	if !before.IsZero() {
		q += " AND j.created_at < ?"
		args = append(args, dbTime(before))
	}
	q += " ORDER BY j.created_at DESC, j.id DESC LIMIT ?"
	return s.jobRuns(ctx, q, append(args, limit)...)
}

// JobRunsInStage lists every job in a stage, oldest first.
func (s *Store) JobRunsInStage(ctx context.Context, stage string) ([]*haven.Job, error) {
	return s.jobRuns(ctx, "WHERE j.stage = ? ORDER BY j.created_at", stage)
}

// JobRunsOfSchedule lists the jobs a scheduled job started, newest first.
func (s *Store) JobRunsOfSchedule(ctx context.Context, scheduleID string, limit int) ([]*haven.Job, error) {
	return s.jobRuns(ctx, "WHERE j.schedule_id = ? ORDER BY j.created_at DESC LIMIT ?", scheduleID, limit)
}

// MoveJobRun moves a job from one of the stages from to stage to, with a
// message, and reports whether it was in one of them: the one way jobs
// change stage, so that two workers never both start or end one. Moving to
// RUNNING sets its start time, to a terminal stage its end time and drops
// its secrets.
func (s *Store) MoveJobRun(ctx context.Context, id string, from []string, to, message string) (bool, error) {
	t := now()
	set := "stage = ?, message = ?"
	args := []any{to, message}
	switch {
	case to == haven.JobRunning:
		set += ", started_at = ?"
		args = append(args, t)
	case to == haven.JobScheduling:
		set += ", started_at = NULL"
	case haven.JobTerminal(to):
		set += ", finished_at = ?, secrets = ''"
		args = append(args, t)
	}
	args = append(args, id)
	for _, st := range from {
		args = append(args, st)
	}
	res, err := s.conn().exec(ctx, "UPDATE job_runs SET "+set+" WHERE id = ? AND stage IN ("+placeholders(len(from))+")", args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// SetJobRunLabels replaces the labels of a job.
func (s *Store) SetJobRunLabels(ctx context.Context, id string, labels map[string]string) error {
	return s.inTx(ctx, func(c conn) error {
		var spec string
		if err := c.queryRow(ctx, "SELECT spec FROM job_runs WHERE id = ?", id).Scan(&spec); err != nil {
			return noRows(err, errJobRunNotFound())
		}
		var js haven.JobSpec
		if err := json.Unmarshal([]byte(spec), &js); err != nil {
			return err
		}
		js.Labels = labels
		b, err := json.Marshal(js)
		if err != nil {
			return err
		}
		_, err = c.exec(ctx, "UPDATE job_runs SET spec = ? WHERE id = ?", string(b), id)
		return err
	})
}

const jobScheduleColumns = `s.id, s.owner_id, o.name, o.is_org, s.creator_id, s.schedule, s.suspend, s.concurrency, s.spec,
	s.last_job_id, s.last_job_at, s.next_run_at, s.created_at, s.updated_at`

const jobScheduleFrom = " FROM job_schedules s JOIN users o ON o.id = s.owner_id"

func scanJobSchedule(row scanner) (*haven.ScheduledJob, error) {
	var sj haven.ScheduledJob
	var spec string
	var last, next sql.NullTime
	if err := row.Scan(&sj.ID, &sj.OwnerID, &sj.Owner, &sj.OwnerIsOrg, &sj.CreatorID, &sj.Schedule, &sj.Suspend, &sj.Concurrency,
		&spec, &sj.LastJobID, &last, &next, &sj.CreatedAt, &sj.UpdatedAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(spec), &sj.Spec); err != nil {
		return nil, err
	}
	if last.Valid {
		sj.LastJobAt = last.Time.UTC()
	}
	if next.Valid {
		sj.NextRunAt = next.Time.UTC()
	}
	sj.CreatedAt, sj.UpdatedAt = sj.CreatedAt.UTC(), sj.UpdatedAt.UTC()
	return &sj, nil
}

func (s *Store) jobSchedules(ctx context.Context, query string, args ...any) ([]*haven.ScheduledJob, error) {
	rows, err := s.conn().query(ctx, "SELECT "+jobScheduleColumns+jobScheduleFrom+" "+query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*haven.ScheduledJob
	for rows.Next() {
		sj, err := scanJobSchedule(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, sj)
	}
	return out, rows.Err()
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return dbTime(t)
}

// CreateJobSchedule stores sj with its sealed secrets and fills its ID (unless set),
// owner name and times.
func (s *Store) CreateJobSchedule(ctx context.Context, sj *haven.ScheduledJob, secrets string) error {
	spec, err := json.Marshal(sj.Spec)
	if err != nil {
		return err
	}
	if sj.ID == "" {
		sj.ID = newObjectID()
	}
	sj.CreatedAt, sj.UpdatedAt = now(), now()
	if err := s.conn().queryRow(ctx, "SELECT name, is_org FROM users WHERE id = ?", sj.OwnerID).Scan(&sj.Owner, &sj.OwnerIsOrg); err != nil {
		return noRows(err, errUserIDNotFound(sj.OwnerID))
	}
	_, err = s.conn().exec(ctx, `INSERT INTO job_schedules (id, owner_id, creator_id, schedule, suspend, concurrency, spec, secrets,
		next_run_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		sj.ID, sj.OwnerID, sj.CreatorID, sj.Schedule, sj.Suspend, sj.Concurrency, string(spec), secrets, nullTime(sj.NextRunAt), sj.CreatedAt, sj.UpdatedAt)
	return err
}

// JobSchedule returns the scheduled job with the given id.
func (s *Store) JobSchedule(ctx context.Context, id string) (*haven.ScheduledJob, error) {
	sj, err := scanJobSchedule(s.conn().queryRow(ctx, "SELECT "+jobScheduleColumns+jobScheduleFrom+" WHERE s.id = ?", id))
	return sj, noRows(err, errJobScheduleNotFound())
}

// JobScheduleSecrets returns the sealed secrets of a scheduled job.
func (s *Store) JobScheduleSecrets(ctx context.Context, id string) (string, error) {
	var v string
	err := s.conn().queryRow(ctx, "SELECT secrets FROM job_schedules WHERE id = ?", id).Scan(&v)
	return v, noRows(err, errJobScheduleNotFound())
}

// JobSchedulesOf lists the scheduled jobs of a namespace, oldest first.
func (s *Store) JobSchedulesOf(ctx context.Context, ownerID int64) ([]*haven.ScheduledJob, error) {
	return s.jobSchedules(ctx, "WHERE s.owner_id = ? ORDER BY s.created_at", ownerID)
}

// DueJobSchedules lists the scheduled jobs not suspended whose next run is
// at or before t.
func (s *Store) DueJobSchedules(ctx context.Context, t time.Time) ([]*haven.ScheduledJob, error) {
	return s.jobSchedules(ctx, "WHERE s.suspend = ? AND s.next_run_at IS NOT NULL AND s.next_run_at <= ? ORDER BY s.next_run_at", false, dbTime(t))
}

// UpdateJobSchedule stores the schedule, suspension, concurrency, labels
// and next run of sj.
func (s *Store) UpdateJobSchedule(ctx context.Context, sj *haven.ScheduledJob) error {
	spec, err := json.Marshal(sj.Spec)
	if err != nil {
		return err
	}
	sj.UpdatedAt = now()
	return s.conn().execOne(ctx, errJobScheduleNotFound(), `UPDATE job_schedules SET schedule = ?, suspend = ?, concurrency = ?,
		spec = ?, next_run_at = ?, updated_at = ? WHERE id = ?`,
		sj.Schedule, sj.Suspend, sj.Concurrency, string(spec), nullTime(sj.NextRunAt), sj.UpdatedAt, sj.ID)
}

// TakeJobScheduleTick moves a scheduled job's next run from due to next
// and reports whether this caller did it: only the one that does starts
// the run of that tick.
func (s *Store) TakeJobScheduleTick(ctx context.Context, id string, due, next time.Time) (bool, error) {
	res, err := s.conn().exec(ctx, "UPDATE job_schedules SET next_run_at = ? WHERE id = ? AND next_run_at = ?", nullTime(next), id, dbTime(due))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// SetJobScheduleLastJob records the last job a scheduled job started.
func (s *Store) SetJobScheduleLastJob(ctx context.Context, id, jobID string, at time.Time) error {
	_, err := s.conn().exec(ctx, "UPDATE job_schedules SET last_job_id = ?, last_job_at = ? WHERE id = ?", jobID, dbTime(at), id)
	return err
}

// DeleteJobSchedule removes a scheduled job; the jobs it started stay.
func (s *Store) DeleteJobSchedule(ctx context.Context, id string) error {
	return s.conn().execOne(ctx, errJobScheduleNotFound(), "DELETE FROM job_schedules WHERE id = ?", id)
}
