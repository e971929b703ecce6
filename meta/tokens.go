package meta

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/havenhub/haven"
)

const tokenColumns = "t.id, t.user_id, t.display_name, t.role, t.created_at, t.last_used_at, t.expires_at, t.scopes"

func scanToken(row scanner, extra ...any) (*haven.Token, error) {
	var (
		t        haven.Token
		lastUsed sql.NullTime
		expires  sql.NullTime
		scopes   string
	)
	dest := append([]any{&t.ID, &t.UserID, &t.DisplayName, &t.Role, &t.CreatedAt, &lastUsed, &expires, &scopes}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	t.CreatedAt = t.CreatedAt.UTC()
	if lastUsed.Valid {
		t.LastUsedAt = lastUsed.Time.UTC()
	}
	if expires.Valid {
		t.ExpiresAt = expires.Time.UTC()
	}
	if scopes != "" {
		t.FineGrained = new(haven.FineGrained)
		if err := json.Unmarshal([]byte(scopes), t.FineGrained); err != nil {
			return nil, err
		}
	}
	return &t, nil
}

var errTokenNotFound = haven.Errorf(haven.ENotFound, "Token not found")

// CreateToken stores a token of t.UserID under hash, a digest of the plain
// token computed by the caller, and fills t.ID and t.CreatedAt. A
// fine-grained token must carry its scopes, and only it may.
func (s *Store) CreateToken(ctx context.Context, t *haven.Token, hash string) error {
	if _, err := haven.ParseRole(string(t.Role)); err != nil {
		return err
	}
	var scopes string
	switch {
	case t.Role == haven.RoleFineGrained && t.FineGrained == nil:
		return haven.Errorf(haven.EInvalid, "A fine-grained token needs its permissions")
	case t.Role != haven.RoleFineGrained && t.FineGrained != nil:
		return haven.Errorf(haven.EInvalid, "Only fine-grained tokens have permissions")
	case t.FineGrained != nil:
		if err := t.FineGrained.Validate(); err != nil {
			return err
		}
		b, err := json.Marshal(t.FineGrained)
		if err != nil {
			return err
		}
		scopes = string(b)
	}
	var expires sql.NullTime
	if !t.ExpiresAt.IsZero() {
		t.ExpiresAt = dbTime(t.ExpiresAt)
		expires = sql.NullTime{Time: t.ExpiresAt, Valid: true}
	}
	created := orNow(t.CreatedAt)
	err := s.inTx(ctx, func(c conn) error {
		return c.queryRow(ctx, `INSERT INTO tokens (user_id, display_name, role, hash, created_at, expires_at, scopes)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, t.UserID, t.DisplayName, string(t.Role), hash, created, expires, scopes).Scan(&t.ID)
	})
	switch {
	case isForeignKeyViolation(err):
		return errUserIDNotFound(t.UserID)
	case isUniqueViolation(err):
		return haven.Errorf(haven.EConflict, "A token with this hash already exists")
	case err != nil:
		return err
	}
	t.CreatedAt = created
	return nil
}

// TokenByHash finds a token by the digest of its plain text, with its owner.
func (s *Store) TokenByHash(ctx context.Context, hash string) (*haven.Token, *haven.User, error) {
	var u haven.User
	row := s.conn().queryRow(ctx, "SELECT "+tokenColumns+", "+userColumns+
		" FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = ?", hash)
	t, err := scanToken(row, &u.ID, &u.Name, &u.FullName, &u.Email, &u.IsOrg, &u.IsAdmin, &u.CreatedAt)
	if err != nil {
		return nil, nil, noRows(err, errTokenNotFound)
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return t, &u, nil
}

// ListTokens lists a user's tokens, oldest first.
func (s *Store) ListTokens(ctx context.Context, userID int64) ([]haven.Token, error) {
	rows, err := s.conn().query(ctx, "SELECT "+tokenColumns+" FROM tokens t WHERE t.user_id = ? ORDER BY t.created_at, t.id", userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var tokens []haven.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		tokens = append(tokens, *t)
	}
	return tokens, rows.Err()
}

// TokenByID finds a token by its id, whoever owns it.
func (s *Store) TokenByID(ctx context.Context, id int64) (*haven.Token, error) {
	t, err := scanToken(s.conn().queryRow(ctx, "SELECT "+tokenColumns+" FROM tokens t WHERE t.id = ?", id))
	return t, noRows(err, errTokenNotFound)
}

// DeleteToken deletes one of a user's tokens; a token of another user is
// not found.
func (s *Store) DeleteToken(ctx context.Context, userID, tokenID int64) error {
	return s.inTx(ctx, func(c conn) error {
		return c.execOne(ctx, errTokenNotFound, "DELETE FROM tokens WHERE id = ? AND user_id = ?", tokenID, userID)
	})
}

// TouchToken records when a token was last used.
func (s *Store) TouchToken(ctx context.Context, tokenID int64, at time.Time) error {
	return s.conn().execOne(ctx, errTokenNotFound, "UPDATE tokens SET last_used_at = ? WHERE id = ?", dbTime(at), tokenID)
}
