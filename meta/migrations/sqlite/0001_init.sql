-- Users and organisations share one namespace: an organisation is a user
-- row with is_org set. name_key is the lower-cased name, so that names are
-- unique case-insensitively while the chosen spelling is kept.
CREATE TABLE users (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	name          TEXT NOT NULL,
	name_key      TEXT NOT NULL UNIQUE,
	full_name     TEXT NOT NULL DEFAULT '',
	email         TEXT NOT NULL DEFAULT '',
	is_org        BOOLEAN NOT NULL DEFAULT FALSE,
	is_admin      BOOLEAN NOT NULL DEFAULT FALSE,
	password_hash TEXT NOT NULL DEFAULT '',
	created_at    DATETIME NOT NULL
);

CREATE TABLE members (
	org_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	role       TEXT NOT NULL,
	created_at DATETIME NOT NULL,
	PRIMARY KEY (org_id, user_id)
);
CREATE INDEX members_user ON members (user_id);

CREATE TABLE tokens (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	display_name TEXT NOT NULL DEFAULT '',
	role         TEXT NOT NULL,
	hash         TEXT NOT NULL UNIQUE,
	created_at   DATETIME NOT NULL,
	last_used_at DATETIME
);
CREATE INDEX tokens_user ON tokens (user_id);

-- The counters (downloads, likes, trending_score) are kept on the row so
-- that listings sorted by them walk an index instead of aggregating.
CREATE TABLE repos (
	id                 INTEGER PRIMARY KEY AUTOINCREMENT,
	type               TEXT NOT NULL,
	namespace          TEXT NOT NULL,
	name               TEXT NOT NULL,
	ns_key             TEXT NOT NULL,
	name_key           TEXT NOT NULL,
	full_key           TEXT NOT NULL,
	private            BOOLEAN NOT NULL DEFAULT FALSE,
	gated              TEXT NOT NULL DEFAULT '',
	created_at         DATETIME NOT NULL,
	updated_at         DATETIME NOT NULL,
	sha                TEXT NOT NULL DEFAULT '',
	card_data          TEXT NOT NULL DEFAULT '',
	tags               TEXT NOT NULL DEFAULT '',
	pipeline_tag       TEXT NOT NULL DEFAULT '',
	library_name       TEXT NOT NULL DEFAULT '',
	sdk                TEXT NOT NULL DEFAULT '',
	used_storage       INTEGER NOT NULL DEFAULT 0,
	default_branch     TEXT NOT NULL DEFAULT '',
	downloads          INTEGER NOT NULL DEFAULT 0,
	downloads_all_time INTEGER NOT NULL DEFAULT 0,
	likes              INTEGER NOT NULL DEFAULT 0,
	trending_score     INTEGER NOT NULL DEFAULT 0,
	UNIQUE (type, ns_key, name_key)
);
CREATE INDEX repos_updated   ON repos (type, updated_at, id);
CREATE INDEX repos_created   ON repos (type, created_at, id);
CREATE INDEX repos_downloads ON repos (type, downloads, id);
CREATE INDEX repos_likes     ON repos (type, likes, id);
CREATE INDEX repos_trending  ON repos (type, trending_score, id);

CREATE TABLE repo_tags (
	repo_id INTEGER NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
	tag     TEXT NOT NULL,
	PRIMARY KEY (repo_id, tag)
);
CREATE INDEX repo_tags_tag ON repo_tags (tag, repo_id);

-- A redirect points at the repository, not at a name, so a chain of moves
-- always resolves to the current name.
CREATE TABLE repo_redirects (
	type       TEXT NOT NULL,
	ns_key     TEXT NOT NULL,
	name_key   TEXT NOT NULL,
	repo_id    INTEGER NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
	created_at DATETIME NOT NULL,
	PRIMARY KEY (type, ns_key, name_key)
);
CREATE INDEX repo_redirects_repo ON repo_redirects (repo_id);

CREATE TABLE likes (
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	repo_id    INTEGER NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
	created_at DATETIME NOT NULL,
	PRIMARY KEY (user_id, repo_id)
);
CREATE INDEX likes_repo ON likes (repo_id, created_at);
CREATE INDEX likes_user ON likes (user_id, created_at);

CREATE TABLE downloads (
	repo_id INTEGER NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
	day     DATETIME NOT NULL,
	count   INTEGER NOT NULL,
	PRIMARY KEY (repo_id, day)
);

-- due_at is when a job may next be leased: its run_at while queued, the end
-- of its lease while leased (so that a crashed worker's job comes back).
CREATE TABLE jobs (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	kind       TEXT NOT NULL,
	payload    BLOB,
	state      TEXT NOT NULL,
	attempts   INTEGER NOT NULL DEFAULT 0,
	last_error TEXT NOT NULL DEFAULT '',
	leased_by  TEXT NOT NULL DEFAULT '',
	run_at     DATETIME NOT NULL,
	due_at     DATETIME NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL
);
CREATE INDEX jobs_due ON jobs (due_at, id) WHERE state IN ('queued', 'leased');
