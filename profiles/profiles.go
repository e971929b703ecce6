// Package profiles keeps what users and organisations show of themselves
// and how they relate: profiles (description, website, avatar), followers,
// and invitations to organisations that make a membership once accepted.
// The API (profiles/api.go) and the pages share its rules.
package profiles

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	_ "image/gif" // avatar formats, checked by decoding their header
	_ "image/jpeg"
	_ "image/png"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/hubhttp"
	"github.com/havenhub/haven/meta"
)

// Avatar limits: an avatar is shown small, so a larger one is a mistake
// or an attack on the store.
const (
	MaxAvatarSize = 1 << 20
	MaxAvatarSide = 4096
)

// avatarTypes are the media types an uploaded avatar may have. SVG is not
// among them: it can carry scripts.
var avatarTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true}

// Config is what the service needs.
type Config struct {
	Meta      *meta.Store
	Blobs     blob.Driver
	PublicURL string
	Logger    *slog.Logger
	// Audit records invitations and settings changes; nil: nothing is.
	Audit haven.Auditor
	// Notify tells users of their invitations; nil: nobody is told.
	Notify haven.Notifier
	// Mail sends invitations to addresses that have no account yet; nil
	// (or no mail server): the invitation is kept, and shown as not sent.
	Mail haven.Mailer
	// Changed is called when memberships change, so that whoever caches
	// identities (tokens, sessions) forgets them; may be nil.
	Changed func()
}

// Service carries out profile, follow and invitation changes.
type Service struct{ cfg Config }

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	return &Service{cfg: cfg}
}

func (s *Service) changed() {
	if s.cfg.Changed != nil {
		s.cfg.Changed()
	}
}

// InvitationsURL is the page where a user answers their invitations.
const InvitationsURL = "/settings/invitations"

// Invite asks a user, named by name or email address, to join org with
// role. Only the organisation's admins may; the user is told through a
// notification.
func (s *Service) Invite(r *http.Request, org *haven.User, who, role string) (*haven.Invitation, error) {
	ctx := r.Context()
	a := hubhttp.Actor(r)
	if err := auth.CanManageOrg(a, org.Name); err != nil {
		return nil, err
	}
	who = strings.TrimSpace(who)
	if who == "" {
		return nil, haven.Errorf(haven.EInvalid, "Name the user to invite, or give their email address")
	}
	var (
		user *haven.User
		err  error
		by   = "name"
	)
	if strings.Contains(who, "@") {
		by = "email"
		user, err = s.cfg.Meta.UserByEmail(ctx, who)
		if haven.IsCode(err, haven.ENotFound) {
			return s.inviteEmail(r, org, who, role)
		}
	} else if user, err = s.cfg.Meta.UserByName(ctx, who); err == nil && user.IsOrg {
		err = haven.Errorf(haven.ENotFound, "User %s not found", who)
	}
	if err != nil {
		return nil, err
	}
	inv := &haven.Invitation{Org: *org, User: *user, Role: role, Inviter: a.User.Name}
	if err := s.cfg.Meta.Invite(ctx, inv); err != nil {
		return nil, err
	}
	hubhttp.Audit(s.cfg.Audit, r, haven.AuditEntry{Action: haven.AuditOrgInvite, Namespace: org.Name,
		TargetType: haven.AuditTargetUser, Target: user.Name, Details: map[string]any{"role": role, "by": by}})
	haven.Notify(context.WithoutCancel(ctx), s.cfg.Notify, user, haven.Notification{
		Kind:    haven.NotifyInvitation,
		Actor:   a.User.Name,
		Subject: fmt.Sprintf("%s invites you to join %s", a.User.Name, org.Name),
		Body:    fmt.Sprintf("%s invites you to join the organization %s with the role %q. Accept or decline the invitation on your invitations page.", a.User.Name, org.Name, role),
		URL:     s.cfg.PublicURL + InvitationsURL,
	})
	return inv, nil
}

