package api

import (
	"context"

	"github.com/havenhub/haven"
)

// authorData is the Hub's author object of namespace, which listings and
// repository info give under "authorData" when expand asks for it: a user
// {_id, name, fullname, avatarUrl, type, isPro, isHf, isHfAdmin, isMod,
// followerCount} or an organisation (no _id nor isPro). Objects already
// made are kept in seen, so that a listing looks each owner up once; nil
// when the namespace is gone.
func (s *Server) authorData(ctx context.Context, namespace string, seen map[string]map[string]any) map[string]any {
	if a, ok := seen[namespace]; ok {
		return a
	}
	var a map[string]any
	if u, err := s.meta.UserByName(ctx, namespace); err == nil {
		a = map[string]any{
			"name": u.Name, "fullname": fullName(u), "avatarUrl": haven.AvatarURL(u.Name),
			"isHf": false, "isHfAdmin": false, "isMod": false, "type": "user",
		}
		if u.IsOrg {
			a["type"] = "org"
		} else {
			a["_id"], a["isPro"] = repoObjectIDFor(u.ID), false
		}
		if c, err := s.meta.Counts(ctx, u.ID); err == nil {
			a["followerCount"] = c.Followers
		}
	}
	seen[namespace] = a
	return a
}
