-- The sort indexes end in private, so that a listing that walks one in
-- order tells public from private rows without reading each row.
DROP INDEX repos_updated;
DROP INDEX repos_created;
DROP INDEX repos_downloads;
DROP INDEX repos_likes;
DROP INDEX repos_trending;
CREATE INDEX repos_updated   ON repos (type, updated_at, id, private);
CREATE INDEX repos_created   ON repos (type, created_at, id, private);
CREATE INDEX repos_downloads ON repos (type, downloads, id, private);
CREATE INDEX repos_likes     ON repos (type, likes, id, private);
CREATE INDEX repos_trending  ON repos (type, trending_score, id, private);

-- A narrow copy of what filters check on every candidate row (type and
-- visibility), so that a plan that starts from tags or search matches looks
-- each one up here instead of in the wide table rows.
CREATE INDEX repos_ident ON repos (id, type, private, ns_key);