// inviteEmail keeps an invitation to email, an address without an account:
// whoever signs in with it proven gets the invitation. The address is sent
// the invitation when there is a mail server.
func (s *Service) inviteEmail(r *http.Request, org *haven.User, email, role string) (*haven.Invitation, error) {
	a := hubhttp.Actor(r)
	if !validEmail(email) {
		return nil, haven.Errorf(haven.EInvalid, "Invalid email address %q", email)
	}
	inv := &haven.Invitation{Org: *org, Email: email, Role: role, Inviter: a.User.Name}
	if err := s.cfg.Meta.InviteEmail(r.Context(), inv); err != nil {
		return nil, err
	}
	if s.cfg.Mail != nil {
		inv.Mailed = s.cfg.Mail.Mail(context.WithoutCancel(r.Context()), email,
			fmt.Sprintf("%s invites you to join %s", a.User.Name, org.Name),
			fmt.Sprintf("%s invites you to join the organization %s on %s with the role %q.\n\n"+
				"Sign in with this address (%s) and accept the invitation on your invitations page:\n\n%s\n",
				a.User.Name, org.Name, s.cfg.PublicURL, role, email, s.cfg.PublicURL+InvitationsURL))
	}
	if inv.Mailed {
		// Kept with the invitation, so that admins see it was sent.
		if err := s.cfg.Meta.InviteEmail(r.Context(), inv); err != nil {
			return nil, err
		}
	} else {
		s.cfg.Logger.Info("invitation kept for an address without an account; no email sent", "org", org.Name, "email", email)
	}
	hubhttp.Audit(s.cfg.Audit, r, haven.AuditEntry{Action: haven.AuditOrgInvite, Namespace: org.Name,
		TargetType: haven.AuditTargetUser, Target: email, Details: map[string]any{"role": role, "by": "email", "mailed": inv.Mailed}})
	return inv, nil
}

// validEmail is a loose check of an address: one '@' with text around it,
// no spaces, nothing that would break a mail header.
func validEmail(e string) bool {
	at := strings.IndexByte(e, '@')
	return at > 0 && at < len(e)-1 && strings.Count(e, "@") == 1 && !strings.ContainsAny(e, " \t\r\n<>,;") && len(e) <= 254
}

// Accept makes the caller a member of the organisation that invited them.
func (s *Service) Accept(r *http.Request, id string) (*haven.Invitation, error) {
	a := hubhttp.Actor(r)
	if err := auth.CanActAsSelf(a); err != nil {
		return nil, err
	}
	inv, err := s.cfg.Meta.AcceptInvitation(r.Context(), id, a.User.ID)
	if err != nil {
		return nil, err
	}
	s.changed()
	hubhttp.Audit(s.cfg.Audit, r, haven.AuditEntry{Action: haven.AuditOrgInviteAccept, Namespace: inv.Org.Name,
		TargetType: haven.AuditTargetUser, Target: inv.User.Name, Details: map[string]any{"role": inv.Role, "invitedBy": inv.Inviter}})
	if inviter, err := s.cfg.Meta.UserByName(r.Context(), inv.Inviter); err == nil && inv.Inviter != "" {
		haven.Notify(context.WithoutCancel(r.Context()), s.cfg.Notify, inviter, haven.Notification{
			Kind:    haven.NotifyInvitation,
			Actor:   a.User.Name,
			Subject: fmt.Sprintf("%s joined %s", a.User.Name, inv.Org.Name),
			Body:    fmt.Sprintf("%s accepted your invitation and is now a member of %s with the role %q.", a.User.Name, inv.Org.Name, inv.Role),
			URL:     s.cfg.PublicURL + "/organizations/" + url.PathEscape(inv.Org.Name) + "/members",
		})
	}
	return inv, nil
}

