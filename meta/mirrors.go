package meta

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/havenhub/haven"
)

func errMirrorNotFound() error { return haven.Errorf(haven.ENotFound, "Mirror not found") }

const mirrorColumns = `id, repo_id, direction, remote, remote_type, remote_id, interval_seconds, token, state,
	next_sync_at, last_attempt_at, last_success_at, last_error, created_at`

func scanMirror(row interface{ Scan(...any) error }) (*haven.Mirror, error) {
	var (
		m                  haven.Mirror
		remoteType, rid    string
		interval           int64
		attempt, succeeded sql.NullTime
	)
	if err := row.Scan(&m.ID, &m.RepoID, &m.Direction, &m.Remote, &remoteType, &rid, &interval, &m.Token, &m.State,
		&m.NextSyncAt, &attempt, &succeeded, &m.LastError, &m.CreatedAt); err != nil {
		return nil, err
	}
	m.RemoteType = haven.RepoType(remoteType)
	m.RemoteID.Namespace, m.RemoteID.Name, _ = strings.Cut(rid, "/")
	m.Interval = time.Duration(interval) * time.Second
	m.NextSyncAt, m.CreatedAt = m.NextSyncAt.UTC(), m.CreatedAt.UTC()
	if attempt.Valid {
		m.LastAttemptAt = attempt.Time.UTC()
	}
	if succeeded.Valid {
		m.LastSuccessAt = succeeded.Time.UTC()
	}
	return &m, nil
}

