package meta

import (
	"context"
	"database/sql"
	"strings"

	"github.com/havenhub/haven"
)

// Organisation roles, from most to least privileged. A contributor reads
// and proposes changes (pull requests) but does not write.
const (
	RoleAdmin       = "admin"
	RoleWrite       = "write"
	RoleContributor = "contributor"
	RoleRead        = "read"
)

const userColumns = "u.id, u.name, u.full_name, u.email, u.is_org, u.is_admin, u.created_at"

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface{ Scan(dest ...any) error }

func scanUser(row scanner, extra ...any) (*haven.User, error) {
	var u haven.User
	dest := append([]any{&u.ID, &u.Name, &u.FullName, &u.Email, &u.IsOrg, &u.IsAdmin, &u.CreatedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return &u, nil
}

func errUserNotFound(name string) error {
	return haven.Errorf(haven.ENotFound, "User %s not found", name)
}

func errUserIDNotFound(id int64) error {
	return haven.Errorf(haven.ENotFound, "User #%d not found", id)
}

// CreateUser adds a user, or an organisation when u.IsOrg is set, and fills
// u.ID and u.CreatedAt. A name taken by a user or organisation, in any
// letter case, is a haven.EConflict.
func (s *Store) CreateUser(ctx context.Context, u *haven.User, passwordHash string) error {
	if !haven.ValidName(u.Name) {
		return haven.Errorf(haven.EInvalid, "Invalid name %q", u.Name)
	}
	created := orNow(u.CreatedAt)
	err := s.conn().queryRow(ctx, `INSERT INTO users (name, name_key, full_name, email, is_org, is_admin, password_hash, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		u.Name, strings.ToLower(u.Name), u.FullName, u.Email, u.IsOrg, u.IsAdmin, passwordHash, created).Scan(&u.ID)
	if isUniqueViolation(err) {
		return haven.Errorf(haven.EConflict, "The name %s is already taken", u.Name)
	}
	if err != nil {
		return err
	}
	u.CreatedAt = created
	return nil
}

// UserByName finds a user or organisation by name, in any letter case.
func (s *Store) UserByName(ctx context.Context, name string) (*haven.User, error) {
	u, err := scanUser(s.conn().queryRow(ctx, "SELECT "+userColumns+" FROM users u WHERE u.name_key = ?", strings.ToLower(name)))
	return u, noRows(err, errUserNotFound(name))
}

// ListUsers lists the users (not organisations) with whether each has a
// password for the web pages, ordered by name.
func (s *Store) ListUsers(ctx context.Context) ([]haven.User, []bool, error) {
	rows, err := s.conn().query(ctx, "SELECT "+userColumns+", COALESCE(u.password_hash, '') <> '' FROM users u WHERE NOT u.is_org ORDER BY u.name_key")
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var users []haven.User
	var passwords []bool
	for rows.Next() {
		var hasPassword bool
		u, err := scanUser(rows, &hasPassword)
		if err != nil {
			return nil, nil, err
		}
		users = append(users, *u)
		passwords = append(passwords, hasPassword)
	}
	return users, passwords, rows.Err()
}

// HasUsers reports whether any user (not organisation) exists.
func (s *Store) HasUsers(ctx context.Context) (bool, error) {
	var n int
	err := s.conn().queryRow(ctx, "SELECT COUNT(*) FROM (SELECT 1 FROM users WHERE NOT is_org LIMIT 1) AS u").Scan(&n)
	return n > 0, err
}

// UserByID finds a user or organisation by id.
func (s *Store) UserByID(ctx context.Context, id int64) (*haven.User, error) {
	u, err := scanUser(s.conn().queryRow(ctx, "SELECT "+userColumns+" FROM users u WHERE u.id = ?", id))
	return u, noRows(err, errUserIDNotFound(id))
}

// PasswordHash returns the stored password hash of a user; it is empty
// for organisations and for users who log in with tokens only.
func (s *Store) PasswordHash(ctx context.Context, userID int64) (string, error) {
	var hash string
	err := s.conn().queryRow(ctx, "SELECT password_hash FROM users WHERE id = ?", userID).Scan(&hash)
	return hash, noRows(err, errUserIDNotFound(userID))
}

// SetPasswordHash replaces the password hash of a user.
func (s *Store) SetPasswordHash(ctx context.Context, userID int64, hash string) error {
	return s.conn().execOne(ctx, errUserIDNotFound(userID), "UPDATE users SET password_hash = ? WHERE id = ?", hash, userID)
}

// AddMember makes a user a member of an organisation with the role
// "admin", "write", "contributor" or "read", or changes the role of a member.
func (s *Store) AddMember(ctx context.Context, orgID, userID int64, role string) error {
	switch role {
	case RoleAdmin, RoleWrite, RoleContributor, RoleRead:
	default:
		return haven.Errorf(haven.EInvalid, "Invalid role %q: expected admin, write, contributor or read", role)
	}
	return s.inTx(ctx, func(c conn) error {
		var orgIsOrg, userIsOrg bool
		if err := c.queryRow(ctx, "SELECT is_org FROM users WHERE id = ?", orgID).Scan(&orgIsOrg); err != nil {
			return noRows(err, haven.Errorf(haven.ENotFound, "Organization #%d not found", orgID))
		}
		if err := c.queryRow(ctx, "SELECT is_org FROM users WHERE id = ?", userID).Scan(&userIsOrg); err != nil {
			return noRows(err, errUserIDNotFound(userID))
		}
		if !orgIsOrg {
			return haven.Errorf(haven.EInvalid, "#%d is not an organization", orgID)
		}
		if userIsOrg {
			return haven.Errorf(haven.EInvalid, "An organization cannot be a member of an organization")
		}
		_, err := c.exec(ctx, `INSERT INTO members (org_id, user_id, role, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role`, orgID, userID, role, now())
		return err
	})
}

// RemoveMember takes a user out of an organisation.
func (s *Store) RemoveMember(ctx context.Context, orgID, userID int64) error {
	return s.inTx(ctx, func(c conn) error {
		return c.execOne(ctx, haven.Errorf(haven.ENotFound, "User #%d is not a member of organization #%d", userID, orgID),
			"DELETE FROM members WHERE org_id = ? AND user_id = ?", orgID, userID)
	})
}

// Memberships lists the organisations a user belongs to, ordered by name.
func (s *Store) Memberships(ctx context.Context, userID int64) ([]haven.Membership, error) {
	rows, err := s.conn().query(ctx, "SELECT "+userColumns+`, m.role FROM members m JOIN users u ON u.id = m.org_id
		WHERE m.user_id = ? ORDER BY u.name_key`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ms []haven.Membership
	for rows.Next() {
		var role string
		org, err := scanUser(rows, &role)
		if err != nil {
			return nil, err
		}
		ms = append(ms, haven.Membership{Org: *org, Role: role})
	}
	return ms, rows.Err()
}

// Members lists the members of an organisation, ordered by name, and the
// role of each at the same index.
func (s *Store) Members(ctx context.Context, orgID int64) ([]haven.User, []string, error) {
	rows, err := s.conn().query(ctx, "SELECT "+userColumns+`, m.role FROM members m JOIN users u ON u.id = m.user_id
		WHERE m.org_id = ? ORDER BY u.name_key`, orgID)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var (
		users []haven.User
		roles []string
	)
	for rows.Next() {
		var role string
		u, err := scanUser(rows, &role)
		if err != nil {
			return nil, nil, err
		}
		users = append(users, *u)
		roles = append(roles, role)
	}
	return users, roles, rows.Err()
}

// OrgDefaultPrivate reports whether new repositories of an organisation are
// private when their creator does not say; false for users.
func (s *Store) OrgDefaultPrivate(ctx context.Context, orgID int64) (bool, error) {
	var private bool
	err := s.conn().queryRow(ctx, "SELECT default_private FROM users WHERE id = ? AND is_org", orgID).Scan(&private)
	if err == sql.ErrNoRows {
		return false, nil
	}
	return private, err
}

// SetOrgDefaultPrivate sets the default visibility of an organisation's new
// repositories.
func (s *Store) SetOrgDefaultPrivate(ctx context.Context, orgID int64, private bool) error {
	return s.conn().execOne(ctx, haven.Errorf(haven.ENotFound, "Organization #%d not found", orgID),
		"UPDATE users SET default_private = ? WHERE id = ? AND is_org", private, orgID)
}