// Decline turns down an invitation of the caller's.
func (s *Service) Decline(r *http.Request, id string) (*haven.Invitation, error) {
	a := hubhttp.Actor(r)
	if err := auth.CanActAsSelf(a); err != nil {
		return nil, err
	}
	inv, err := s.cfg.Meta.InvitationByID(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if inv.User.ID != a.User.ID {
		// Someone else's invitation is not found, like one that is not there.
		return nil, haven.Errorf(haven.ENotFound, "Invitation not found")
	}
	if inv, err = s.cfg.Meta.DeleteInvitation(r.Context(), id); err != nil {
		return nil, err
	}
	hubhttp.Audit(s.cfg.Audit, r, haven.AuditEntry{Action: haven.AuditOrgInviteDecline, Namespace: inv.Org.Name,
		TargetType: haven.AuditTargetUser, Target: inv.User.Name, Details: map[string]any{"role": inv.Role}})
	return inv, nil
}

// Cancel withdraws an invitation of org; only its admins may.
func (s *Service) Cancel(r *http.Request, org *haven.User, id string) (*haven.Invitation, error) {
	if err := auth.CanManageOrg(hubhttp.Actor(r), org.Name); err != nil {
		return nil, err
	}
	inv, err := s.cfg.Meta.InvitationByID(r.Context(), id)
	if haven.IsCode(err, haven.ENotFound) {
		// An invitation to an address without an account.
		if inv, err = s.cfg.Meta.DeleteEmailInvitation(r.Context(), org, id); err != nil {
			return nil, err
		}
		hubhttp.Audit(s.cfg.Audit, r, haven.AuditEntry{Action: haven.AuditOrgInviteCancel, Namespace: org.Name,
			TargetType: haven.AuditTargetUser, Target: inv.Email, Details: map[string]any{"role": inv.Role}})
		return inv, nil
	}
	if err != nil {
		return nil, err
	}
	if inv.Org.ID != org.ID {
		return nil, haven.Errorf(haven.ENotFound, "Invitation not found")
	}
	if inv, err = s.cfg.Meta.DeleteInvitation(r.Context(), id); err != nil {
		return nil, err
	}
	hubhttp.Audit(s.cfg.Audit, r, haven.AuditEntry{Action: haven.AuditOrgInviteCancel, Namespace: org.Name,
		TargetType: haven.AuditTargetUser, Target: inv.User.Name, Details: map[string]any{"role": inv.Role}})
	return inv, nil
}

// Invitations lists an organisation's pending invitations, for its admins.
func (s *Service) Invitations(r *http.Request, org *haven.User) ([]*haven.Invitation, error) {
	if err := auth.CanSeeInvitations(hubhttp.Actor(r), org.Name); err != nil {
		return nil, err
	}
	list, err := s.cfg.Meta.InvitationsOfOrg(r.Context(), org.ID)
	if err != nil {
		return nil, err
	}
	byEmail, err := s.cfg.Meta.EmailInvitationsOfOrg(r.Context(), org)
	if err != nil {
		return nil, err
	}
	return append(list, byEmail...), nil
}

// MyInvitations lists the caller's pending invitations.
func (s *Service) MyInvitations(r *http.Request) ([]*haven.Invitation, error) {
	a := hubhttp.Actor(r)
	if a.Anonymous() {
		return nil, haven.Errorf(haven.EUnauthorized, "You must be authenticated to do this. Please log in or pass a token.")
	}
	return s.cfg.Meta.InvitationsOfUser(r.Context(), a.User.ID)
}

// Follow makes the caller follow (or, with on false, stop following) a
// user or organisation.
func (s *Service) Follow(r *http.Request, target *haven.User, on bool) error {
	a := hubhttp.Actor(r)
	if err := auth.CanActAsSelf(a); err != nil {
		return err
	}
	if on {
		return s.cfg.Meta.Follow(r.Context(), a.User.ID, target.ID)
	}
	return s.cfg.Meta.Unfollow(r.Context(), a.User.ID, target.ID)
}

// canEdit reports whether the caller may change the profile of u: an
// organisation's admins, a user themselves, the hub's admins.
func canEdit(a *auth.Actor, u *haven.User) error {
	if u.IsOrg {
		return auth.CanManageOrg(a, u.Name)
	}
	if err := auth.CanActAsSelf(a); err != nil {
		return err
	}
	if a.User.ID != u.ID && !a.User.IsAdmin {
		return haven.Errorf(haven.EForbidden, "You may only change your own profile")
	}
	return nil
}

// socialHandle is what a handle on another site may be: letters, digits,
// '_', '.', '-' (Bluesky handles are domain names).
var socialHandle = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$`)

// CheckSocials returns the handles cleaned (spaces and a leading '@'
// dropped), or an error naming the first that is not a handle: a link
// built from it must stay on the site it names.
func CheckSocials(h haven.SocialHandles) (haven.SocialHandles, error) {
	for _, f := range []struct {
		name string
		v    *string
	}{{"GitHub", &h.GitHub}, {"Twitter", &h.Twitter}, {"LinkedIn", &h.LinkedIn}, {"Bluesky", &h.Bluesky}} {
		*f.v = strings.TrimPrefix(strings.TrimSpace(*f.v), "@")
		if *f.v != "" && !socialHandle.MatchString(*f.v) {
			return h, haven.Errorf(haven.EInvalid, "The %s handle %q is not a handle: give the name only, not a link", f.name, *f.v)
		}
	}
	return h, nil
}

// SetSocials replaces the social handles of u, for those who may edit
// its profile.
func (s *Service) SetSocials(r *http.Request, u *haven.User, h haven.SocialHandles) error {
	if err := canEdit(hubhttp.Actor(r), u); err != nil {
		return err
	}
	h, err := CheckSocials(h)
	if err != nil {
		return err
	}
	return s.cfg.Meta.SetSocials(r.Context(), u.ID, h)
}

// CheckWebsite returns the cleaned website address, or an error when it
// is not an http or https URL: anything else (javascript:, data:) would
// run in the page as a link.
func CheckWebsite(website string) (string, error) {
	website = strings.TrimSpace(website)
	if website == "" {
		return "", nil
	}
	u, err := url.Parse(website)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return "", haven.Errorf(haven.EInvalid, "The website must be an http or https address")
	}
	return u.String(), nil
}

// SetProfile replaces the full name, description and website of u.
func (s *Service) SetProfile(r *http.Request, u *haven.User, fullName, details, website string) error {
	if err := canEdit(hubhttp.Actor(r), u); err != nil {
		return err
	}
	website, err := CheckWebsite(website)
	if err != nil {
		return err
	}
	fullName, details = strings.TrimSpace(fullName), strings.TrimSpace(details)
	if err := s.cfg.Meta.SetProfile(r.Context(), u.ID, fullName, details, website); err != nil {
		return err
	}
	u.FullName = fullName
	if u.IsOrg {
		hubhttp.Audit(s.cfg.Audit, r, haven.AuditEntry{Action: haven.AuditOrgSettings, Namespace: u.Name, TargetType: haven.AuditTargetUser,
			Target: u.Name, Details: map[string]any{"fullname": fullName, "website": website, "details": len(details) > 0}})
	}
	return nil
}

// SetAvatar stores an uploaded avatar of u: PNG, JPEG or GIF, at most
// MaxAvatarSize bytes and MaxAvatarSide pixels a side. data nil removes
// it, back to the identicon.
func (s *Service) SetAvatar(r *http.Request, u *haven.User, data io.Reader) error {
	if err := canEdit(hubhttp.Actor(r), u); err != nil {
		return err
	}
	if s.cfg.Blobs == nil {
		return haven.Errorf(haven.EInvalid, "This hub keeps no uploaded avatars")
	}
	ctx := r.Context()
	key, mediaType := "", ""
	if data != nil {
		b, err := io.ReadAll(io.LimitReader(data, MaxAvatarSize+1))
		if err != nil {
			return err
		}
		if mediaType, err = checkAvatar(b); err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		key = "avatars/" + hex.EncodeToString(sum[:])
		if err := s.cfg.Blobs.Put(ctx, key, bytes.NewReader(b), int64(len(b))); err != nil {
			return err
		}
	}
	old, err := s.cfg.Meta.SetAvatar(ctx, u.ID, key, mediaType)
	if err != nil {
		return err
	}
	if old != "" && old != key {
		// Avatars are stored by content: another name may use the same
		// image, so it stays unless nobody does.
		if inUse, err := s.cfg.Meta.AvatarInUse(ctx, old); err == nil && !inUse {
			if err := s.cfg.Blobs.Delete(context.WithoutCancel(ctx), old); err != nil {
				s.cfg.Logger.Warn("deleting a replaced avatar", "key", old, "err", err)
			}
		}
	}
	if u.IsOrg {
		hubhttp.Audit(s.cfg.Audit, r, haven.AuditEntry{Action: haven.AuditOrgSettings, Namespace: u.Name, TargetType: haven.AuditTargetUser,
			Target: u.Name, Details: map[string]any{"avatar": mediaType != ""}})
	}
	return nil
}

// checkAvatar returns the media type of an uploaded avatar, or why it is
// refused.
func checkAvatar(b []byte) (string, error) {
	if len(b) > MaxAvatarSize {
		return "", haven.Errorf(haven.EInvalid, "The avatar is larger than %d bytes", MaxAvatarSize)
	}
	mediaType := http.DetectContentType(b)
	if !avatarTypes[mediaType] {
		return "", haven.Errorf(haven.EInvalid, "The avatar must be a PNG, JPEG or GIF image")
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return "", haven.Errorf(haven.EInvalid, "The avatar is not a readable image: %v", err)
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > MaxAvatarSide || cfg.Height > MaxAvatarSide {
		return "", haven.Errorf(haven.EInvalid, "The avatar must be at most %d pixels a side", MaxAvatarSide)
	}
	return mediaType, nil
}

// ServeAvatar answers GET /avatars/{name}: the uploaded image of a user or
// organisation, or its identicon. The name may end in .svg, .png or .jpg,
// as the Hub's avatar URLs do.
func (s *Service) ServeAvatar(w http.ResponseWriter, r *http.Request, name string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hubhttp.WriteError(s.cfg.Logger, w, r, haven.Errorf(haven.ENotFound, "Not Found"))
		return
	}
	ctx := r.Context()
	u, err := s.cfg.Meta.UserByName(ctx, name)
	if err != nil {
		for _, ext := range []string{".svg", ".png", ".jpg", ".jpeg", ".gif"} {
			if base, ok := strings.CutSuffix(name, ext); ok {
				u, err = s.cfg.Meta.UserByName(ctx, base)
				break
			}
		}
	}
	if err != nil {
		hubhttp.WriteError(s.cfg.Logger, w, r, err)
		return
	}
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	// Short: a new upload keeps the same URL.
	h.Set("Cache-Control", "public, max-age=300")
	p, err := s.cfg.Meta.Profile(ctx, u.ID)
	if err == nil && p.AvatarKey != "" && s.cfg.Blobs != nil {
		f, _, err := s.cfg.Blobs.Open(ctx, p.AvatarKey)
		if err == nil {
			defer f.Close()
			h.Set("Content-Type", p.AvatarType)
			h.Set("ETag", `"`+strings.TrimPrefix(p.AvatarKey, "avatars/")+`"`)
			http.ServeContent(w, r, "", u.CreatedAt, f)
			return
		}
		s.cfg.Logger.Warn("opening an avatar", "user", u.Name, "key", p.AvatarKey, "err", err)
	}
	svg := Identicon(u.Name)
	sum := sha256.Sum256(svg)
	h.Set("Content-Type", "image/svg+xml")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
	h.Set("ETag", `"`+hex.EncodeToString(sum[:8])+`"`)
	http.ServeContent(w, r, "", u.CreatedAt, bytes.NewReader(svg))
}
