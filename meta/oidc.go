package meta

import (
	"context"
	"strings"

	"github.com/havenhub/haven"
)

// UserByIdentity finds the user linked to the account subject of the
// OpenID Connect provider issuer.
func (s *Store) UserByIdentity(ctx context.Context, issuer, subject string) (*haven.User, error) {
	u, err := scanUser(s.conn().queryRow(ctx, "SELECT "+userColumns+
		" FROM oidc_identities i JOIN users u ON u.id = i.user_id WHERE i.issuer = ? AND i.subject = ?", issuer, subject))
	return u, noRows(err, haven.Errorf(haven.ENotFound, "No user is linked to this account of %s", issuer))
}

// CreateIdentityUser adds the user u, linked to the account subject of the
// OpenID Connect provider issuer, and fills u.ID and u.CreatedAt. Both rows
// are written together, so that a user never exists half-linked. A name
// already taken, or an account already linked (by a sign-in at the same
// moment), is a haven.EConflict; UserByIdentity tells which.
func (s *Store) CreateIdentityUser(ctx context.Context, u *haven.User, issuer, subject string) error {
	if !haven.ValidName(u.Name) {
		return haven.Errorf(haven.EInvalid, "Invalid name %q", u.Name)
	}
	created := orNow(u.CreatedAt)
	err := s.inTx(ctx, func(c conn) error {
		err := c.queryRow(ctx, `INSERT INTO users (name, name_key, full_name, email, is_org, is_admin, password_hash, created_at)
			VALUES (?, ?, ?, ?, ?, ?, '', ?) RETURNING id`,
			u.Name, strings.ToLower(u.Name), u.FullName, u.Email, false, false, created).Scan(&u.ID)
		if isUniqueViolation(err) {
			return haven.Errorf(haven.EConflict, "The name %s is already taken", u.Name)
		}
		if err != nil {
			return err
		}
		_, err = c.exec(ctx, "INSERT INTO oidc_identities (issuer, subject, user_id, created_at) VALUES (?, ?, ?, ?)",
			issuer, subject, u.ID, created)
		if isUniqueViolation(err) {
			return haven.Errorf(haven.EConflict, "This account of %s is already linked to a user", issuer)
		}
		return err
	})
	if err != nil {
		u.ID = 0
		return err
	}
	u.CreatedAt = created
	return nil
}
