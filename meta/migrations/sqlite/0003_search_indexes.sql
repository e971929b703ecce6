-- Counting the repositories a caller may see reads only this index.
CREATE INDEX repos_visible ON repos (type, private, ns_key);

-- A trigram index over "namespace/name" so that substring searches of
-- three or more characters need not read every repository. It mirrors
-- repos.full_key through triggers.
CREATE VIRTUAL TABLE repo_search USING fts5 (full_key, content = 'repos', content_rowid = 'id', tokenize = 'trigram');

INSERT INTO repo_search (rowid, full_key) SELECT id, full_key FROM repos;

CREATE TRIGGER repo_search_insert AFTER INSERT ON repos BEGIN
	INSERT INTO repo_search (rowid, full_key) VALUES (new.id, new.full_key);
END;

CREATE TRIGGER repo_search_delete AFTER DELETE ON repos BEGIN
	INSERT INTO repo_search (repo_search, rowid, full_key) VALUES ('delete', old.id, old.full_key);
END;

CREATE TRIGGER repo_search_update AFTER UPDATE OF full_key ON repos BEGIN
	INSERT INTO repo_search (repo_search, rowid, full_key) VALUES ('delete', old.id, old.full_key);
	INSERT INTO repo_search (rowid, full_key) VALUES (new.id, new.full_key);
END;
