-- repo_changes counts the committed changes to what listings read: repos
-- (rows added, changed or deleted, the counters of likes and downloads
-- included), and the tags and links that filters look up. A listing read
-- after the count was n is still the answer while the count is n, so
-- servers keep encoded listing pages under it (RepoChanges). One row, so
-- that a reader needs a single lookup; SQLite writes one transaction at a
-- time, so the row adds no waiting.
CREATE TABLE repo_changes (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	n  INTEGER NOT NULL
);
INSERT INTO repo_changes (id, n) VALUES (1, 0);

CREATE TRIGGER repo_changes_insert AFTER INSERT ON repos BEGIN
	UPDATE repo_changes SET n = n + 1 WHERE id = 1;
END;

CREATE TRIGGER repo_changes_update AFTER UPDATE ON repos BEGIN
	UPDATE repo_changes SET n = n + 1 WHERE id = 1;
END;

CREATE TRIGGER repo_changes_delete AFTER DELETE ON repos BEGIN
	UPDATE repo_changes SET n = n + 1 WHERE id = 1;
END;

CREATE TRIGGER repo_changes_tags_insert AFTER INSERT ON repo_tags BEGIN
	UPDATE repo_changes SET n = n + 1 WHERE id = 1;
END;

CREATE TRIGGER repo_changes_tags_delete AFTER DELETE ON repo_tags BEGIN
	UPDATE repo_changes SET n = n + 1 WHERE id = 1;
END;

CREATE TRIGGER repo_changes_links_insert AFTER INSERT ON repo_links BEGIN
	UPDATE repo_changes SET n = n + 1 WHERE id = 1;
END;

CREATE TRIGGER repo_changes_links_update AFTER UPDATE ON repo_links BEGIN
	UPDATE repo_changes SET n = n + 1 WHERE id = 1;
END;

CREATE TRIGGER repo_changes_links_delete AFTER DELETE ON repo_links BEGIN
	UPDATE repo_changes SET n = n + 1 WHERE id = 1;
END;
