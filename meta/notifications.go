package meta

import (
	"context"
	"database/sql"

	"github.com/havenhub/haven"
)

// Notification listings are at most this long.
const (
	DefaultNotificationLimit = 50
	MaxNotificationLimit     = 1000
)

// AddNotification stores n for its recipient, unread, and fills its ID
// and Time.
func (s *Store) AddNotification(ctx context.Context, n *haven.Notification) error {
	if n.UserID == 0 || n.Kind == "" {
		return haven.Errorf(haven.EInvalid, "A notification needs a recipient and a kind")
	}
	n.ID, n.Time, n.Read = newObjectID(), orNow(n.Time), false
	_, err := s.conn().exec(ctx, `INSERT INTO notifications (id, user_id, created_at, kind, actor, subject, body, url)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, n.ID, n.UserID, n.Time, n.Kind, n.Actor, n.Subject, n.Body, n.URL)
	return err
}

// Notifications lists a user's notifications, newest first; before, when
// not "", continues after the notification with that id.
func (s *Store) Notifications(ctx context.Context, userID int64, before string, limit int) ([]*haven.Notification, error) {
	if limit <= 0 {
		limit = DefaultNotificationLimit
	}
	limit = min(limit, MaxNotificationLimit)
	where, args := "user_id = ?", []any{userID}
	if before != "" {
		where += " AND seq < (SELECT seq FROM notifications WHERE id = ? AND user_id = ?)"
		args = append(args, before, userID)
	}
	rows, err := s.conn().query(ctx, `SELECT id, user_id, created_at, kind, actor, subject, body, url, read_at
		FROM notifications WHERE `+where+` ORDER BY seq DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*haven.Notification
	for rows.Next() {
		var n haven.Notification
		var readAt sql.NullTime
		if err := rows.Scan(&n.ID, &n.UserID, &n.Time, &n.Kind, &n.Actor, &n.Subject, &n.Body, &n.URL, &readAt); err != nil {
			return nil, err
		}
		n.Time, n.Read = n.Time.UTC(), readAt.Valid
		out = append(out, &n)
	}
	return out, rows.Err()
}

// UnreadNotifications counts a user's unread notifications.
func (s *Store) UnreadNotifications(ctx context.Context, userID int64) (int, error) {
	var n int
	err := s.conn().queryRow(ctx, "SELECT COUNT(*) FROM notifications WHERE user_id = ? AND read_at IS NULL", userID).Scan(&n)
	return n, err
}

// MarkNotificationsRead marks every notification of a user read.
func (s *Store) MarkNotificationsRead(ctx context.Context, userID int64) error {
	_, err := s.conn().exec(ctx, "UPDATE notifications SET read_at = ? WHERE user_id = ? AND read_at IS NULL", now(), userID)
	return err
}
