package meta

import (
	"context"
	"time"
)

// SignInFailures returns how many failed sign-ins key has in its current
// window and when that window ends; none (0) once it ended.
func (s *Store) SignInFailures(ctx context.Context, key string, at time.Time) (int, time.Time, error) {
	var n int
	var reset time.Time
	err := s.conn().queryRow(ctx, "SELECT failures, reset_at FROM signin_failures WHERE key = ? AND reset_at > ?",
		key, dbTime(at)).Scan(&n, &reset)
	if err := noRows(err, nil); err != nil || n == 0 {
		return 0, time.Time{}, err
	}
	return n, reset.UTC(), nil
}

// FailSignIn counts one failed sign-in of key at the given time. The first
// failure opens a window that ends after window; the count starts again
// with the first failure after it ended. Concurrent failures, on any server
// sharing the database, are all counted.
func (s *Store) FailSignIn(ctx context.Context, key string, at time.Time, window time.Duration) error {
	t := dbTime(at)
	_, err := s.conn().exec(ctx, `INSERT INTO signin_failures (key, failures, reset_at) VALUES (?, 1, ?)
		ON CONFLICT (key) DO UPDATE SET
			failures = CASE WHEN signin_failures.reset_at <= ? THEN 1 ELSE signin_failures.failures + 1 END,
			reset_at = CASE WHEN signin_failures.reset_at <= ? THEN excluded.reset_at ELSE signin_failures.reset_at END`,
		key, t.Add(window), t, t)
	return err
}

// ClearSignIn forgets key's failed sign-ins.
func (s *Store) ClearSignIn(ctx context.Context, key string) error {
	_, err := s.conn().exec(ctx, "DELETE FROM signin_failures WHERE key = ?", key)
	return err
}

// DeleteEndedSignInFailures removes the counts whose window ended before
// at, so that the table holds only recent failures.
func (s *Store) DeleteEndedSignInFailures(ctx context.Context, at time.Time) error {
	_, err := s.conn().exec(ctx, "DELETE FROM signin_failures WHERE reset_at <= ?", dbTime(at))
	return err
}
