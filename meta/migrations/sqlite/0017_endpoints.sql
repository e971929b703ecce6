-- Dedicated inference endpoints. config is the endpoint's configuration as
-- the API shows it (JSON, without secret values); secrets are sealed.
-- stable is the revision that the endpoint's model and compute show.
CREATE TABLE endpoints (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	namespace   TEXT NOT NULL,
	name        TEXT NOT NULL,
	ns_key      TEXT NOT NULL,
	name_key    TEXT NOT NULL,
	config      TEXT NOT NULL,
	secrets     TEXT NOT NULL DEFAULT '',
	state       TEXT NOT NULL,
	message     TEXT NOT NULL DEFAULT '',
	stable      INTEGER NOT NULL DEFAULT 0,
	created_at  DATETIME NOT NULL,
	created_by  TEXT NOT NULL DEFAULT '',
	updated_at  DATETIME NOT NULL,
	updated_by  TEXT NOT NULL DEFAULT '',
	UNIQUE (ns_key, name_key)
);

-- An endpoint's revisions: immutable model and compute, pinned to a commit.
-- stats are its request statistics, saved from time to time.
CREATE TABLE endpoint_revisions (
	endpoint_id INTEGER NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
	number      INTEGER NOT NULL,
	commit_sha  TEXT NOT NULL,
	config      TEXT NOT NULL,
	secrets     TEXT NOT NULL DEFAULT '',
	state       TEXT NOT NULL,
	message     TEXT NOT NULL DEFAULT '',
	stats       TEXT NOT NULL DEFAULT '',
	created_at  DATETIME NOT NULL,
	PRIMARY KEY (endpoint_id, number)
);

-- How an endpoint's requests are split between its revisions.
CREATE TABLE endpoint_traffic (
	endpoint_id INTEGER NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
	revision    INTEGER NOT NULL,
	percent     INTEGER NOT NULL,
	PRIMARY KEY (endpoint_id, revision)
);
