-- Replicas of haven serve sharing the database: each renews heartbeat_at
-- every few seconds, and one whose heartbeat is older than the expiry is
-- taken for dead. url is the address the others reach it at.
CREATE TABLE replicas (
	id           TEXT PRIMARY KEY,
	url          TEXT NOT NULL DEFAULT '',
	started_at   DATETIME NOT NULL,
	heartbeat_at DATETIME NOT NULL
);

-- The replica that runs a job (set when it starts), and a cancel asked of
-- it on another replica, which the runner polls.
ALTER TABLE job_runs ADD COLUMN replica_id TEXT NOT NULL DEFAULT '';
ALTER TABLE job_runs ADD COLUMN cancel_requested BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX job_runs_replica ON job_runs (replica_id, stage);

-- The replica that runs each Space's app: held while that replica's
-- heartbeat lasts, taken over by another once it expired.
CREATE TABLE space_holders (
	repo_id    INTEGER PRIMARY KEY REFERENCES repos (id) ON DELETE CASCADE,
	replica_id TEXT NOT NULL,
	since      DATETIME NOT NULL
);

-- Work that one replica does for all, by name (the dedicated endpoints):
-- held while that replica's heartbeat lasts, like a Space.
CREATE TABLE replica_holds (
	name       TEXT PRIMARY KEY,
	replica_id TEXT NOT NULL,
	since      DATETIME NOT NULL
);
