-- Webhooks that start a job instead of posting to a URL: the job whose
-- spec each event runs again, and the secrets those runs get (sealed).
ALTER TABLE webhooks ADD COLUMN job_source_id TEXT NOT NULL DEFAULT '';
ALTER TABLE webhooks ADD COLUMN job_secrets TEXT NOT NULL DEFAULT '';
