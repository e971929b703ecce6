-- Mirrors: a repository kept in step with one on another hub, pulled
-- (mirror_of marks the local repository read-only) or pushed. A sync claims
-- its mirror until claimed_until, so that one runs at a time across
-- processes; next_sync_at is when the scheduler queues the next one.
ALTER TABLE repos ADD COLUMN mirror_of TEXT NOT NULL DEFAULT '';

CREATE TABLE mirrors (
	id               INTEGER PRIMARY KEY AUTOINCREMENT,
	repo_id          INTEGER NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
	direction        TEXT NOT NULL,
	remote           TEXT NOT NULL,
	remote_type      TEXT NOT NULL,
	remote_id        TEXT NOT NULL,
	interval_seconds INTEGER NOT NULL,
	token            TEXT NOT NULL DEFAULT '',
	state            TEXT NOT NULL DEFAULT '',
	next_sync_at     DATETIME NOT NULL,
	last_attempt_at  DATETIME,
	last_success_at  DATETIME,
	last_error       TEXT NOT NULL DEFAULT '',
	claimed_by       TEXT NOT NULL DEFAULT '',
	claimed_until    DATETIME,
	created_at       DATETIME NOT NULL,
	UNIQUE (repo_id, direction, remote, remote_type, remote_id)
);
CREATE INDEX mirrors_due ON mirrors (next_sync_at);
CREATE INDEX mirrors_repo ON mirrors (repo_id);
