-- Browser sign-ins. Only a digest of the session id is stored, as for
-- tokens, so that a copy of the database cannot be used to sign in.
CREATE TABLE sessions (
	hash         TEXT PRIMARY KEY,
	user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at   DATETIME NOT NULL,
	expires_at   DATETIME NOT NULL
);
CREATE INDEX sessions_user    ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
