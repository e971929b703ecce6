-- tag_bits is a 63-bit Bloom filter of the repository's tags (meta/tagbits.go):
-- a listing filtered by tags tests it on the sort index it walks, and looks
-- the tags up only for the rows that pass. -1 (every bit) means "not
-- computed yet": such a row passes the test, and Open fills it in.
ALTER TABLE repos ADD COLUMN tag_bits BIGINT NOT NULL DEFAULT -1;
DROP INDEX repos_updated;
DROP INDEX repos_created;
DROP INDEX repos_downloads;
DROP INDEX repos_likes;
DROP INDEX repos_trending;
DROP INDEX repos_card_score;
CREATE INDEX repos_updated    ON repos (type, updated_at, id, private, tag_bits);
CREATE INDEX repos_created    ON repos (type, created_at, id, private, tag_bits);
CREATE INDEX repos_downloads  ON repos (type, downloads, id, private, tag_bits);
CREATE INDEX repos_likes      ON repos (type, likes, id, private, tag_bits);
CREATE INDEX repos_trending   ON repos (type, trending_score, id, private, tag_bits);
CREATE INDEX repos_card_score ON repos (type, card_score, id, private, tag_bits);
-- What Open still has to fill in, found without reading the table.
CREATE INDEX repos_tag_bits_unknown ON repos (id) WHERE tag_bits = -1;
-- Search text too short for the trigram index (and every search on
-- PostgreSQL) is a LIKE on each name: counting its matches reads this index
-- instead of the wide rows.
CREATE INDEX repos_search_key ON repos (type, private, full_key, ns_key);