func scanMirrors(rows *sql.Rows, err error) ([]*haven.Mirror, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*haven.Mirror
	for rows.Next() {
		m, err := scanMirror(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// CreateMirror stores a mirror of m.RepoID and fills its ID and times. A
// pull mirror also marks its repository read-only (Repo.MirrorOf); a
// repository has at most one pull mirror, and the same remote twice in one
// direction is a conflict.
func (s *Store) CreateMirror(ctx context.Context, m *haven.Mirror) error {
	if m.Direction != haven.MirrorPull && m.Direction != haven.MirrorPush {
		return haven.Errorf(haven.EInvalid, "Invalid mirror direction %q: expected %q or %q", m.Direction, haven.MirrorPull, haven.MirrorPush)
	}
	m.CreatedAt = now()
	if m.NextSyncAt.IsZero() {
		m.NextSyncAt = m.CreatedAt
	}
	m.NextSyncAt = dbTime(m.NextSyncAt)
	return s.inTx(ctx, func(c conn) error {
		if m.Direction == haven.MirrorPull {
			var n int
			if err := c.queryRow(ctx, "SELECT COUNT(*) FROM mirrors WHERE repo_id = ? AND direction = ?", m.RepoID, haven.MirrorPull).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return haven.Errorf(haven.EConflict, "This repository already mirrors another one")
			}
			if err := c.execOne(ctx, haven.Errorf(haven.ERepoNotFound, "Repository not found"), "UPDATE repos SET mirror_of = ? WHERE id = ?", m.RemoteURL(), m.RepoID); err != nil {
				return err
			}
		}
		err := c.queryRow(ctx, `INSERT INTO mirrors (repo_id, direction, remote, remote_type, remote_id, interval_seconds,
			token, state, next_sync_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			m.RepoID, m.Direction, m.Remote, string(m.RemoteType), m.RemoteID.String(), int64(m.Interval/time.Second),
			m.Token, m.State, m.NextSyncAt, m.CreatedAt).Scan(&m.ID)
		if isUniqueViolation(err) {
			return haven.Errorf(haven.EConflict, "This repository already %ss %s", m.Direction, m.RemoteURL())
		}
		return err
	})
}

// MirrorByID finds a mirror.
func (s *Store) MirrorByID(ctx context.Context, id int64) (*haven.Mirror, error) {
	m, err := scanMirror(s.conn().queryRow(ctx, "SELECT "+mirrorColumns+" FROM mirrors WHERE id = ?", id))
	return m, noRows(err, errMirrorNotFound())
}

// MirrorsOfRepo lists a repository's mirrors, pull first, then by id.
func (s *Store) MirrorsOfRepo(ctx context.Context, repoID int64) ([]*haven.Mirror, error) {
	return scanMirrors(s.conn().query(ctx, "SELECT "+mirrorColumns+" FROM mirrors WHERE repo_id = ? ORDER BY direction, id", repoID))
}

// ListMirrors lists every mirror by id.
func (s *Store) ListMirrors(ctx context.Context) ([]*haven.Mirror, error) {
	return scanMirrors(s.conn().query(ctx, "SELECT "+mirrorColumns+" FROM mirrors ORDER BY id"))
}

// DeleteMirror removes a mirror; a pull mirror's repository becomes an
// ordinary, writable repository with the content it has.
func (s *Store) DeleteMirror(ctx context.Context, id int64) error {
	return s.inTx(ctx, func(c conn) error {
		m, err := scanMirror(c.queryRow(ctx, "SELECT "+mirrorColumns+" FROM mirrors WHERE id = ?", id))
		if err != nil {
			return noRows(err, errMirrorNotFound())
		}
		if m.Direction == haven.MirrorPull {
			if _, err := c.exec(ctx, "UPDATE repos SET mirror_of = '' WHERE id = ?", m.RepoID); err != nil {
				return err
			}
		}
		return c.execOne(ctx, errMirrorNotFound(), "DELETE FROM mirrors WHERE id = ?", id)
	})
}

// DueMirrors lists up to limit mirrors whose next sync time has come.
func (s *Store) DueMirrors(ctx context.Context, at time.Time, limit int) ([]*haven.Mirror, error) {
	return scanMirrors(s.conn().query(ctx, "SELECT "+mirrorColumns+" FROM mirrors WHERE next_sync_at <= ? ORDER BY next_sync_at, id LIMIT ?",
		dbTime(at), limit))
}

// DeferMirror moves a mirror's next sync from from to to, and reports
// whether it did: false when another scheduler moved it first.
func (s *Store) DeferMirror(ctx context.Context, id int64, from, to time.Time) (bool, error) {
	res, err := s.conn().exec(ctx, "UPDATE mirrors SET next_sync_at = ? WHERE id = ? AND next_sync_at = ?", dbTime(to), id, dbTime(from))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// SyncMirrorsOf brings the next sync of a repository's mirrors of one
// direction forward to at (a push mirror, when its repository changed).
func (s *Store) SyncMirrorsOf(ctx context.Context, repoID int64, direction string, at time.Time) error {
	_, err := s.conn().exec(ctx, "UPDATE mirrors SET next_sync_at = ? WHERE repo_id = ? AND direction = ? AND next_sync_at > ?",
		dbTime(at), repoID, direction, dbTime(at))
	return err
}

// ClaimMirror lets owner sync a mirror until until, and reports whether it
// may: false while another owner's claim runs.
func (s *Store) ClaimMirror(ctx context.Context, id int64, owner string, until time.Time) (bool, error) {
	t := now()
	res, err := s.conn().exec(ctx, `UPDATE mirrors SET claimed_by = ?, claimed_until = ?, last_attempt_at = ?
		WHERE id = ? AND (claimed_by = '' OR claimed_by = ? OR claimed_until IS NULL OR claimed_until < ?)`,
		owner, dbTime(until), t, id, owner, t)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// MirrorResult is how a sync ended.
type MirrorResult struct {
	Err   string // "" on success
	State string // the new state, on success
	Next  time.Time
}

// FinishMirrorSync records a sync's result and gives up owner's claim. A
// failure keeps the state of the last good sync unless it gives one (what
// it did before failing).
func (s *Store) FinishMirrorSync(ctx context.Context, id int64, owner string, res MirrorResult) error {
	t := now()
	if res.Err != "" {
		return s.conn().execOne(ctx, errMirrorNotFound(), `UPDATE mirrors SET last_error = ?, next_sync_at = ?,
			state = CASE WHEN ? = '' THEN state ELSE ? END,
			claimed_by = '', claimed_until = NULL WHERE id = ? AND claimed_by = ?`,
			truncateError(res.Err), dbTime(res.Next), res.State, res.State, id, owner)
	}
	return s.conn().execOne(ctx, errMirrorNotFound(), `UPDATE mirrors SET last_error = '', state = ?, last_success_at = ?,
		next_sync_at = ?, claimed_by = '', claimed_until = NULL WHERE id = ? AND claimed_by = ?`, res.State, t, dbTime(res.Next), id, owner)
}

// truncateError keeps a stored error message readable and bounded.
func truncateError(msg string) string {
	const max = 2000
	if len(msg) <= max {
		return msg
	}
	return msg[:max] + "…"
}
