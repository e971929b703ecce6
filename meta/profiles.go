package meta

import (
	"context"
	"strconv"
	"strings"

	"github.com/havenhub/haven"
)

// Profile limits, in bytes, so that a page or an overview stays small.
const (
	MaxDetails  = 2000
	MaxWebsite  = 300
	MaxFullName = 100
)

// UserByEmail finds the user (never an organisation) with an email
// address, in any letter case; the oldest account wins if several share it.
func (s *Store) UserByEmail(ctx context.Context, email string) (*haven.User, error) {
	email = strings.TrimSpace(email)
	notFound := haven.Errorf(haven.ENotFound, "No user has the address %s", email)
	if email == "" {
		return nil, notFound
	}
	u, err := scanUser(s.conn().queryRow(ctx, "SELECT "+userColumns+` FROM users u
		WHERE LOWER(u.email) = ? AND NOT u.is_org ORDER BY u.id LIMIT 1`, strings.ToLower(email)))
	return u, noRows(err, notFound)
}

// Profile returns what a user or organisation says of itself.
func (s *Store) Profile(ctx context.Context, userID int64) (haven.Profile, error) {
	var p haven.Profile
	err := s.conn().queryRow(ctx, "SELECT details, website, avatar_key, avatar_type, github, twitter, linkedin, bluesky FROM users WHERE id = ?", userID).
		Scan(&p.Details, &p.Website, &p.AvatarKey, &p.AvatarType, &p.Socials.GitHub, &p.Socials.Twitter, &p.Socials.LinkedIn, &p.Socials.Bluesky)
	return p, noRows(err, errUserIDNotFound(userID))
}

// SetProfile replaces the full name, description and website of a user or
// organisation. The caller checks the website's scheme; the store bounds
// the lengths.
func (s *Store) SetProfile(ctx context.Context, userID int64, fullName, details, website string) error {
	switch {
	case len(fullName) > MaxFullName:
		return haven.Errorf(haven.EInvalid, "The full name is longer than %d bytes", MaxFullName)
	case len(details) > MaxDetails:
		return haven.Errorf(haven.EInvalid, "The description is longer than %d bytes", MaxDetails)
	case len(website) > MaxWebsite:
		return haven.Errorf(haven.EInvalid, "The website is longer than %d bytes", MaxWebsite)
	}
	return s.conn().execOne(ctx, errUserIDNotFound(userID),
		"UPDATE users SET full_name = ?, details = ?, website = ? WHERE id = ?", fullName, details, website, userID)
}

// MaxSocialHandle bounds each social handle.
const MaxSocialHandle = 100

// SetSocials replaces the social handles of a user or organisation. The
// caller checks their form; the store bounds the lengths.
func (s *Store) SetSocials(ctx context.Context, userID int64, h haven.SocialHandles) error {
	for _, v := range []string{h.GitHub, h.Twitter, h.LinkedIn, h.Bluesky} {
		if len(v) > MaxSocialHandle {
			return haven.Errorf(haven.EInvalid, "A social handle is longer than %d bytes", MaxSocialHandle)
		}
	}
	return s.conn().execOne(ctx, errUserIDNotFound(userID), "UPDATE users SET github = ?, twitter = ?, linkedin = ?, bluesky = ? WHERE id = ?",
		h.GitHub, h.Twitter, h.LinkedIn, h.Bluesky, userID)
}

// SetAvatar records the blob key and media type of an uploaded avatar
// ("" and "": back to the identicon) and returns the key it replaces, for
// the caller to delete from the blob store.
func (s *Store) SetAvatar(ctx context.Context, userID int64, key, mediaType string) (old string, err error) {
	err = s.inTx(ctx, func(c conn) error {
		if err := c.queryRow(ctx, "SELECT avatar_key FROM users WHERE id = ?", userID).Scan(&old); err != nil {
			return noRows(err, errUserIDNotFound(userID))
		}
		_, err := c.exec(ctx, "UPDATE users SET avatar_key = ?, avatar_type = ? WHERE id = ?", key, mediaType, userID)
		return err
	})
	return old, err
}

// Follow makes follower follow a user or organisation; following again
// does nothing. Nobody follows themselves.
func (s *Store) Follow(ctx context.Context, followerID, followeeID int64) error {
	if followerID == followeeID {
		return haven.Errorf(haven.EInvalid, "You cannot follow yourself")
	}
	_, err := s.conn().exec(ctx, `INSERT INTO follows (follower_id, followee_id, created_at) VALUES (?, ?, ?)
		ON CONFLICT (follower_id, followee_id) DO NOTHING`, followerID, followeeID, now())
	if isForeignKeyViolation(err) {
		return haven.Errorf(haven.ENotFound, "User not found")
	}
	return err
}

