package meta

import (
	"context"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/lineage"
)

// The links between repositories that cards make (migration 0018): one
// row per repository, relation and target, rewritten whenever the
// repository's card changes. Pages count and list a repository's
// descendants and users through the target index instead of walking tags.

// SetRepoLinks replaces the links of repository id.
func (s *Store) SetRepoLinks(ctx context.Context, id int64, edges []lineage.Edge) error {
	return s.inTx(ctx, func(c conn) error {
		if _, err := c.exec(ctx, "DELETE FROM repo_links WHERE repo_id = ?", id); err != nil {
			return err
		}
		seen := map[lineage.Edge]bool{}
		for _, e := range edges {
			e.Target = strings.ToLower(e.Target)
			if e.Target == "" || e.Relation == "" || seen[e] {
				continue
			}
			seen[e] = true
			if _, err := c.exec(ctx, "INSERT INTO repo_links (repo_id, target, relation, private) SELECT ?, ?, ?, private FROM repos WHERE id = ?",
				id, e.Target, e.Relation, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// RepoLinks returns the stored links of repository id.
func (s *Store) RepoLinks(ctx context.Context, id int64) ([]lineage.Edge, error) {
	rows, err := s.conn().query(ctx, "SELECT target, relation FROM repo_links WHERE repo_id = ? ORDER BY relation, target", id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []lineage.Edge
	for rows.Next() {
		var e lineage.Edge
		if err := rows.Scan(&e.Target, &e.Relation); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// visibleCond is the condition on "r" that f's VisibleTo and SeeAll allow,
// the same rule as listings.
func visibleCond(f RepoFilter) (string, []any) {
	if f.SeeAll {
		return "TRUE", nil
	}
	if len(f.VisibleTo) == 0 {
		return "r.private = FALSE", nil
	}
	args := make([]any, 0, len(f.VisibleTo))
	for _, ns := range f.VisibleTo {
		args = append(args, strings.ToLower(ns))
	}
	return "(r.private = FALSE OR r.ns_key IN (" + placeholders(len(f.VisibleTo)) + "))", args
}

// LinkCounts counts, per relation, the repositories linked to target (a
// "ns/name", any letter case) that vis lets the caller see. Relations
// without any are absent. Public links are counted from the target index
// alone (repo_links keeps each linking repository's visibility); the
// caller's own private ones are counted apart, starting from their
// namespaces.
func (s *Store) LinkCounts(ctx context.Context, target string, relations []string, vis RepoFilter) (map[string]int, error) {
	out := map[string]int{}
	if len(relations) == 0 {
		return out, nil
	}
	args := []any{strings.ToLower(target)}
	for _, r := range relations {
		args = append(args, r)
	}
	q := `SELECT l.relation, COUNT(*) FROM repo_links l WHERE l.target = ? AND l.relation IN (` + placeholders(len(relations)) + `)`
	queries := []string{q + " GROUP BY l.relation"}
	queryArgs := [][]any{args}
	if !vis.SeeAll {
		queries[0] = q + " AND l.private = FALSE GROUP BY l.relation"
		if len(vis.VisibleTo) > 0 {
			mine := append([]any{}, args...)
			for _, ns := range vis.VisibleTo {
				mine = append(mine, strings.ToLower(ns))
			}
			// From the namespaces' private repositories (repos_visible), each
			// looked up among the links by key: a few, where the target may
			// have thousands of private links.
			queries = append(queries, `SELECT l.relation, COUNT(*) FROM repos r CROSS JOIN repo_links l
				WHERE l.repo_id = r.id AND l.target = ? AND l.relation IN (`+placeholders(len(relations))+`) AND l.private = TRUE
				AND r.type IN ('model', 'dataset', 'space') AND r.private = TRUE
				AND r.ns_key IN (`+placeholders(len(vis.VisibleTo))+`) GROUP BY l.relation`)
			queryArgs = append(queryArgs, mine)
		}
	}
	for i, q := range queries {
		if err := s.addCounts(ctx, out, q, queryArgs[i]...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// addCounts adds the (relation, count) rows of query to out.
func (s *Store) addCounts(ctx context.Context, out map[string]int, query string, args ...any) error {
	rows, err := s.conn().query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			rel string
			n   int
		)
		if err := rows.Scan(&rel, &n); err != nil {
			return err
		}
		out[rel] += n
	}
	return rows.Err()
}

// LinkedRepos lists the repositories linked to target with relation that
// vis lets the caller see, most liked first, at most limit of them.
func (s *Store) LinkedRepos(ctx context.Context, target, relation string, vis RepoFilter, limit int) ([]*haven.Repo, error) {
	cond, vargs := visibleCond(vis)
	args := append([]any{strings.ToLower(target), relation}, vargs...)
	args = append(args, limit)
	rows, err := s.conn().query(ctx, "SELECT "+repoColumns+` FROM repo_links l JOIN repos r ON r.id = l.repo_id
		WHERE l.target = ? AND l.relation = ? AND `+cond+` ORDER BY r.likes DESC, r.id LIMIT ?`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*haven.Repo
	for rows.Next() {
		r, err := scanRepo(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// LineageParents finds the models named by ids (lower-cased "ns/name")
// that vis lets the caller see, each with its canonical id and its base
// models as stored; the others are left out. It is the lineage.Lookup of
// model pages.
func (s *Store) LineageParents(ctx context.Context, ids []string, vis RepoFilter) (map[string]lineage.Parent, error) {
	out := map[string]lineage.Parent{}
	var (
		keys  []string
		args  = []any{string(haven.Model)}
		known = map[string]bool{}
	)
	for _, id := range ids {
		ns, name, ok := strings.Cut(strings.ToLower(id), "/")
		if ok && !strings.Contains(name, "/") && !known[ns+"/"+name] {
			known[ns+"/"+name] = true
			keys = append(keys, "(r.ns_key = ? AND r.name_key = ?)")
			args = append(args, ns, name)
		}
	}
	if len(keys) == 0 {
		return out, nil
	}
	cond, vargs := visibleCond(vis)
	args = append(args, vargs...)
	rows, err := s.conn().query(ctx, `SELECT r.namespace, r.name, r.full_key, l.target, l.relation
		FROM repos r LEFT JOIN repo_links l ON l.repo_id = r.id AND l.relation IN ('adapter', 'finetune', 'quantized', 'merge')
		WHERE r.type = ? AND (`+strings.Join(keys, " OR ")+`) AND `+cond+` ORDER BY r.id, l.target`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			ns, name, key  string
			target, relate *string
		)
		if err := rows.Scan(&ns, &name, &key, &target, &relate); err != nil {
			return nil, err
		}
		p := out[key]
		p.ID = ns + "/" + name
		if target != nil && relate != nil {
			p.Bases = append(p.Bases, *target)
			p.Relation = *relate
		}
		out[key] = p
	}
	return out, rows.Err()
}

// ChildrenModelCount counts the public models that name target (a
// "ns/name", any letter case) as their base model, whatever the relation:
// the Hub's childrenModelCount. Private models are left out whoever asks,
// so that the count may be cached for everyone. Only models link with the
// model relations, and each with one relation to a base, so the target
// index alone counts them.
func (s *Store) ChildrenModelCount(ctx context.Context, target string) (int, error) {
	var n int
	err := s.conn().queryRow(ctx, `SELECT COUNT(*) FROM repo_links
		WHERE target = ? AND private = FALSE AND relation IN ('adapter', 'finetune', 'quantized', 'merge')`,
		strings.ToLower(target)).Scan(&n)
	return n, err
}
