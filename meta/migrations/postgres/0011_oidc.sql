-- Accounts of an OpenID Connect provider linked to users. A provider names
-- a person by its issuer and their subject, which never changes, whereas
-- their user name and email may.
CREATE TABLE oidc_identities (
	issuer      TEXT NOT NULL,
	subject     TEXT NOT NULL,
	user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at  TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (issuer, subject)
);
CREATE INDEX oidc_identities_user ON oidc_identities (user_id);