// Unfollow stops a follow; stopping one that is not there does nothing.
func (s *Store) Unfollow(ctx context.Context, followerID, followeeID int64) error {
	_, err := s.conn().exec(ctx, "DELETE FROM follows WHERE follower_id = ? AND followee_id = ?", followerID, followeeID)
	return err
}

// IsFollowing reports whether follower follows followee.
func (s *Store) IsFollowing(ctx context.Context, followerID, followeeID int64) (bool, error) {
	var n int
	err := s.conn().queryRow(ctx, "SELECT COUNT(*) FROM follows WHERE follower_id = ? AND followee_id = ?", followerID, followeeID).Scan(&n)
	return n > 0, err
}

// Followers lists who follows a user or organisation, most recent first,
// at most limit of them (0: all).
func (s *Store) Followers(ctx context.Context, userID int64, limit int) ([]haven.User, error) {
	return s.users(ctx, "SELECT "+userColumns+` FROM follows f JOIN users u ON u.id = f.follower_id
		WHERE f.followee_id = ? ORDER BY f.created_at DESC, u.id DESC`+limitClause(limit), userID)
}

// Following lists the users and organisations a user follows, most recent
// first, at most limit of them (0: all).
func (s *Store) Following(ctx context.Context, userID int64, limit int) ([]haven.User, error) {
	return s.users(ctx, "SELECT "+userColumns+` FROM follows f JOIN users u ON u.id = f.followee_id
		WHERE f.follower_id = ? ORDER BY f.created_at DESC, u.id DESC`+limitClause(limit), userID)
}

func limitClause(limit int) string {
	if limit <= 0 {
		return ""
	}
	return " LIMIT " + strconv.Itoa(limit)
}

func (s *Store) users(ctx context.Context, query string, args ...any) ([]haven.User, error) {
	rows, err := s.conn().query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []haven.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *u)
	}
	return out, rows.Err()
}

// UserCounts are the figures of a user's or organisation's overview that
// do not depend on who asks.
type UserCounts struct {
	Followers, Following, Likes, Members int
}

// Counts returns the follower, following, likes-given and member counts of
// a user or organisation.
func (s *Store) Counts(ctx context.Context, userID int64) (UserCounts, error) {
	var c UserCounts
	err := s.conn().queryRow(ctx, `SELECT
		(SELECT COUNT(*) FROM follows WHERE followee_id = ?),
		(SELECT COUNT(*) FROM follows WHERE follower_id = ?),
		(SELECT COUNT(*) FROM likes WHERE user_id = ?),
		(SELECT COUNT(*) FROM members WHERE org_id = ?)`, userID, userID, userID, userID).
		Scan(&c.Followers, &c.Following, &c.Likes, &c.Members)
	return c, err
}

const invitationColumns = "i.id, i.role, i.inviter, i.created_at, " + userColumns + ", " +
	"o.id, o.name, o.full_name, o.email, o.is_org, o.is_admin, o.created_at"

const invitationJoin = " FROM org_invitations i JOIN users u ON u.id = i.user_id JOIN users o ON o.id = i.org_id"

func scanInvitation(row scanner) (*haven.Invitation, error) {
	var inv haven.Invitation
	o := &inv.Org
	err := row.Scan(&inv.ID, &inv.Role, &inv.Inviter, &inv.CreatedAt,
		&inv.User.ID, &inv.User.Name, &inv.User.FullName, &inv.User.Email, &inv.User.IsOrg, &inv.User.IsAdmin, &inv.User.CreatedAt,
		&o.ID, &o.Name, &o.FullName, &o.Email, &o.IsOrg, &o.IsAdmin, &o.CreatedAt)
	if err != nil {
		return nil, err
	}
	inv.CreatedAt, inv.User.CreatedAt, o.CreatedAt = inv.CreatedAt.UTC(), inv.User.CreatedAt.UTC(), o.CreatedAt.UTC()
	return &inv, nil
}

func errInvitationNotFound() error {
	return haven.Errorf(haven.ENotFound, "Invitation not found")
}

