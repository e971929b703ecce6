-- Fine-grained tokens keep their scopes with the row, as the JSON whoami-v2
-- reports, so that authenticating a token stays one query. expires_at is
-- NULL for tokens that do not expire.
ALTER TABLE tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN expires_at DATETIME;

-- An organisation's default visibility for new repositories.
ALTER TABLE users ADD COLUMN default_private BOOLEAN NOT NULL DEFAULT FALSE;
