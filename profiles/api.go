package profiles

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/hubhttp"
	"github.com/havenhub/haven/meta"
)

// ServeAPI answers the profile paths under /api (segs after "api") and
// reports whether it did; the core serves the others. The Hub's paths:
//
//	GET  users/{u}/overview, organizations/{org}/overview
//	GET  users/{u}/followers, users/{u}/following, organizations/{org}/followers
//	GET  users/{u}/avatar, organizations/{org}/avatar, avatars/{ns}: {avatarUrl}
//
// and Haven's own, where the Hub has no public API:
//
//	POST|DELETE users/{u}/follow, organizations/{org}/follow
//	PUT|DELETE  users/{u}/avatar, organizations/{org}/avatar (the image as the body)
//	PATCH       users/{u}/profile, organizations/{org}/profile {fullname?, details?, website?}
//	GET|POST    organizations/{org}/invitations ({user} or {email}, and {role})
//	DELETE      organizations/{org}/invitations/{id}
//	GET         invitations; POST invitations/{id}/accept, invitations/{id}/decline
func (s *Service) ServeAPI(w http.ResponseWriter, r *http.Request, segs []string) bool {
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case len(segs) == 2 && segs[0] == "avatars" && get:
		s.avatarJSON(w, r, segs[1], "")
	case len(segs) == 1 && segs[0] == "invitations" && get:
		s.listMine(w, r)
	case len(segs) == 3 && segs[0] == "invitations" && (segs[2] == "accept" || segs[2] == "decline") && r.Method == http.MethodPost:
		s.answer(w, r, segs[1], segs[2] == "accept")
	case len(segs) >= 3 && (segs[0] == "users" || segs[0] == "organizations"):
		return s.serveNamespace(w, r, segs[0] == "organizations", segs[1], segs[2:])
	default:
		return false
	}
	return true
}

func (s *Service) serveNamespace(w http.ResponseWriter, r *http.Request, org bool, name string, rest []string) bool {
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	action := rest[0]
	switch {
	case len(rest) == 1 && action == "overview" && get:
	case len(rest) == 1 && action == "followers" && get:
	case len(rest) == 1 && action == "following" && get && !org:
	case len(rest) == 1 && action == "follow" && (r.Method == http.MethodPost || r.Method == http.MethodDelete):
	case len(rest) == 1 && action == "avatar" && (get || r.Method == http.MethodPut || r.Method == http.MethodDelete):
	case len(rest) == 1 && action == "profile" && r.Method == http.MethodPatch:
	case len(rest) == 1 && action == "socials" && get:
	case action == "invitations" && org && (len(rest) == 1 && (get || r.Method == http.MethodPost) || len(rest) == 2 && r.Method == http.MethodDelete):
	default:
		return false
	}
	u, err := s.cfg.Meta.UserByName(r.Context(), name)
	if err != nil || u.IsOrg != org {
		if org {
			err = haven.Errorf(haven.ENotFound, "Organization %s not found", name)
		} else {
			err = haven.Errorf(haven.ENotFound, "User %s not found", name)
		}
		s.fail(w, r, err)
		return true
	}
	switch action {
	case "overview":
		s.overview(w, r, u)
	case "followers", "following":
		s.follows(w, r, u, action == "followers")
	case "follow":
		if err := s.Follow(r, u, r.Method == http.MethodPost); err != nil {
			s.fail(w, r, err)
			return true
		}
		hubhttp.WriteJSON(w, http.StatusOK, map[string]any{"isFollowing": r.Method == http.MethodPost})
	case "avatar":
		s.avatar(w, r, u)
	case "profile":
		s.patchProfile(w, r, u)
	case "socials":
		s.socials(w, r, u)
	case "invitations":
		s.invitations(w, r, u, rest[1:])
	}
	return true
}

func (s *Service) fail(w http.ResponseWriter, r *http.Request, err error) {
	hubhttp.WriteError(s.cfg.Logger, w, r, err)
}

