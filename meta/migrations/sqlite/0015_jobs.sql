-- Jobs: runs of a command in a namespace's name. spec is the JobSpec as
-- JSON (secret names only); secrets holds the sealed values until the job
-- ends.
CREATE TABLE job_runs (
	id             TEXT PRIMARY KEY,
	owner_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	initiator_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	initiator_type TEXT NOT NULL,
	schedule_id    TEXT NOT NULL DEFAULT '',
	spec           TEXT NOT NULL,
	secrets        TEXT NOT NULL DEFAULT '',
	stage          TEXT NOT NULL,
	message        TEXT NOT NULL DEFAULT '',
	created_at     DATETIME NOT NULL,
	started_at     DATETIME,
	finished_at    DATETIME
);
CREATE INDEX job_runs_owner ON job_runs (owner_id, created_at);
CREATE INDEX job_runs_stage ON job_runs (stage);
CREATE INDEX job_runs_schedule ON job_runs (schedule_id, created_at);

-- Scheduled jobs: a JobSpec started on every tick of a cron schedule.
-- next_run_at moves forward as each tick is taken, so that one tick starts
-- one job even with several Havens.
CREATE TABLE job_schedules (
	id          TEXT PRIMARY KEY,
	owner_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	creator_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	schedule    TEXT NOT NULL,
	suspend     BOOLEAN NOT NULL DEFAULT FALSE,
	concurrency BOOLEAN NOT NULL DEFAULT FALSE,
	spec        TEXT NOT NULL,
	secrets     TEXT NOT NULL DEFAULT '',
	last_job_id TEXT NOT NULL DEFAULT '',
	last_job_at DATETIME,
	next_run_at DATETIME,
	created_at  DATETIME NOT NULL,
	updated_at  DATETIME NOT NULL
);
CREATE INDEX job_schedules_owner ON job_schedules (owner_id, created_at);
CREATE INDEX job_schedules_next ON job_schedules (next_run_at);
