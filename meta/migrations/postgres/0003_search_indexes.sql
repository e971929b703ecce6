-- Counting the repositories a caller may see reads only this index.
CREATE INDEX repos_visible ON repos (type, private, ns_key);
