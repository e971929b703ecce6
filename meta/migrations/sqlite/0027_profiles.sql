-- What users and organisations say of themselves (a description, a
-- website, an uploaded avatar kept in the blob store), who follows whom,
-- and invitations to organisations waiting for an answer.
ALTER TABLE users ADD COLUMN details TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN website TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN avatar_key TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN avatar_type TEXT NOT NULL DEFAULT '';

CREATE TABLE follows (
	follower_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	followee_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at  DATETIME NOT NULL,
	PRIMARY KEY (follower_id, followee_id)
);
CREATE INDEX follows_followee ON follows (followee_id, follower_id);

CREATE TABLE org_invitations (
	id         TEXT PRIMARY KEY,
	org_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	role       TEXT NOT NULL,
	inviter    TEXT NOT NULL DEFAULT '',
	created_at DATETIME NOT NULL,
	UNIQUE (org_id, user_id)
);
CREATE INDEX org_invitations_user ON org_invitations (user_id);
