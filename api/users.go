package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/card"
)

// handleWhoami answers GET /api/whoami-v2.
func (s *Server) handleWhoami(w http.ResponseWriter, r *http.Request) {
	a := actorOf(r)
	if a.Anonymous() {
		s.writeError(w, r, haven.Errorf(haven.EUnauthorized, "Invalid user token. Please pass a token with the Authorization header."))
		return
	}
	ms, err := s.meta.Memberships(r.Context(), a.User.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	orgs := make([]map[string]any, 0, len(ms))
	for _, m := range ms {
		orgs = append(orgs, map[string]any{
			"type":         "org",
			"id":           repoObjectIDFor(m.Org.ID),
			"name":         m.Org.Name,
			"fullname":     fullName(&m.Org),
			"avatarUrl":    haven.AvatarURL(m.Org.Name),
			"roleInOrg":    m.Role,
			"isEnterprise": false,
		})
	}
	authInfo := map[string]any{"type": "access_token"}
	if a.Token != nil {
		tok := map[string]any{
			"displayName": a.Token.DisplayName,
			"role":        string(a.Token.Role),
			"createdAt":   haven.FormatTime(a.Token.CreatedAt),
		}
		// The JS client compares the keys of a classic token's answer
		// exactly: fineGrained and expiresAt appear only when they apply.
		if a.Token.Role == haven.RoleFineGrained && a.Token.FineGrained != nil {
			tok["fineGrained"] = s.fineGrainedJSON(r.Context(), a.Token.FineGrained)
		}
		authInfo["accessToken"] = tok
		if !a.Token.ExpiresAt.IsZero() {
			authInfo["expiresAt"] = haven.FormatTime(a.Token.ExpiresAt)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"type":          "user",
		"id":            repoObjectIDFor(a.User.ID),
		"name":          a.User.Name,
		"fullname":      fullName(a.User),
		"email":         a.User.Email,
		"emailVerified": a.User.Email != "",
		"isPro":         false,
		"canPay":        false,
		"avatarUrl":     haven.AvatarURL(a.User.Name),
		"periodEnd":     nil,
		"isAdmin":       a.User.IsAdmin,
		"orgs":          orgs,
		"auth":          authInfo,
	})
}

func fullName(u *haven.User) string {
	if u.FullName != "" {
		return u.FullName
	}
	return u.Name
}

func repoObjectIDFor(id int64) string {
	return repoObjectID(&haven.Repo{ID: id})
}

// handleValidateYAML answers POST /api/validate-yaml. It always answers
// JSON: the Python client parses the body before it looks at the status.
func (s *Server) handleValidateYAML(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Content  string `json:"content"`
		RepoType string `json:"repoType"`
	}
	if err := decodeJSON(r, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errors": []card.Issue{{Message: haven.ErrorMessage(err)}}, "warnings": []card.Issue{}})
		return
	}
	t, err := haven.ParseRepoType(req.RepoType)
	if err != nil {
		t = haven.Model
	}
	errs, warns := card.Validate([]byte(req.Content), t)
	if c, err := card.Parse([]byte(req.Content)); err == nil {
		// How well the card documents the repository: advice, never a refusal.
		warns = append(warns, card.QualityWarnings(card.CheckQuality(c, t))...)
	}
	if errs == nil {
		errs = []card.Issue{}
	}
	if warns == nil {
		warns = []card.Issue{}
	}
	status := http.StatusOK
	if len(errs) > 0 {
		status = http.StatusBadRequest
	}
	writeJSON(w, status, map[string]any{"errors": errs, "warnings": warns})
}

// handleLike answers POST and DELETE /api/{types}/{id}/like.
func (s *Server) handleLike(w http.ResponseWriter, r *http.Request, repo *haven.Repo, _ []string) {
	a := actorOf(r)
	if a.Anonymous() {
		s.writeError(w, r, haven.Errorf(haven.EUnauthorized, "You must be authenticated to like a repository"))
		return
	}
	var err error
	defer s.changed(repo)
	if r.Method == http.MethodPost {
		err = s.meta.Like(r.Context(), a.User.ID, repo.ID)
	} else {
		err = s.meta.Unlike(r.Context(), a.User.ID, repo.ID)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{})
}

