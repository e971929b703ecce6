package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
)

// handleOrgMembers answers GET /api/organizations/{org}/members: the
// members as user items, by name, with search and cursor pages (limit 10 to
// 10 000, 500 by default). Roles are shown to the organisation's members
// only, as the Hub keeps them an admin-visible detail.
func (s *Server) handleOrgMembers(w http.ResponseWriter, r *http.Request, name string) {
	org, err := s.meta.UserByName(r.Context(), name)
	if err != nil || !org.IsOrg {
		s.writeError(w, r, haven.Errorf(haven.ENotFound, "Organization %s not found", name))
		return
	}
	users, roles, err := s.meta.Members(r.Context(), org.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	limit := 500
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 10 || n > 10000 {
			s.writeError(w, r, errInvalid("limit must be a number from 10 to 10000"))
			return
		}
		limit = n
	}
	search := strings.ToLower(q.Get("search"))
	showRoles := auth.CanSeeRoles(actorOf(r), org.Name)
	// Whom the caller follows, for isFollowing, as on the Hub.
	var followed map[int64]bool
	if a := actorOf(r); !a.Anonymous() {
		list, err := s.meta.Following(r.Context(), a.User.ID, 0)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		followed = make(map[int64]bool, len(list))
		for _, f := range list {
			followed[f.ID] = true
		}
	}
	items := make([]map[string]any, 0, len(users))
	for i, u := range users {
		if search != "" && !strings.Contains(strings.ToLower(u.Name), search) && !strings.Contains(strings.ToLower(fullName(&u)), search) {
			continue
		}
		item := map[string]any{
			"_id":       repoObjectIDFor(u.ID),
			"user":      u.Name,
			"fullname":  fullName(&u),
			"avatarUrl": haven.AvatarURL(u.Name),
			"type":      "user",
			"isPro":     false,
		}
		if showRoles {
			item["role"] = roles[i]
		}
		if followed != nil {
			item["isFollowing"] = followed[u.ID]
		}
		items = append(items, item)
	}
	offset := cursorOffset(q.Get("cursor"))
	if offset > len(items) {
		offset = len(items)
	}
	end := min(offset+limit, len(items))
	if end < len(items) {
		s.setNextLink(w, r, end)
	}
	writeJSON(w, http.StatusOK, items[offset:end])
}

// handleRevokeCredentials answers POST /api/credentials/revoke: anyone who
// holds a token may have it cut off (a leaked token found in the wild), so
// the call needs no authentication and always answers 202, telling nothing
// about which tokens existed.
func (s *Server) handleRevokeCredentials(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		s.writeError(w, r, errNotFound("Not Found"))
		return
	}
	var body struct {
		Credentials []string `json:"credentials"`
	}
	if err := decodeJSON(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(body.Credentials) < 1 || len(body.Credentials) > 1000 {
		s.writeError(w, r, errInvalid("credentials must list 1 to 1000 tokens"))
		return
	}
	revoked := false
	for _, c := range body.Credentials {
		if len(c) > 200 || !strings.HasPrefix(c, auth.TokenPrefix) {
			continue
		}
		tok, user, err := s.meta.TokenByHash(r.Context(), auth.HashToken(c))
		if err != nil {
			continue
		}
		if err := s.meta.DeleteToken(r.Context(), user.ID, tok.ID); err != nil {
			s.log.Warn("revoking a credential", "user", user.Name, "err", err)
			continue
		}
		s.log.Info("credential revoked by request", "user", user.Name, "token", tok.ID)
		revoked = true
	}
	if revoked {
		s.ForgetTokens()
	}
	writeJSON(w, http.StatusAccepted, map[string]any{})
}
