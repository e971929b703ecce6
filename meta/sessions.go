package meta

import (
	"context"
	"time"

	"github.com/havenhub/haven"
)

// Session is a signed-in browser. The session id itself is known only to
// the browser's cookie; the store keeps a digest of it.
type Session struct {
	UserID    int64
	CreatedAt time.Time
	ExpiresAt time.Time
}

var errSessionNotFound = haven.Errorf(haven.ENotFound, "Session not found")

// CreateSession stores a session of userID under hash, a digest of the
// session id computed by the caller, valid until expires.
func (s *Store) CreateSession(ctx context.Context, userID int64, hash string, expires time.Time) error {
	_, err := s.conn().exec(ctx, "INSERT INTO sessions (hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
		hash, userID, now(), dbTime(expires))
	switch {
	case isForeignKeyViolation(err):
		return errUserIDNotFound(userID)
	case isUniqueViolation(err):
		return haven.Errorf(haven.EConflict, "A session with this hash already exists")
	}
	return err
}

// SessionByHash finds an unexpired session by the digest of its id, with
// its user. An expired session is not found.
func (s *Store) SessionByHash(ctx context.Context, hash string) (*Session, *haven.User, error) {
	var ses Session
	row := s.conn().queryRow(ctx, "SELECT x.user_id, x.created_at, x.expires_at, "+userColumns+
		" FROM sessions x JOIN users u ON u.id = x.user_id WHERE x.hash = ? AND x.expires_at > ?", hash, now())
	u, err := scanUserAfter(row, &ses.UserID, &ses.CreatedAt, &ses.ExpiresAt)
	if err != nil {
		return nil, nil, noRows(err, errSessionNotFound)
	}
	ses.CreatedAt, ses.ExpiresAt = ses.CreatedAt.UTC(), ses.ExpiresAt.UTC()
	return &ses, u, nil
}

// scanUserAfter scans a row of leading columns followed by userColumns.
func scanUserAfter(row scanner, lead ...any) (*haven.User, error) {
	var u haven.User
	dest := append(lead, &u.ID, &u.Name, &u.FullName, &u.Email, &u.IsOrg, &u.IsAdmin, &u.CreatedAt)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return &u, nil
}

// DeleteSession ends a session (signing out). Ending a session that does
// not exist is not an error: the browser is signed out either way.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	_, err := s.conn().exec(ctx, "DELETE FROM sessions WHERE hash = ?", hash)
	return err
}

// DeleteUserSessions ends every session of a user, e.g. after a password
// change.
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64) error {
	_, err := s.conn().exec(ctx, "DELETE FROM sessions WHERE user_id = ?", userID)
	return err
}

// DeleteExpiredSessions removes the sessions that expired before now and
// reports how many there were.
func (s *Store) DeleteExpiredSessions(ctx context.Context) (int64, error) {
	res, err := s.conn().exec(ctx, "DELETE FROM sessions WHERE expires_at <= ?", now())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