// Invite stores an invitation of inv.User to inv.Org with inv.Role and
// fills its ID and CreatedAt. Inviting again someone already invited
// replaces the role; inviting a member is a haven.EConflict.
func (s *Store) Invite(ctx context.Context, inv *haven.Invitation) error {
	if !validRole(inv.Role) {
		return haven.Errorf(haven.EInvalid, "Invalid role %q: expected admin, write, contributor or read", inv.Role)
	}
	if !inv.Org.IsOrg || inv.User.IsOrg {
		return haven.Errorf(haven.EInvalid, "Only users are invited, to organizations")
	}
	return s.inTx(ctx, func(c conn) error {
		var n int
		if err := c.queryRow(ctx, "SELECT COUNT(*) FROM members WHERE org_id = ? AND user_id = ?", inv.Org.ID, inv.User.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return haven.Errorf(haven.EConflict, "%s is already a member of %s", inv.User.Name, inv.Org.Name)
		}
		id, created := newObjectID(), now()
		err := c.queryRow(ctx, `INSERT INTO org_invitations (id, org_id, user_id, role, inviter, created_at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role, inviter = excluded.inviter, created_at = excluded.created_at
			RETURNING id, created_at`, id, inv.Org.ID, inv.User.ID, inv.Role, inv.Inviter, created).Scan(&inv.ID, &inv.CreatedAt)
		if isForeignKeyViolation(err) {
			return errUserIDNotFound(inv.User.ID)
		}
		inv.CreatedAt = inv.CreatedAt.UTC()
		return err
	})
}

// InvitationByID finds a pending invitation.
func (s *Store) InvitationByID(ctx context.Context, id string) (*haven.Invitation, error) {
	inv, err := scanInvitation(s.conn().queryRow(ctx, "SELECT "+invitationColumns+invitationJoin+" WHERE i.id = ?", strings.ToLower(id)))
	return inv, noRows(err, errInvitationNotFound())
}

// InvitationsOfUser lists the invitations a user has not answered, newest
// first.
func (s *Store) InvitationsOfUser(ctx context.Context, userID int64) ([]*haven.Invitation, error) {
	return s.invitations(ctx, "i.user_id = ?", userID)
}

// InvitationsOfOrg lists the invitations of an organisation nobody has
// answered yet, newest first.
func (s *Store) InvitationsOfOrg(ctx context.Context, orgID int64) ([]*haven.Invitation, error) {
	return s.invitations(ctx, "i.org_id = ?", orgID)
}

func (s *Store) invitations(ctx context.Context, where string, arg any) ([]*haven.Invitation, error) {
	rows, err := s.conn().query(ctx, "SELECT "+invitationColumns+invitationJoin+" WHERE "+where+" ORDER BY i.created_at DESC, i.id", arg)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*haven.Invitation
	for rows.Next() {
		inv, err := scanInvitation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, inv)
	}
	return out, rows.Err()
}

// AcceptInvitation makes the invited user a member with the invitation's
// role and removes the invitation, in one transaction, so that an
// invitation makes one membership at most. userID must be the invitee's.
func (s *Store) AcceptInvitation(ctx context.Context, id string, userID int64) (*haven.Invitation, error) {
	var inv *haven.Invitation
	err := s.inTx(ctx, func(c conn) error {
		var err error
		inv, err = scanInvitation(c.queryRow(ctx, "SELECT "+invitationColumns+invitationJoin+" WHERE i.id = ? AND i.user_id = ?", strings.ToLower(id), userID))
		if err != nil {
			return noRows(err, errInvitationNotFound())
		}
		if _, err := c.exec(ctx, "DELETE FROM org_invitations WHERE id = ?", inv.ID); err != nil {
			return err
		}
		_, err = c.exec(ctx, `INSERT INTO members (org_id, user_id, role, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (org_id, user_id) DO NOTHING`, inv.Org.ID, userID, inv.Role, now())
		return err
	})
	return inv, err
}

// DeleteInvitation removes an invitation of an organisation (declined by
// its invitee or cancelled by an administrator) and returns it.
func (s *Store) DeleteInvitation(ctx context.Context, id string) (*haven.Invitation, error) {
	var inv *haven.Invitation
	err := s.inTx(ctx, func(c conn) error {
		var err error
		inv, err = scanInvitation(c.queryRow(ctx, "SELECT "+invitationColumns+invitationJoin+" WHERE i.id = ?", strings.ToLower(id)))
		if err != nil {
			return noRows(err, errInvitationNotFound())
		}
		_, err = c.exec(ctx, "DELETE FROM org_invitations WHERE id = ?", inv.ID)
		return err
	})
	return inv, err
}

func validRole(role string) bool {
	switch role {
	case RoleAdmin, RoleWrite, RoleContributor, RoleRead:
		return true
	}
	return false
}

// AvatarInUse reports whether a user or organisation has the avatar
// stored under key.
func (s *Store) AvatarInUse(ctx context.Context, key string) (bool, error) {
	var n int
	err := s.conn().queryRow(ctx, "SELECT COUNT(*) FROM users WHERE avatar_key = ?", key).Scan(&n)
	return n > 0, err
}

