-- The audit log: security-relevant actions, append-only. namespace_key is
-- the lower-cased namespace the action concerns (an org's admins read
-- it); details is a JSON object.
CREATE TABLE audit_log (
	seq           BIGSERIAL PRIMARY KEY,
	id            TEXT NOT NULL UNIQUE,
	created_at    TIMESTAMPTZ NOT NULL,
	action        TEXT NOT NULL,
	actor_id      BIGINT NOT NULL DEFAULT 0,
	actor_name    TEXT NOT NULL DEFAULT '',
	actor_type    TEXT NOT NULL DEFAULT 'user',
	token_id      BIGINT NOT NULL DEFAULT 0,
	ip            TEXT NOT NULL DEFAULT '',
	user_agent    TEXT NOT NULL DEFAULT '',
	namespace     TEXT NOT NULL DEFAULT '',
	namespace_key TEXT NOT NULL DEFAULT '',
	target_type   TEXT NOT NULL DEFAULT '',
	target        TEXT NOT NULL DEFAULT '',
	details       TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_namespace ON audit_log (namespace_key, seq);
CREATE INDEX audit_log_actor ON audit_log (actor_id, seq);
