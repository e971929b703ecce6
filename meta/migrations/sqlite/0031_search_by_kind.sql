-- Quick search counts the matches of a search by type and visibility.
-- Through repo_search each match had to be looked up in repos to learn them;
-- these two indexes say them in the rowid, id * 8 + type (model 0, dataset
-- 1, Space 2) * 2 + private, so such a count reads the index alone:
-- repo_search_kind, trigrams of "namespace/name" like repo_search, and
-- repo_search_short, every character and every pair of characters of it as
-- words, for text of one or two characters, too short for trigrams (before,
-- every name was read). Neither keeps a copy of the text (content = ''):
-- the triggers delete a row by giving its text again. search_positions
-- numbers the characters of a name, which a trigger cannot do otherwise.
CREATE TABLE search_positions (n INTEGER PRIMARY KEY);
WITH RECURSIVE p (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM p WHERE n < 200)
INSERT INTO search_positions (n) SELECT n FROM p;

CREATE VIRTUAL TABLE repo_search_kind USING fts5 (full_key, content = '', tokenize = 'trigram');
-- Names are made of letters, digits and "-._", joined by "/": with those
-- as word characters, the pairs separated by commas are the words.
CREATE VIRTUAL TABLE repo_search_short USING fts5 (short, content = '', detail = none,
	tokenize = "unicode61 remove_diacritics 0 tokenchars '-._/'");

INSERT INTO repo_search_kind (rowid, full_key) SELECT r.id * 8 + CASE r.type WHEN 'model' THEN 0 WHEN 'dataset' THEN 2 ELSE 4 END + r.private, r.full_key FROM repos r;
INSERT INTO repo_search_short (rowid, short) SELECT r.id * 8 + CASE r.type WHEN 'model' THEN 0 WHEN 'dataset' THEN 2 ELSE 4 END + r.private,
		(SELECT group_concat(DISTINCT substr(r.full_key, p.n, 1)) FROM search_positions p WHERE p.n <= length(r.full_key))
		|| ',' ||
		(SELECT group_concat(DISTINCT substr(r.full_key, p.n, 2)) FROM search_positions p WHERE p.n < length(r.full_key))
	FROM repos r;

CREATE TRIGGER repo_search_kind_insert AFTER INSERT ON repos BEGIN
	INSERT INTO repo_search_kind (rowid, full_key) VALUES (new.id * 8 + CASE new.type WHEN 'model' THEN 0 WHEN 'dataset' THEN 2 ELSE 4 END + new.private, new.full_key);
	INSERT INTO repo_search_short (rowid, short) VALUES (new.id * 8 + CASE new.type WHEN 'model' THEN 0 WHEN 'dataset' THEN 2 ELSE 4 END + new.private,
		(SELECT group_concat(DISTINCT substr(new.full_key, p.n, 1)) FROM search_positions p WHERE p.n <= length(new.full_key))
		|| ',' ||
		(SELECT group_concat(DISTINCT substr(new.full_key, p.n, 2)) FROM search_positions p WHERE p.n < length(new.full_key)));
END;

CREATE TRIGGER repo_search_kind_delete AFTER DELETE ON repos BEGIN
	INSERT INTO repo_search_kind (repo_search_kind, rowid, full_key) VALUES ('delete', old.id * 8 + CASE old.type WHEN 'model' THEN 0 WHEN 'dataset' THEN 2 ELSE 4 END + old.private, old.full_key);
	INSERT INTO repo_search_short (repo_search_short, rowid, short) VALUES ('delete', old.id * 8 + CASE old.type WHEN 'model' THEN 0 WHEN 'dataset' THEN 2 ELSE 4 END + old.private,
		(SELECT group_concat(DISTINCT substr(old.full_key, p.n, 1)) FROM search_positions p WHERE p.n <= length(old.full_key))
		|| ',' ||
		(SELECT group_concat(DISTINCT substr(old.full_key, p.n, 2)) FROM search_positions p WHERE p.n < length(old.full_key)));
END;

CREATE TRIGGER repo_search_kind_update AFTER UPDATE OF full_key, type, private ON repos BEGIN
	INSERT INTO repo_search_kind (repo_search_kind, rowid, full_key) VALUES ('delete', old.id * 8 + CASE old.type WHEN 'model' THEN 0 WHEN 'dataset' THEN 2 ELSE 4 END + old.private, old.full_key);
	INSERT INTO repo_search_short (repo_search_short, rowid, short) VALUES ('delete', old.id * 8 + CASE old.type WHEN 'model' THEN 0 WHEN 'dataset' THEN 2 ELSE 4 END + old.private,
		(SELECT group_concat(DISTINCT substr(old.full_key, p.n, 1)) FROM search_positions p WHERE p.n <= length(old.full_key))
		|| ',' ||
		(SELECT group_concat(DISTINCT substr(old.full_key, p.n, 2)) FROM search_positions p WHERE p.n < length(old.full_key)));
	INSERT INTO repo_search_kind (rowid, full_key) VALUES (new.id * 8 + CASE new.type WHEN 'model' THEN 0 WHEN 'dataset' THEN 2 ELSE 4 END + new.private, new.full_key);
	INSERT INTO repo_search_short (rowid, short) VALUES (new.id * 8 + CASE new.type WHEN 'model' THEN 0 WHEN 'dataset' THEN 2 ELSE 4 END + new.private,
		(SELECT group_concat(DISTINCT substr(new.full_key, p.n, 1)) FROM search_positions p WHERE p.n <= length(new.full_key))
		|| ',' ||
		(SELECT group_concat(DISTINCT substr(new.full_key, p.n, 2)) FROM search_positions p WHERE p.n < length(new.full_key)));
END;

-- search_trigrams counts the repositories whose "namespace/name" holds each
-- trigram. A long search text is looked up by its two rarest trigrams and
-- checked with LIKE: the whole phrase read the trigram index's lists of
-- every trigram in it, and the common ones ("mod", "-mo") hold every name.
CREATE TABLE search_trigrams (trigram TEXT PRIMARY KEY, repos INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO search_trigrams (trigram, repos)
SELECT t, COUNT(*) FROM (SELECT DISTINCT r.id, substr(r.full_key, p.n, 3) AS t FROM repos r
	JOIN search_positions p ON p.n <= length(r.full_key) - 2) GROUP BY t;

CREATE TRIGGER search_trigrams_insert AFTER INSERT ON repos BEGIN
	INSERT INTO search_trigrams (trigram, repos)
	SELECT DISTINCT substr(new.full_key, p.n, 3), 1 FROM search_positions p WHERE p.n <= length(new.full_key) - 2
	ON CONFLICT (trigram) DO UPDATE SET repos = repos + 1;
END;

CREATE TRIGGER search_trigrams_delete AFTER DELETE ON repos BEGIN
	UPDATE search_trigrams SET repos = repos - 1
	WHERE trigram IN (SELECT substr(old.full_key, p.n, 3) FROM search_positions p WHERE p.n <= length(old.full_key) - 2);
END;

CREATE TRIGGER search_trigrams_update AFTER UPDATE OF full_key ON repos BEGIN
	UPDATE search_trigrams SET repos = repos - 1
	WHERE trigram IN (SELECT substr(old.full_key, p.n, 3) FROM search_positions p WHERE p.n <= length(old.full_key) - 2);
	INSERT INTO search_trigrams (trigram, repos)
	SELECT DISTINCT substr(new.full_key, p.n, 3), 1 FROM search_positions p WHERE p.n <= length(new.full_key) - 2
	ON CONFLICT (trigram) DO UPDATE SET repos = repos + 1;
END;