// userItem is a user or organisation as the Hub lists them (members,
// followers): Python's User reads "user", the JS client "name".
func userItem(u *haven.User) map[string]any {
	kind := "user"
	if u.IsOrg {
		kind = "org"
	}
	return map[string]any{
		"_id":       objectID(u.ID),
		"user":      u.Name,
		"name":      u.Name,
		"fullname":  fullName(u),
		"avatarUrl": haven.AvatarURL(u.Name),
		"type":      kind,
		"isPro":     false,
	}
}

// objectID is the _id of a user or organisation, as the core API gives it.
func objectID(id int64) string { return fmt.Sprintf("%024d", id) }

func fullName(u *haven.User) string {
	if u.FullName != "" {
		return u.FullName
	}
	return u.Name
}

// overview answers GET /api/{users|organizations}/{name}/overview with the
// fields the clients' User and Organization read. Repository counts are of
// what the caller may see.
func (s *Service) overview(w http.ResponseWriter, r *http.Request, u *haven.User) {
	ctx := r.Context()
	a := hubhttp.Actor(r)
	p, err := s.cfg.Meta.Profile(ctx, u.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	c, err := s.cfg.Meta.Counts(ctx, u.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := userItem(u)
	out["details"] = p.Details
	out["websiteUrl"] = p.Website
	out["createdAt"] = haven.FormatTime(u.CreatedAt)
	out["numFollowers"] = c.Followers
	out["numPapers"] = 0
	for _, t := range haven.RepoTypes {
		f := meta.RepoFilter{Type: t, Author: u.Name, VisibleTo: a.Namespaces(), SeeAll: !a.Anonymous() && a.User.IsAdmin}
		n, err := s.cfg.Meta.CountRepos(ctx, f)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out["num"+strings.ToUpper(string(t[:1]))+string(t[1:])+"s"] = n
	}
	if !a.Anonymous() {
		following, err := s.cfg.Meta.IsFollowing(ctx, a.User.ID, u.ID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out["isFollowing"] = following
	}
	if u.IsOrg {
		delete(out, "user")
		out["numUsers"] = c.Members
		out["isVerified"] = false
	} else {
		out["numFollowing"] = c.Following
		out["numLikes"] = c.Likes
		out["numUpvotes"] = 0
		ms, err := s.cfg.Meta.Memberships(ctx, u.ID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		orgs := make([]map[string]any, 0, len(ms))
		for _, m := range ms {
			orgs = append(orgs, map[string]any{"id": objectID(m.Org.ID), "name": m.Org.Name,
				"fullname": fullName(&m.Org), "avatarUrl": haven.AvatarURL(m.Org.Name)})
		}
		out["orgs"] = orgs
	}
	hubhttp.WriteJSON(w, http.StatusOK, out)
}

// pageLimit reads the limit of a Link-paginated listing (10 to 10 000, 500
// by default, as the Hub's members listing).
func pageLimit(q url.Values) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return 500, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 10 || n > 10000 {
		return 0, haven.Errorf(haven.EInvalid, "limit must be a number from 10 to 10000")
	}
	return n, nil
}

// writePage answers one page of items with a Link to the next, the
// cursor being the offset (a listing of people changes little).
func (s *Service) writePage(w http.ResponseWriter, r *http.Request, items []map[string]any) {
	q := r.URL.Query()
	limit, err := pageLimit(q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	offset, _ := strconv.Atoi(q.Get("cursor"))
	offset = max(0, min(offset, len(items)))
	end := min(offset+limit, len(items))
	if end < len(items) {
		q.Set("cursor", strconv.Itoa(end))
		w.Header().Set("Link", "<"+s.cfg.PublicURL+r.URL.EscapedPath()+"?"+q.Encode()+`>; rel="next"`)
	}
	hubhttp.WriteJSON(w, http.StatusOK, items[offset:end])
}

// follows answers GET .../followers and .../following.
func (s *Service) follows(w http.ResponseWriter, r *http.Request, u *haven.User, followers bool) {
	var (
		list []haven.User
		err  error
	)
	if followers {
		list, err = s.cfg.Meta.Followers(r.Context(), u.ID, 0)
	} else {
		list, err = s.cfg.Meta.Following(r.Context(), u.ID, 0)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	items := make([]map[string]any, 0, len(list))
	for i := range list {
		items = append(items, userItem(&list[i]))
	}
	s.writePage(w, r, items)
}

// avatar answers GET (the URL), PUT (upload) and DELETE of an avatar.
func (s *Service) avatar(w http.ResponseWriter, r *http.Request, u *haven.User) {
	switch r.Method {
	case http.MethodPut:
		r.Body = http.MaxBytesReader(w, r.Body, MaxAvatarSize+1)
		if err := s.SetAvatar(r, u, r.Body); err != nil {
			s.fail(w, r, err)
			return
		}
	case http.MethodDelete:
		if err := s.SetAvatar(r, u, nil); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	s.avatarJSON(w, r, u.Name, u.Name)
}

// avatarJSON answers {avatarUrl}, or redirects to the image when the
// caller asks for one (an <img> fetch, or ?redirect), as the Hub does.
func (s *Service) avatarJSON(w http.ResponseWriter, r *http.Request, name, found string) {
	if found == "" {
		u, err := s.cfg.Meta.UserByName(r.Context(), name)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		found = u.Name
	}
	link := haven.AvatarURL(found)
	if r.Method == http.MethodGet && (r.Header.Get("Sec-Fetch-Dest") == "image" || r.URL.Query().Has("redirect")) {
		http.Redirect(w, r, link, http.StatusFound)
		return
	}
	hubhttp.WriteJSON(w, http.StatusOK, map[string]any{"avatarUrl": link})
}

// patchProfile answers PATCH .../profile: the fields given are replaced.
// socials answers the Hub's socials of a user or organisation:
// {_id, user|org, socialHandles{github?, twitter?, linkedin?, bluesky?}}.
func (s *Service) socials(w http.ResponseWriter, r *http.Request, u *haven.User) {
	p, err := s.cfg.Meta.Profile(r.Context(), u.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	kind := "user"
	if u.IsOrg {
		kind = "org"
	}
	hubhttp.WriteJSON(w, http.StatusOK, map[string]any{"_id": objectID(u.ID), kind: u.Name, "socialHandles": SocialsJSON(p.Socials)})
}

// SocialsJSON is the Hub's socialHandles object: only the handles given.
func SocialsJSON(h haven.SocialHandles) map[string]string {
	out := map[string]string{}
	for k, v := range map[string]string{"github": h.GitHub, "twitter": h.Twitter, "linkedin": h.LinkedIn, "bluesky": h.Bluesky} {
		if v != "" {
			out[k] = v
		}
	}
	return out
}

func (s *Service) patchProfile(w http.ResponseWriter, r *http.Request, u *haven.User) {
	var body struct {
		FullName *string `json:"fullname"`
		Details  *string `json:"details"`
		Website  *string `json:"website"`
		// Handles given replace the old ones; "" removes one.
		Socials *struct {
			GitHub   *string `json:"github"`
			Twitter  *string `json:"twitter"`
			LinkedIn *string `json:"linkedin"`
			Bluesky  *string `json:"bluesky"`
		} `json:"socialHandles"`
	}
	if err := hubhttp.DecodeJSON(r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	p, err := s.cfg.Meta.Profile(r.Context(), u.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	fn := u.FullName
	if body.FullName != nil {
		fn = *body.FullName
	}
	if body.Details != nil {
		p.Details = *body.Details
	}
	if body.Website != nil {
		p.Website = *body.Website
	}
	h := p.Socials
	if b := body.Socials; b != nil {
		for _, f := range []struct{ dst, src *string }{{&h.GitHub, b.GitHub}, {&h.Twitter, b.Twitter}, {&h.LinkedIn, b.LinkedIn}, {&h.Bluesky, b.Bluesky}} {
			if f.src != nil {
				*f.dst = *f.src
			}
		}
		// Refused before anything is saved.
		if _, err := CheckSocials(h); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if err := s.SetProfile(r, u, fn, p.Details, p.Website); err != nil {
		s.fail(w, r, err)
		return
	}
	if body.Socials != nil {
		if err := s.SetSocials(r, u, h); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	s.overview(w, r, u)
}

// InvitationJSON is an invitation as the API gives it.
// An invitation to an address without an account has "email" and "mailed"
// and a null "user".
func InvitationJSON(inv *haven.Invitation) map[string]any {
	out := map[string]any{
		"id":        inv.ID,
		"org":       map[string]any{"name": inv.Org.Name, "fullname": fullName(&inv.Org), "avatarUrl": haven.AvatarURL(inv.Org.Name), "type": "org"},
		"user":      map[string]any{"user": inv.User.Name, "fullname": fullName(&inv.User), "avatarUrl": haven.AvatarURL(inv.User.Name), "type": "user"},
		"role":      inv.Role,
		"invitedBy": inv.Inviter,
		"createdAt": haven.FormatTime(inv.CreatedAt),
	}
	if inv.Email != "" {
		out["user"], out["email"], out["mailed"] = nil, inv.Email, inv.Mailed
	}
	return out
}

func invitationsJSON(list []*haven.Invitation) []map[string]any {
	out := make([]map[string]any, 0, len(list))
	for _, inv := range list {
		out = append(out, InvitationJSON(inv))
	}
	return out
}

// invitations answers GET, POST and DELETE .../invitations[/{id}] of an
// organisation.
func (s *Service) invitations(w http.ResponseWriter, r *http.Request, org *haven.User, rest []string) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		list, err := s.Invitations(r, org)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		hubhttp.WriteJSON(w, http.StatusOK, invitationsJSON(list))
	case http.MethodPost:
		var body struct {
			User  string `json:"user"`
			Email string `json:"email"`
			Role  string `json:"role"`
		}
		if err := hubhttp.DecodeJSON(r, &body); err != nil {
			s.fail(w, r, err)
			return
		}
		// Refused before the user is looked up, so that a non-admin learns
		// nothing of who has an account.
		if err := auth.CanManageOrg(hubhttp.Actor(r), org.Name); err != nil {
			s.fail(w, r, err)
			return
		}
		who := body.User
		if who == "" {
			who = body.Email
		}
		if body.Role == "" {
			body.Role = meta.RoleRead
		}
		inv, err := s.Invite(r, org, who, body.Role)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		hubhttp.WriteJSON(w, http.StatusCreated, InvitationJSON(inv))
	case http.MethodDelete:
		if _, err := s.Cancel(r, org, rest[0]); err != nil {
			s.fail(w, r, err)
			return
		}
		hubhttp.WriteJSON(w, http.StatusOK, map[string]any{})
	}
}

// listMine answers GET /api/invitations: the caller's.
func (s *Service) listMine(w http.ResponseWriter, r *http.Request) {
	list, err := s.MyInvitations(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	hubhttp.WriteJSON(w, http.StatusOK, invitationsJSON(list))
}

// answer answers POST /api/invitations/{id}/accept and /decline.
func (s *Service) answer(w http.ResponseWriter, r *http.Request, id string, accept bool) {
	var (
		inv *haven.Invitation
		err error
	)
	if accept {
		inv, err = s.Accept(r, id)
	} else {
		inv, err = s.Decline(r, id)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	hubhttp.WriteJSON(w, http.StatusOK, InvitationJSON(inv))
}
