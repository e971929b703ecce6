-- Discussions and pull requests of a repository. They share one sequence of
-- numbers per repository, as on the Hub; a pull request's commits live on
-- refs/pr/{num} of the repository.
CREATE TABLE discussions (
	id                INTEGER PRIMARY KEY AUTOINCREMENT,
	object_id         TEXT NOT NULL UNIQUE,            -- 24 lowercase hex digits, the Hub's "_id"
	repo_id           INTEGER NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
	num               INTEGER NOT NULL,
	title             TEXT NOT NULL,
	author            TEXT NOT NULL,                   -- user name at the time of writing
	status            TEXT NOT NULL,                   -- open, closed, merged, draft
	is_pull_request   BOOLEAN NOT NULL,
	target_ref        TEXT NOT NULL DEFAULT '',        -- refs/heads/{branch} a pull request merges into
	merge_commit      TEXT NOT NULL DEFAULT '',
	conflicting_files TEXT NOT NULL DEFAULT '',        -- newline-separated paths of the last failed merge
	created_at        DATETIME NOT NULL,
	updated_at        DATETIME NOT NULL,
	UNIQUE (repo_id, num)
);
CREATE INDEX discussions_repo_author ON discussions (repo_id, author);

-- What happened in a discussion, in order: comments (their latest text in
-- body, every version in discussion_comment_versions), status changes, title
-- changes and commits (their fields as JSON in data).
CREATE TABLE discussion_events (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	object_id     TEXT NOT NULL UNIQUE,
	discussion_id INTEGER NOT NULL REFERENCES discussions (id) ON DELETE CASCADE,
	type          TEXT NOT NULL,
	author        TEXT NOT NULL,
	body          TEXT NOT NULL DEFAULT '',
	hidden        BOOLEAN NOT NULL DEFAULT FALSE,
	hidden_by     TEXT NOT NULL DEFAULT '',
	data          TEXT NOT NULL DEFAULT '{}',
	created_at    DATETIME NOT NULL,
	updated_at    DATETIME NOT NULL
);
CREATE INDEX discussion_events_discussion ON discussion_events (discussion_id, id);

CREATE TABLE discussion_comment_versions (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	event_id   INTEGER NOT NULL REFERENCES discussion_events (id) ON DELETE CASCADE,
	body       TEXT NOT NULL,
	author     TEXT NOT NULL,
	created_at DATETIME NOT NULL
);
CREATE INDEX discussion_comment_versions_event ON discussion_comment_versions (event_id, id);
