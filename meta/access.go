package meta

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/havenhub/haven"
)

// accessSelect reads a request with its user; the user's columns come first
// because scanUser takes the others as extras after them.
const accessSelect = "SELECT " + userColumns + `, a.id, a.repo_id, a.status, a.fields, a.reason, a.granted,
	COALESCE(d.name, ''), a.created_at, a.updated_at, a.decided_at
	FROM access_requests a JOIN users u ON u.id = a.user_id LEFT JOIN users d ON d.id = a.decided_by`

func scanAccessRequest(row scanner) (*haven.AccessRequest, error) {
	var ar haven.AccessRequest
	var fields string
	var decided sql.NullTime
	u, err := scanUser(row, &ar.ID, &ar.RepoID, &ar.Status, &fields, &ar.Reason, &ar.Granted, &ar.DecidedBy,
		&ar.CreatedAt, &ar.UpdatedAt, &decided)
	if err != nil {
		return nil, err
	}
	ar.User = u
	if fields != "" && fields != "{}" {
		if err := json.Unmarshal([]byte(fields), &ar.Fields); err != nil {
			return nil, err
		}
	}
	ar.CreatedAt, ar.UpdatedAt = ar.CreatedAt.UTC(), ar.UpdatedAt.UTC()
	if decided.Valid {
		ar.DecidedAt = decided.Time.UTC()
	}
	return &ar, nil
}

func errNoAccessRequest() error {
	return haven.Errorf(haven.ENotFound, "No access request found for this user")
}

// AccessRequestOf returns the request of user userID for repository repoID,
// or a haven.ENotFound error when they never asked (or it was cancelled).
func (s *Store) AccessRequestOf(ctx context.Context, repoID, userID int64) (*haven.AccessRequest, error) {
	ar, err := scanAccessRequest(s.conn().queryRow(ctx, accessSelect+" WHERE a.repo_id = ? AND a.user_id = ?", repoID, userID))
	return ar, noRows(err, errNoAccessRequest())
}

// AccessRequestByID returns a request of repository repoID by its id.
func (s *Store) AccessRequestByID(ctx context.Context, repoID, id int64) (*haven.AccessRequest, error) {
	ar, err := scanAccessRequest(s.conn().queryRow(ctx, accessSelect+" WHERE a.repo_id = ? AND a.id = ?", repoID, id))
	return ar, noRows(err, errNoAccessRequest())
}

