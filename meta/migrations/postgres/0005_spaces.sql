-- What each Space's app is doing, so that a restart of Haven brings it back
-- to the same stage, and what its owner asked of it.
CREATE TABLE space_state (
	repo_id       BIGINT PRIMARY KEY REFERENCES repos (id) ON DELETE CASCADE,
	stage         TEXT NOT NULL DEFAULT '',
	error_message TEXT NOT NULL DEFAULT '',
	sha           TEXT NOT NULL DEFAULT '',   -- the revision the app runs (or last tried)
	hardware      TEXT NOT NULL DEFAULT '',   -- requested flavor; '' = the default
	sleep_seconds BIGINT,                    -- NULL = the default, -1 = never
	updated_at    TIMESTAMPTZ NOT NULL
);

-- A Space's variables (readable by whoever reads the repository) and
-- secrets (write-only; values encrypted by the caller before they get here).
CREATE TABLE space_env (
	repo_id     BIGINT NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
	secret      BOOLEAN NOT NULL,
	key         TEXT NOT NULL,
	value       TEXT NOT NULL,
	description TEXT NOT NULL DEFAULT '',
	updated_at  TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (repo_id, secret, key)
);
