-- Pinned and locked discussions, reactions to comments, upvotes of
-- collections, invitations by email and social handles. reaction_users
-- counts the users who reacted to a discussion's opening comment, kept
-- with each reaction, so that the listing sorts by it without reading the
-- reactions.
ALTER TABLE discussions ADD COLUMN pinned BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE discussions ADD COLUMN locked BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE discussions ADD COLUMN reaction_users INTEGER NOT NULL DEFAULT 0;

CREATE TABLE discussion_reactions (
	event_id      BIGINT NOT NULL REFERENCES discussion_events (id) ON DELETE CASCADE,
	discussion_id BIGINT NOT NULL REFERENCES discussions (id) ON DELETE CASCADE,
	author        TEXT NOT NULL,
	reaction      TEXT NOT NULL,
	created_at    TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (event_id, author, reaction)
);
CREATE INDEX discussion_reactions_discussion ON discussion_reactions (discussion_id, created_at);
-- The trending order counts each discussion's recent comments from this
-- index alone.
CREATE INDEX discussion_events_recent ON discussion_events (discussion_id, type, created_at);

CREATE TABLE collection_upvotes (
	collection_id TEXT NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
	user_id       BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at    TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (collection_id, user_id)
);
CREATE INDEX collection_upvotes_user ON collection_upvotes (user_id);

-- The listing shows pinned discussions first: its index walks pinned, then
-- num, and still holds every column the listing filters on.
DROP INDEX discussions_listing;
CREATE INDEX discussions_listing ON discussions (repo_id, pinned, num, status, is_pull_request, author);
-- The same for the order by reactions.
CREATE INDEX discussions_by_reactions ON discussions (repo_id, pinned, reaction_users, num, status, is_pull_request, author);

-- Invitations to organisations sent to email addresses that have no
-- account yet: kept until someone signs in with that address verified,
-- when each becomes an invitation of theirs. email_key is the address in
-- lower case.
CREATE TABLE org_email_invitations (
	id         TEXT PRIMARY KEY,
	org_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	email      TEXT NOT NULL,
	email_key  TEXT NOT NULL,
	role       TEXT NOT NULL,
	inviter    TEXT NOT NULL DEFAULT '',
	mailed     BOOLEAN NOT NULL DEFAULT FALSE,
	created_at TIMESTAMPTZ NOT NULL,
	UNIQUE (org_id, email_key)
);
CREATE INDEX org_email_invitations_email ON org_email_invitations (email_key);

-- The handles users and organisations give on other sites.
ALTER TABLE users ADD COLUMN github TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN twitter TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN linkedin TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN bluesky TEXT NOT NULL DEFAULT '';
