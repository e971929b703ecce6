-- Collections: ordered lists of repositories, papers and other collections,
-- owned by a user or an organisation. id is the 24-hex id that ends the
-- slug; the title part of a slug is derived, never stored, so old slugs
-- keep working after a rename.
CREATE TABLE collections (
	id          TEXT PRIMARY KEY,
	owner_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	title       TEXT NOT NULL,
	description TEXT NOT NULL DEFAULT '',
	private     BOOLEAN NOT NULL DEFAULT FALSE,
	theme       TEXT NOT NULL DEFAULT 'orange',
	position    INTEGER NOT NULL,
	upvotes     BIGINT NOT NULL DEFAULT 0,
	created_at  TIMESTAMPTZ NOT NULL,
	updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX collections_owner ON collections (owner_id, position);
CREATE INDEX collections_updated ON collections (updated_at, id);

-- An item points at a repository by its row (so renames follow it and a
-- deleted repository leaves its collections), at another collection, or at
-- a paper by its arXiv id. item_key ("repo:12", "collection:…", "paper:…")
-- keeps an item from being added twice and serves the listing by item.
CREATE TABLE collection_items (
	id            TEXT PRIMARY KEY,
	collection_id TEXT NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
	type          TEXT NOT NULL,
	item_key      TEXT NOT NULL,
	repo_id       BIGINT REFERENCES repos (id) ON DELETE CASCADE,
	ref_id        TEXT REFERENCES collections (id) ON DELETE CASCADE,
	paper_id      TEXT NOT NULL DEFAULT '',
	note          TEXT NOT NULL DEFAULT '',
	position      INTEGER NOT NULL,
	created_at    TIMESTAMPTZ NOT NULL,
	UNIQUE (collection_id, item_key)
);
CREATE INDEX collection_items_order ON collection_items (collection_id, position);
CREATE INDEX collection_items_key ON collection_items (item_key);