// CreateAccessRequest records a user's request with the answers of the
// form, in status st (pending, or accepted where the repository accepts
// every request). A user who already has a request, whatever its status,
// gets a haven.EConflict: decisions move a request, they do not add one.
func (s *Store) CreateAccessRequest(ctx context.Context, repoID, userID int64, fields map[string]any, st haven.AccessStatus) (*haven.AccessRequest, error) {
	enc := "{}"
	if len(fields) > 0 {
		b, err := json.Marshal(fields)
		if err != nil {
			return nil, haven.Errorf(haven.EInvalid, "Invalid form answers: %v", err)
		}
		enc = string(b)
	}
	t := now()
	var decided any
	if st != haven.AccessPending {
		decided = t
	}
	_, err := s.conn().exec(ctx, `INSERT INTO access_requests (repo_id, user_id, status, fields, created_at, updated_at, decided_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, repoID, userID, string(st), enc, t, t, decided)
	if isUniqueViolation(err) {
		return nil, haven.Errorf(haven.EConflict, "You have already requested access to this repository")
	}
	if isForeignKeyViolation(err) {
		return nil, haven.Errorf(haven.ENotFound, "Repository or user not found")
	}
	if err != nil {
		return nil, err
	}
	return s.AccessRequestOf(ctx, repoID, userID)
}

// DecideAccess moves the request of userID for repoID to status st, noting
// who decided and, for a rejection, why. Moving a request to the status it
// has is an error (haven.ENotFound, as the Hub answers), and so is deciding
// on a request that does not exist.
func (s *Store) DecideAccess(ctx context.Context, repoID, userID int64, st haven.AccessStatus, reason string, by int64) (*haven.AccessRequest, error) {
	if st != haven.AccessRejected {
		reason = ""
	}
	t := now()
	err := s.inTx(ctx, func(c conn) error {
		var cur string
		err := c.queryRow(ctx, "SELECT status FROM access_requests WHERE repo_id = ? AND user_id = ?"+s.d.lockRow, repoID, userID).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return errNoAccessRequest()
		}
		if err != nil {
			return err
		}
		if cur == string(st) {
			return haven.Errorf(haven.ENotFound, "The access request is already %s", st)
		}
		_, err = c.exec(ctx, `UPDATE access_requests SET status = ?, reason = ?, decided_by = ?, updated_at = ?, decided_at = ?
			WHERE repo_id = ? AND user_id = ?`, string(st), reason, nullID(by), t, t, repoID, userID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.AccessRequestOf(ctx, repoID, userID)
}

// GrantAccess lets userID into repoID without a request of theirs: a new
// accepted request marked as granted, or their pending or rejected one
// accepted. A user already accepted is a haven.EInvalid error.
func (s *Store) GrantAccess(ctx context.Context, repoID, userID, by int64) (*haven.AccessRequest, error) {
	t := now()
	err := s.inTx(ctx, func(c conn) error {
		var cur string
		err := c.queryRow(ctx, "SELECT status FROM access_requests WHERE repo_id = ? AND user_id = ?"+s.d.lockRow, repoID, userID).Scan(&cur)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			_, err = c.exec(ctx, `INSERT INTO access_requests (repo_id, user_id, status, granted, decided_by, created_at, updated_at, decided_at)
				VALUES (?, ?, ?, TRUE, ?, ?, ?, ?)`, repoID, userID, string(haven.AccessAccepted), nullID(by), t, t, t)
			if isForeignKeyViolation(err) {
				return haven.Errorf(haven.ENotFound, "Repository or user not found")
			}
			return err
		case err != nil:
			return err
		case cur == string(haven.AccessAccepted):
			return haven.Errorf(haven.EInvalid, "The user already has access to this repository")
		}
		_, err = c.exec(ctx, `UPDATE access_requests SET status = ?, reason = '', decided_by = ?, updated_at = ?, decided_at = ?
			WHERE repo_id = ? AND user_id = ?`, string(haven.AccessAccepted), nullID(by), t, t, repoID, userID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.AccessRequestOf(ctx, repoID, userID)
}

// DeleteAccessRequest removes the request of userID for repoID, as when a
// requester withdraws it; they may ask again afterwards.
func (s *Store) DeleteAccessRequest(ctx context.Context, repoID, userID int64) error {
	res, err := s.conn().exec(ctx, "DELETE FROM access_requests WHERE repo_id = ? AND user_id = ?", repoID, userID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errNoAccessRequest()
	}
	return nil
}

// AccessRequests lists the requests of repoID in status st, oldest first.
func (s *Store) AccessRequests(ctx context.Context, repoID int64, st haven.AccessStatus) ([]*haven.AccessRequest, error) {
	rows, err := s.conn().query(ctx, accessSelect+" WHERE a.repo_id = ? AND a.status = ? ORDER BY a.created_at, a.id", repoID, string(st))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*haven.AccessRequest
	for rows.Next() {
		ar, err := scanAccessRequest(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, ar)
	}
	return out, rows.Err()
}

// AccessStatuses returns the status of every request of userID, by
// repository id: what authentication hands to auth.CanDownload.
func (s *Store) AccessStatuses(ctx context.Context, userID int64) (map[int64]haven.AccessStatus, error) {
	rows, err := s.conn().query(ctx, "SELECT repo_id, status FROM access_requests WHERE user_id = ?", userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]haven.AccessStatus{}
	for rows.Next() {
		var id int64
		var st string
		if err := rows.Scan(&id, &st); err != nil {
			return nil, err
		}
		out[id] = haven.AccessStatus(st)
	}
	return out, rows.Err()
}

// nullID stores 0 as NULL, for references to nobody.
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}
