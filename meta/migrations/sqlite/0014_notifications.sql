-- Notifications: messages to one user each (access requests to their
-- repositories, decisions on their requests, mentions), newest first on
-- their page. read_at is NULL while unread.
CREATE TABLE notifications (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	id         TEXT NOT NULL UNIQUE,
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at DATETIME NOT NULL,
	kind       TEXT NOT NULL,
	actor      TEXT NOT NULL DEFAULT '',
	subject    TEXT NOT NULL,
	body       TEXT NOT NULL DEFAULT '',
	url        TEXT NOT NULL DEFAULT '',
	read_at    DATETIME
);
CREATE INDEX notifications_user ON notifications (user_id, seq);
