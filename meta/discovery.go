package meta

import (
	"context"
	"strings"

	"github.com/havenhub/haven"
)

// TagCount is how many public repositories of a type carry a tag.
type TagCount struct {
	Tag   string
	Count int64
}

// TagCounts counts the tags of the public repositories of type t, most
// used first. Private repositories are left out so that their tags reveal
// nothing.
func (s *Store) TagCounts(ctx context.Context, t haven.RepoType) ([]TagCount, error) {
	rows, err := s.conn().query(ctx, `SELECT x.tag, COUNT(*) AS n FROM repo_tags x JOIN repos r ON r.id = x.repo_id
		WHERE r.type = ? AND r.private = FALSE GROUP BY x.tag ORDER BY n DESC, x.tag`, string(t))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []TagCount
	for rows.Next() {
		var tc TagCount
		if err := rows.Scan(&tc.Tag, &tc.Count); err != nil {
			return nil, err
		}
		out = append(out, tc)
	}
	return out, rows.Err()
}

// SearchUsers lists users (or organisations, when orgs is set) whose name
// contains q in any letter case, names starting with q first, at most
// limit of them.
func (s *Store) SearchUsers(ctx context.Context, q string, orgs bool, limit int) ([]haven.User, error) {
	key := strings.ToLower(q)
	rows, err := s.conn().query(ctx, "SELECT "+userColumns+` FROM users u
		WHERE u.is_org = ? AND u.name_key LIKE ? ESCAPE '\'
		ORDER BY CASE WHEN u.name_key LIKE ? ESCAPE '\' THEN 0 ELSE 1 END, u.name_key LIMIT ?`,
		orgs, "%"+escapeLike(key)+"%", escapeLike(key)+"%", max(limit, 0))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var users []haven.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		users = append(users, *u)
	}
	return users, rows.Err()
}
