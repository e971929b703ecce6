-- Storage buckets: files named by path and stored in the Xet CAS by their
-- Xet hash, without history. total_size and total_files follow the files.
CREATE TABLE buckets (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	namespace   TEXT NOT NULL,
	name        TEXT NOT NULL,
	ns_key      TEXT NOT NULL,
	name_key    TEXT NOT NULL,
	private     BOOLEAN NOT NULL DEFAULT FALSE,
	created_at  DATETIME NOT NULL,
	updated_at  DATETIME NOT NULL,
	total_size  INTEGER NOT NULL DEFAULT 0,
	total_files INTEGER NOT NULL DEFAULT 0,
	UNIQUE (ns_key, name_key)
);

-- A bucket's files; mtime is the uploader's last write of the file.
CREATE TABLE bucket_files (
	bucket_id   INTEGER NOT NULL REFERENCES buckets (id) ON DELETE CASCADE,
	path        TEXT NOT NULL,
	xet_hash    TEXT NOT NULL,
	size        INTEGER NOT NULL,
	mtime       DATETIME NOT NULL,
	uploaded_at DATETIME NOT NULL,
	PRIMARY KEY (bucket_id, path)
);
CREATE INDEX bucket_files_hash ON bucket_files (xet_hash);
