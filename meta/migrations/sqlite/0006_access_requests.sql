-- Requests for the files of gated repositories: one row per user and
-- repository, whose status owners move between pending, accepted and
-- rejected. An accepted row is what lets a user outside the namespace in.
CREATE TABLE access_requests (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	repo_id    INTEGER NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	status     TEXT NOT NULL,                 -- pending, accepted or rejected
	fields     TEXT NOT NULL DEFAULT '{}',    -- JSON object: the form's answers
	reason     TEXT NOT NULL DEFAULT '',      -- shown to a rejected requester
	granted    BOOLEAN NOT NULL DEFAULT FALSE, -- added by an owner, not asked for
	decided_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	decided_at DATETIME,
	UNIQUE (repo_id, user_id)
);

-- Authentication loads a user's requests once per identity it builds.
CREATE INDEX access_requests_user ON access_requests (user_id);
CREATE INDEX access_requests_repo_status ON access_requests (repo_id, status, created_at);