// handleLikers answers GET /api/{types}/{id}/likers.
func (s *Server) handleLikers(w http.ResponseWriter, r *http.Request, repo *haven.Repo, _ []string) {
	users, err := s.meta.Likers(r.Context(), repo.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]map[string]any, 0, len(users))
	for i := range users {
		out = append(out, map[string]any{"user": users[i].Name, "fullname": fullName(&users[i]), "avatarUrl": haven.AvatarURL(users[i].Name), "type": "user"})
	}
	writeJSON(w, http.StatusOK, out)
}

// handleUserLikes answers GET /api/users/{user}/likes, leaving out private
// repositories the caller may not see.
func (s *Server) handleUserLikes(w http.ResponseWriter, r *http.Request, name string) {
	u, err := s.meta.UserByName(r.Context(), name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	liked, err := s.meta.LikedRepos(r.Context(), u.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := []map[string]any{}
	for _, l := range liked {
		if auth.Can(actorOf(r), auth.Read, l.Repo) != nil {
			continue
		}
		out = append(out, map[string]any{
			"createdAt": haven.FormatTime(l.CreatedAt),
			"repo":      map[string]any{"name": l.Repo.FullName(), "type": string(l.Repo.Type)},
		})
	}
	writeJSON(w, http.StatusOK, out)
}

// handleUserOverview answers GET /api/users/{name}/overview (and organizations).
func (s *Server) handleUserOverview(w http.ResponseWriter, r *http.Request, name string) {
	u, err := s.meta.UserByName(r.Context(), name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	kind := "user"
	if u.IsOrg {
		kind = "org"
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"_id":       repoObjectIDFor(u.ID),
		"type":      kind,
		"user":      u.Name,
		"name":      u.Name,
		"fullname":  fullName(u),
		"avatarUrl": haven.AvatarURL(u.Name),
		"createdAt": haven.FormatTime(u.CreatedAt),
		"isPro":     false,
	})
}

// handleAuthCheck answers GET /api/{types}/{id}/auth-check[/write].
func (s *Server) handleAuthCheck(w http.ResponseWriter, r *http.Request, repo *haven.Repo, rest []string) {
	if len(rest) == 1 && rest[0] == "write" {
		if err := auth.Can(actorOf(r), auth.Write, repo); err != nil {
			s.writeError(w, r, err)
			return
		}
	} else if err := auth.CanDownload(actorOf(r), repo, s.repoURL(repo)); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{})
}

// fineGrainedJSON renders a fine-grained token's scopes as whoami-v2 gives
// them, with the _id of each entity that still exists.
func (s *Server) fineGrainedJSON(ctx context.Context, fg *haven.FineGrained) map[string]any {
	scoped := make([]map[string]any, 0, len(fg.Scoped))
	for _, sc := range fg.Scoped {
		entity := map[string]any{"type": sc.Entity.Type, "name": sc.Entity.Name}
		switch sc.Entity.Type {
		case "user", "org":
			if u, err := s.meta.UserByName(ctx, sc.Entity.Name); err == nil {
				entity["_id"] = repoObjectIDFor(u.ID)
			}
		default:
			ns, name, _ := strings.Cut(sc.Entity.Name, "/")
			if repo, err := s.meta.RepoByName(ctx, haven.RepoType(sc.Entity.Type), ns, name); err == nil {
				entity["_id"] = repoObjectID(repo)
			}
		}
		perms := sc.Permissions
		if perms == nil {
			perms = []string{}
		}
		scoped = append(scoped, map[string]any{"entity": entity, "permissions": perms})
	}
	global := fg.Global
	if global == nil {
		global = []string{}
	}
	return map[string]any{"canReadGatedRepos": fg.CanReadGatedRepos, "global": global, "scoped": scoped}
}