// InviteEmail stores an invitation of inv.Email, an address no user has,
// to inv.Org with inv.Role and fills its ID and CreatedAt. Inviting the
// address again replaces the role.
func (s *Store) InviteEmail(ctx context.Context, inv *haven.Invitation) error {
	if !validRole(inv.Role) {
		return haven.Errorf(haven.EInvalid, "Invalid role %q: expected admin, write, contributor or read", inv.Role)
	}
	if !inv.Org.IsOrg {
		return haven.Errorf(haven.EInvalid, "Only users are invited, to organizations")
	}
	err := s.conn().queryRow(ctx, `INSERT INTO org_email_invitations (id, org_id, email, email_key, role, inviter, mailed, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (org_id, email_key) DO UPDATE SET role = excluded.role, inviter = excluded.inviter, mailed = excluded.mailed,
			created_at = excluded.created_at
		RETURNING id, created_at`, newObjectID(), inv.Org.ID, inv.Email, strings.ToLower(inv.Email), inv.Role, inv.Inviter,
		inv.Mailed, now()).Scan(&inv.ID, &inv.CreatedAt)
	if isForeignKeyViolation(err) {
		return errUserIDNotFound(inv.Org.ID)
	}
	inv.CreatedAt = inv.CreatedAt.UTC()
	return err
}

// EmailInvitationsOfOrg lists the invitations of an organisation to
// addresses without an account, newest first.
func (s *Store) EmailInvitationsOfOrg(ctx context.Context, org *haven.User) ([]*haven.Invitation, error) {
	rows, err := s.conn().query(ctx, `SELECT id, email, role, inviter, mailed, created_at FROM org_email_invitations
		WHERE org_id = ? ORDER BY created_at DESC, id`, org.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*haven.Invitation
	for rows.Next() {
		inv := &haven.Invitation{Org: *org}
		if err := rows.Scan(&inv.ID, &inv.Email, &inv.Role, &inv.Inviter, &inv.Mailed, &inv.CreatedAt); err != nil {
			return nil, err
		}
		inv.CreatedAt = inv.CreatedAt.UTC()
		out = append(out, inv)
	}
	return out, rows.Err()
}

// DeleteEmailInvitation removes invitation id of org to an address.
func (s *Store) DeleteEmailInvitation(ctx context.Context, org *haven.User, id string) (*haven.Invitation, error) {
	inv := &haven.Invitation{Org: *org}
	err := s.inTx(ctx, func(c conn) error {
		if err := c.queryRow(ctx, `SELECT id, email, role, inviter, mailed, created_at FROM org_email_invitations WHERE id = ? AND org_id = ?`,
			strings.ToLower(id), org.ID).Scan(&inv.ID, &inv.Email, &inv.Role, &inv.Inviter, &inv.Mailed, &inv.CreatedAt); err != nil {
			return noRows(err, errInvitationNotFound())
		}
		_, err := c.exec(ctx, "DELETE FROM org_email_invitations WHERE id = ?", inv.ID)
		return err
	})
	return inv, err
}

// ClaimEmailInvitations turns the invitations sent to email, an address
// the user has proven to own, into invitations of the user, in one
// transaction, and returns them; organisations the user is a member of
// already drop theirs.
func (s *Store) ClaimEmailInvitations(ctx context.Context, userID int64, email string) ([]*haven.Invitation, error) {
	email = strings.TrimSpace(email)
	if email == "" {
		return nil, nil
	}
	var ids []string
	err := s.inTx(ctx, func(c conn) error {
		rows, err := c.query(ctx, `SELECT org_id, role, inviter FROM org_email_invitations WHERE email_key = ? ORDER BY created_at, id`,
			strings.ToLower(email))
		if err != nil {
			return err
		}
		type pending struct {
			org           int64
			role, inviter string
		}
		var list []pending
		for rows.Next() {
			var p pending
			if err := rows.Scan(&p.org, &p.role, &p.inviter); err != nil {
				rows.Close()
				return err
			}
			list = append(list, p)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, p := range list {
			var n int
			if err := c.queryRow(ctx, "SELECT COUNT(*) FROM members WHERE org_id = ? AND user_id = ?", p.org, userID).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				continue
			}
			var id string
			if err := c.queryRow(ctx, `INSERT INTO org_invitations (id, org_id, user_id, role, inviter, created_at) VALUES (?, ?, ?, ?, ?, ?)
				ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role, inviter = excluded.inviter
				RETURNING id`, newObjectID(), p.org, userID, p.role, p.inviter, now()).Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		_, err = c.exec(ctx, "DELETE FROM org_email_invitations WHERE email_key = ?", strings.ToLower(email))
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []*haven.Invitation
	for _, id := range ids {
		inv, err := s.InvitationByID(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, inv)
	}
	return out, nil
}
