package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/hubhttp"
	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/profiles"
)

// profileExtra is what a profile page shows besides repositories: the
// profile itself, follows, and the visitor's own pending invitations.
type profileExtra struct {
	AvatarURL string
	Details   string
	Website   string
	Socials   []socialLink
	Followers int
	Following int
	// Some of the followers and followed, newest first, shown as avatars.
	FollowerList  []haven.User
	FollowingList []haven.User
	IsFollowing   bool
	CanFollow     bool
	CanEdit       bool // the visitor may change this profile
	SettingsURL   string
	Invitations   []*haven.Invitation
}

// profileFaces bounds the followers (and followed) a profile shows.
const profileFaces = 24

// withActor hands the visitor to code that reads it the API's way
// (hubhttp.Actor), such as the profiles service.
func withActor(r *http.Request) *http.Request {
	return r.WithContext(hubhttp.WithActor(r.Context(), actorOf(r)))
}

// socialLink is a handle on another site with the link to it.
type socialLink struct{ Site, Handle, URL string }

func socialLinks(h haven.SocialHandles) []socialLink {
	var out []socialLink
	for _, l := range []socialLink{
		{"GitHub", h.GitHub, "https://github.com/"},
		{"Twitter", h.Twitter, "https://x.com/"},
		{"LinkedIn", h.LinkedIn, "https://www.linkedin.com/in/"},
		{"Bluesky", h.Bluesky, "https://bsky.app/profile/"},
	} {
		if l.Handle != "" {
			l.URL += url.PathEscape(l.Handle)
			out = append(out, l)
		}
	}
	return out
}

// profileExtras fills the profile part of u's page for the visitor.
func (h *Handler) profileExtras(r *http.Request, u *haven.User) (profileExtra, error) {
	ctx := r.Context()
	a := actorOf(r)
	x := profileExtra{AvatarURL: haven.AvatarURL(u.Name)}
	p, err := h.meta.Profile(ctx, u.ID)
	if err != nil {
		return x, err
	}
	x.Details = p.Details
	// Only http and https links reach the page; older data is checked again.
	if w, err := profiles.CheckWebsite(p.Website); err == nil {
		x.Website = w
	}
	// Links are built from handles checked again, so that they stay on
	// the sites they name.
	if h, err := profiles.CheckSocials(p.Socials); err == nil {
		x.Socials = socialLinks(h)
	}
	c, err := h.meta.Counts(ctx, u.ID)
	if err != nil {
		return x, err
	}
	x.Followers, x.Following = c.Followers, c.Following
	if x.FollowerList, err = h.meta.Followers(ctx, u.ID, profileFaces); err != nil {
		return x, err
	}
	if x.FollowingList, err = h.meta.Following(ctx, u.ID, profileFaces); err != nil {
		return x, err
	}
	if a.Anonymous() {
		return x, nil
	}
	x.CanFollow = a.User.ID != u.ID
	if x.CanFollow {
		if x.IsFollowing, err = h.meta.IsFollowing(ctx, a.User.ID, u.ID); err != nil {
			return x, err
		}
	}
	switch {
	case u.IsOrg:
		x.CanEdit = a.User.IsAdmin || a.Orgs[strings.ToLower(u.Name)] == meta.RoleAdmin
		x.SettingsURL = orgSettingsURL(u.Name)
	case a.User.ID == u.ID:
		x.CanEdit = true
		x.SettingsURL = "/settings/profile"
		if x.Invitations, err = h.meta.InvitationsOfUser(ctx, u.ID); err != nil {
			return x, err
		}
	}
	return x, nil
}

func orgSettingsURL(org string) string { return "/organizations/" + url.PathEscape(org) + "/settings" }

