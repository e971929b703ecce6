package haven

import (
	"context"
	"net/url"
	"time"
)

// Audit actions of organisation invitations, named as the Hub's audit log
// names them.
const (
	AuditOrgInvite        = "org.invite_user"
	AuditOrgInviteAccept  = "org.invite.accept"
	AuditOrgInviteDecline = "org.invite.decline"
	AuditOrgInviteCancel  = "org.invite.cancel"
)

// NotifyInvitation tells a user that an organisation invites them.
const NotifyInvitation = "org.invitation"

// Mailer sends an email to an address that belongs to no user; it reports
// whether the email was queued (false: no mail server is configured).
type Mailer interface {
	Mail(ctx context.Context, to, subject, body string) bool
}

// Profile is what a user or organisation says of itself on its page and in
// the overview API.
type Profile struct {
	Details string // a description, plain text
	Website string // an http or https URL, or ""
	// AvatarKey is the blob store key of an uploaded avatar and AvatarType
	// its media type; both "" when the generated identicon stands in.
	AvatarKey  string
	AvatarType string
	Socials    SocialHandles
}

// SocialHandles are a user's or organisation's names on other sites, as
// the Hub's socials API gives them; "" when not given.
type SocialHandles struct {
	GitHub   string
	Twitter  string
	LinkedIn string
	Bluesky  string
}

// Invitation asks a user to join an organisation with a role. The
// membership is made when the user accepts it.
type Invitation struct {
	ID   string // 24 hex digits, given when stored
	Org  User
	User User
	// Email is set, and User zero, for an invitation to an address that
	// has no account yet; Mailed says whether it was sent there.
	Email     string
	Mailed    bool
	Role      string
	Inviter   string // the name of the administrator who invited
	CreatedAt time.Time
}

// AvatarURL is the path, relative to the hub, of the avatar of a user or
// organisation: the uploaded image, or an identicon made from the name.
// It does not change when a new image is uploaded, so that every place
// that gives it needs no lookup.
func AvatarURL(name string) string {
	return "/avatars/" + url.PathEscape(name)
}
