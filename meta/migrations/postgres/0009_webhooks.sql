-- Webhooks: a user's subscriptions to the events of repositories, sent to a
-- URL. domains is a comma-separated list ("repo,discussion").
CREATE TABLE webhooks (
	id              TEXT PRIMARY KEY,
	owner_id        BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	url             TEXT NOT NULL,
	domains         TEXT NOT NULL,
	secret          TEXT NOT NULL DEFAULT '',
	disabled        BOOLEAN NOT NULL DEFAULT FALSE,
	last_trigger_at TIMESTAMPTZ,
	created_at      TIMESTAMPTZ NOT NULL,
	updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhooks_owner ON webhooks (owner_id, created_at);

-- What a webhook watches, one row per item, so that the webhooks of an
-- event are found by index: type is user, org, model, dataset or space;
-- name_key is the lower-cased name ("ns" or "ns/name"), name as given.
CREATE TABLE webhook_watches (
	webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
	position   INTEGER NOT NULL,
	type       TEXT NOT NULL,
	name       TEXT NOT NULL,
	name_key   TEXT NOT NULL,
	PRIMARY KEY (webhook_id, position)
);
CREATE INDEX webhook_watches_key ON webhook_watches (type, name_key);

-- The delivery log: one row per attempt, with the payload so that it can
-- be replayed.
CREATE TABLE webhook_deliveries (
	id          TEXT PRIMARY KEY,
	webhook_id  TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
	event       TEXT NOT NULL,
	payload     TEXT NOT NULL,
	status      INTEGER NOT NULL DEFAULT 0,
	duration_ms BIGINT NOT NULL DEFAULT 0,
	response    TEXT NOT NULL DEFAULT '',
	error       TEXT NOT NULL DEFAULT '',
	attempt     INTEGER NOT NULL,
	created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, created_at);