// follow answers POST /settings/follow: name, and follow=0 to stop.
func (h *Handler) follow(w http.ResponseWriter, r *http.Request) {
	if h.Profiles == nil || r.Method != http.MethodPost {
		h.notFound(w, r)
		return
	}
	u, err := h.meta.UserByName(r.Context(), r.PostFormValue("name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.Profiles.Follow(withActor(r), u, r.PostFormValue("follow") != "0"); err != nil {
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/"+url.PathEscape(u.Name), http.StatusSeeOther)
}

type invitationsData struct {
	List  []*haven.Invitation
	Done  string
	Error string
}

// invitations answers /settings/invitations: the visitor's pending
// invitations to organisations, accepted or declined through forms.
func (h *Handler) invitations(w http.ResponseWriter, r *http.Request) {
	a := actorOf(r)
	if a.Anonymous() || h.Profiles == nil {
		h.fail(w, r, haven.Errorf(haven.EUnauthorized, "Sign in to see your invitations."))
		return
	}
	var d invitationsData
	if r.Method == http.MethodPost {
		id := r.PostFormValue("id")
		var (
			inv *haven.Invitation
			err error
		)
		switch r.PostFormValue("action") {
		case "accept":
			inv, err = h.Profiles.Accept(withActor(r), id)
		case "decline":
			inv, err = h.Profiles.Decline(withActor(r), id)
		default:
			err = haven.Errorf(haven.EInvalid, "Accept or decline the invitation.")
		}
		if err == nil {
			if r.PostFormValue("action") == "accept" {
				// The new membership must show in the visitor's session at once.
				h.sessions.Clear()
				http.Redirect(w, r, "/"+url.PathEscape(inv.Org.Name), http.StatusSeeOther)
				return
			}
			http.Redirect(w, r, "/settings/invitations?done=declined", http.StatusSeeOther)
			return
		}
		if !haven.IsCode(err, haven.ENotFound) && !haven.IsCode(err, haven.EInvalid) {
			h.fail(w, r, err)
			return
		}
		d.Error = haven.ErrorMessage(err)
	}
	list, err := h.meta.InvitationsOfUser(r.Context(), a.User.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d.List = list
	if r.URL.Query().Get("done") == "declined" {
		d.Done = "The invitation was declined."
	}
	status := http.StatusOK
	if d.Error != "" {
		status = http.StatusBadRequest
	}
	h.render(w, r, status, "invitations", "Invitations", d)
}

type profileSettingsData struct {
	User      *haven.User
	Profile   haven.Profile
	AvatarURL string
	Back      string
	Done      bool
	Error     string
}

// userProfileSettings answers /settings/profile: the visitor's own.
func (h *Handler) userProfileSettings(w http.ResponseWriter, r *http.Request) {
	a := actorOf(r)
	if a.Anonymous() {
		h.fail(w, r, haven.Errorf(haven.EUnauthorized, "Sign in to change your profile."))
		return
	}
	h.profileSettings(w, r, a.User, "/settings/profile")
}

// orgProfileSettings answers /organizations/{org}/settings, for its admins.
func (h *Handler) orgProfileSettings(w http.ResponseWriter, r *http.Request, name string) {
	a := actorOf(r)
	if a.Anonymous() {
		h.fail(w, r, haven.Errorf(haven.EUnauthorized, "Sign in to change an organisation's profile."))
		return
	}
	org, err := h.meta.UserByName(r.Context(), name)
	if err != nil || !org.IsOrg {
		h.notFound(w, r)
		return
	}
	if !a.User.IsAdmin && a.Orgs[strings.ToLower(org.Name)] != meta.RoleAdmin {
		h.fail(w, r, haven.Errorf(haven.EForbidden, "Only administrators of %s can change its profile.", org.Name))
		return
	}
	h.profileSettings(w, r, org, orgSettingsURL(org.Name))
}

// profileSettings shows and saves the profile form of u: full name,
// description, website and avatar (a file, or removed).
func (h *Handler) profileSettings(w http.ResponseWriter, r *http.Request, u *haven.User, self string) {
	if h.Profiles == nil {
		h.notFound(w, r)
		return
	}
	d := profileSettingsData{User: u, AvatarURL: haven.AvatarURL(u.Name), Back: "/" + url.PathEscape(u.Name)}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, profiles.MaxAvatarSize+64<<10)
		err := r.ParseMultipartForm(profiles.MaxAvatarSize + 64<<10)
		if err != nil && err != http.ErrNotMultipart {
			err = haven.Errorf(haven.EInvalid, "The form could not be read: the avatar may be larger than %d bytes.", profiles.MaxAvatarSize)
		} else {
			rr := withActor(r)
			socials := haven.SocialHandles{GitHub: r.FormValue("github"), Twitter: r.FormValue("twitter"),
				LinkedIn: r.FormValue("linkedin"), Bluesky: r.FormValue("bluesky")}
			if _, err = profiles.CheckSocials(socials); err == nil {
				err = h.Profiles.SetProfile(rr, u, r.FormValue("fullname"), r.FormValue("details"), r.FormValue("website"))
			}
			if err == nil {
				err = h.Profiles.SetSocials(rr, u, socials)
			}
			if err == nil && r.FormValue("remove_avatar") == "1" {
				err = h.Profiles.SetAvatar(rr, u, nil)
			} else if err == nil && r.MultipartForm != nil && len(r.MultipartForm.File["avatar"]) > 0 {
				f, ferr := r.MultipartForm.File["avatar"][0].Open()
				if ferr != nil {
					err = ferr
				} else {
					err = h.Profiles.SetAvatar(rr, u, f)
					f.Close()
				}
			}
		}
		if err == nil {
			http.Redirect(w, r, self+"?done=1", http.StatusSeeOther)
			return
		}
		if !haven.IsCode(err, haven.EInvalid) {
			h.fail(w, r, err)
			return
		}
		d.Error = haven.ErrorMessage(err)
	}
	p, err := h.meta.Profile(r.Context(), u.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d.Profile = p
	d.Done = r.URL.Query().Get("done") == "1"
	status := http.StatusOK
	if d.Error != "" {
		status = http.StatusBadRequest
		d.Profile.Details, d.Profile.Website = r.FormValue("details"), r.FormValue("website")
		d.Profile.Socials = haven.SocialHandles{GitHub: r.FormValue("github"), Twitter: r.FormValue("twitter"),
			LinkedIn: r.FormValue("linkedin"), Bluesky: r.FormValue("bluesky")}
	}
	h.render(w, r, status, "profilesettings", "Profile of "+u.Name, d)
}

// inviteMember carries out the members page's invitation forms: invite
// (a name or an email address, and a role) and cancel.
func (h *Handler) inviteMember(r *http.Request, d *membersData) (done, problem string) {
	if h.Profiles == nil {
		return "", "This hub does not send invitations."
	}
	var err error
	switch r.PostFormValue("action") {
	case "invite":
		d.Username, d.Role = strings.TrimSpace(r.PostFormValue("username")), r.PostFormValue("role")
		if !validRole(d.Role) {
			return "", "Choose admin, write, contributor or read."
		}
		_, err = h.Profiles.Invite(withActor(r), d.Org, d.Username, d.Role)
		done = "invited"
	case "cancel-invite":
		_, err = h.Profiles.Cancel(withActor(r), d.Org, r.PostFormValue("id"))
		done = "cancelled"
	}
	if err != nil {
		return "", haven.ErrorMessage(err)
	}
	return done, ""
}
