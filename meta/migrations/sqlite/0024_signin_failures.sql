-- Failed sign-ins per account and per client address, counted in the
-- database so that every server sharing it enforces the same limits.
CREATE TABLE signin_failures (
	key       TEXT PRIMARY KEY,
	failures  INTEGER NOT NULL,
	reset_at  DATETIME NOT NULL
);
CREATE INDEX signin_failures_reset ON signin_failures (reset_at);
