package meta

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/havenhub/haven"
)

// RepoContent is what is derived from a repository's default branch after
// a push or commit.
type RepoContent struct {
	SHA         string
	CardData    map[string]any // README front matter, stored as JSON
	CardError   string         // why the front matter does not parse; "" if it does
	Tags        []string       // also indexed, for RepoFilter.Tags
	PipelineTag string
	LibraryName string
	SDK         string
	UsedStorage int64
	UpdatedAt   time.Time // zero means now
}

// RepoFilter selects and orders repositories for ListRepos and CountRepos.
type RepoFilter struct {
	Type   haven.RepoType // empty: every type
	Search string         // case-insensitive substring of "namespace/name"
	Author string         // namespace, in any letter case
	// Tags must all be present, exactly as stored. The caller decides which
	// tags a repository has (pipeline tag, library, "license:x", …).
	Tags  []string
	Gated *bool
	// MinCardScore keeps repositories whose card scores at least this much
	// (0-100, see SetCardIndex); 0: any.
	MinCardScore int
	// VisibleTo names the namespaces whose private repositories the caller
	// may see (itself and its organisations); public ones are always seen.
	VisibleTo []string
	SeeAll    bool // every private repository too (administrators)
	// Sort is "" or "lastModified" (also "updatedAt"), "createdAt",
	// "downloads", "likes", "trendingScore", all descending, or "id",
	// ascending.
	Sort   string
	Offset int
	Limit  int // 0: no limit
	// Brief reads only the fields of a listing's default item (see
	// briefColumns): a page of 1000 rows need not read and decode every
	// row's card, commit, storage and settings. The others stay empty.
	Brief bool
}

// sortOrders maps RepoFilter.Sort to an ORDER BY clause that an index of
// the repos table serves; id breaks ties so that paging is stable.
var sortOrders = map[string]string{
	"":              "r.updated_at DESC, r.id DESC",
	"lastModified":  "r.updated_at DESC, r.id DESC",
	"updatedAt":     "r.updated_at DESC, r.id DESC",
	"createdAt":     "r.created_at DESC, r.id DESC",
	"downloads":     "r.downloads DESC, r.id DESC",
	"likes":         "r.likes DESC, r.id DESC",
	"trendingScore": "r.trending_score DESC, r.id DESC",
	"cardScore":     "r.card_score DESC, r.id DESC",
	"id":            "r.id",
}

const repoColumns = `r.id, r.type, r.namespace, r.name, r.private, r.gated, r.created_at, r.updated_at,
	r.sha, r.card_data, r.card_error, r.tags, r.pipeline_tag, r.library_name, r.sdk, r.used_storage, r.default_branch,
	r.downloads, r.downloads_all_time, r.likes, r.trending_score, r.mirror_of, r.discussions_disabled`

// briefColumns are the columns of RepoFilter.Brief, read by scanBrief.
const briefColumns = `r.id, r.type, r.namespace, r.name, r.private, r.gated, r.created_at, r.updated_at,
	r.card_error, r.tags, r.pipeline_tag, r.library_name, r.sdk, r.downloads, r.likes, r.trending_score`

// sqliteTimeColumns reads repoColumns' times as text on SQLite, which
// scanRepo parses faster than the driver (see timeText).
var sqliteTimeColumns = strings.NewReplacer("r.created_at, r.updated_at", "CAST(r.created_at AS TEXT), CAST(r.updated_at AS TEXT)")

func scanRepo(row scanner, extra ...any) (*haven.Repo, error) {
	r := new(haven.Repo)
	if err := scanRepoInto(row, r, extra...); err != nil {
		return nil, err
	}
	return r, nil
}

// scanRepoInto reads a row of repoColumns (and extra) into r.
func scanRepoInto(row scanner, r *haven.Repo, extra ...any) error {
	var cardData, tags string
	dest := append([]any{&r.ID, &r.Type, &r.Namespace, &r.Name, &r.Private, &r.Gated, timeText{&r.CreatedAt}, timeText{&r.UpdatedAt},
		&r.SHA, &cardData, &r.CardError, &tags, &r.PipelineTag, &r.LibraryName, &r.SDK, &r.UsedStorage, &r.DefaultBranchName,
		&r.Downloads, &r.DownloadsAllTime, &r.Likes, &r.TrendingScore, &r.MirrorOf, &r.DiscussionsDisabled}, extra...)
	if err := row.Scan(dest...); err != nil {
		return err
	}
	r.CreatedAt = r.CreatedAt.UTC()
	r.UpdatedAt = r.UpdatedAt.UTC()
	if cardData != "" {
		if err := json.Unmarshal([]byte(cardData), &r.CardData); err != nil {
			return fmt.Errorf("meta: card data of repo %d: %w", r.ID, err)
		}
	}
	if tags != "" {
		var err error
		if r.Tags, err = decodeTags(tags); err != nil {
			return fmt.Errorf("meta: tags of repo %d: %w", r.ID, err)
		}
	}
	return nil
}

// decodeTags decodes the tags column, a JSON list of strings. A listing
// reads it on every row, so the common form (no escapes, no spaces, as
// encodeTags writes it) is split directly and anything else is left to
// encoding/json.
func decodeTags(s string) ([]string, error) {
	if len(s) >= 2 && s[0] == '[' && s[len(s)-1] == ']' && !strings.ContainsAny(s, "\\ \t\r\n") {
		body := s[1 : len(s)-1]
		if body == "" {
			return []string{}, nil
		}
		tags := make([]string, 0, strings.Count(body, ",")+1)
		ok := true
		for part := range strings.SplitSeq(body, ",") {
			// A comma inside a tag splits it: not this form after all.
			if len(part) < 2 || part[0] != '"' || part[len(part)-1] != '"' || strings.Contains(part[1:len(part)-1], `"`) {
				ok = false
				break
			}
			tags = append(tags, part[1:len(part)-1])
		}
		if ok {
			return tags, nil
		}
	}
	var tags []string
	err := json.Unmarshal([]byte(s), &tags)
	return tags, err
}

// scanBrief reads a row of briefColumns into r.
func scanBrief(row scanner, r *haven.Repo) error {
	var tags string
	if err := row.Scan(&r.ID, &r.Type, &r.Namespace, &r.Name, &r.Private, &r.Gated, timeText{&r.CreatedAt}, timeText{&r.UpdatedAt},
		&r.CardError, &tags, &r.PipelineTag, &r.LibraryName, &r.SDK, &r.Downloads, &r.Likes, &r.TrendingScore); err != nil {
		return err
	}
	r.CreatedAt = r.CreatedAt.UTC()
	r.UpdatedAt = r.UpdatedAt.UTC()
	if tags != "" {
		var err error
		if r.Tags, err = decodeTags(tags); err != nil {
			return fmt.Errorf("meta: tags of repo %d: %w", r.ID, err)
		}
	}
	return nil
}

// scanRepos reads every row of a repoColumns query.
func scanRepos(ctx context.Context, c conn, query string, args ...any) ([]*haven.Repo, error) {
	return scanReposWith(ctx, c, func(row scanner, r *haven.Repo) error { return scanRepoInto(row, r) }, query, args...)
}

// scanReposWith reads every row of a query with scan. The rows are
// allocated in blocks: a listing reads up to 1001 of them.
func scanReposWith(ctx context.Context, c conn, scan func(scanner, *haven.Repo) error, query string, args ...any) ([]*haven.Repo, error) {
	rows, err := c.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var (
		repos []*haven.Repo
		block []haven.Repo
	)
	for rows.Next() {
		if len(block) == 0 {
			block = make([]haven.Repo, min(max(len(repos), 8), 256))
		}
		r := &block[0]
		block = block[1:]
		if err := scan(rows, r); err != nil {
			return nil, err
		}
		repos = append(repos, r)
	}
	return repos, rows.Err()
}

func errRepoNotFound(namespace, name string) error {
	return haven.Errorf(haven.ERepoNotFound, "Repository %s/%s not found", namespace, name)
}

func errRepoIDNotFound(id int64) error {
	return haven.Errorf(haven.ERepoNotFound, "Repository #%d not found", id)
}

// repoKey is the case-folded form of a repository name used for lookups.
type repoKey struct{ ns, name string }

func keyOf(namespace, name string) repoKey {
	return repoKey{strings.ToLower(namespace), strings.ToLower(name)}
}

func (k repoKey) full() string { return k.ns + "/" + k.name }

// encodeCardData encodes card data as JSON; no data is stored as "".
func encodeCardData(m map[string]any) (string, error) {
	if len(m) == 0 {
		return "", nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", haven.Errorf(haven.EInvalid, "Card data cannot be stored: %v", err)
	}
	return string(b), nil
}

// uniqueTags drops repeated tags, keeping the first of each.
func uniqueTags(tags []string) []string {
	seen := make(map[string]bool, len(tags))
	var out []string
	for _, t := range tags {
		if t != "" && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

func encodeTags(tags []string) string {
	if len(tags) == 0 {
		return ""
	}
	b, _ := json.Marshal(tags) // a []string always encodes
	return string(b)
}

// setTags replaces the indexed tags of a repository and their filter
// (tag_bits).
func setTags(ctx context.Context, c conn, repoID int64, tags []string) error {
	if _, err := c.exec(ctx, "UPDATE repos SET tag_bits = ? WHERE id = ?", tagBits(tags), repoID); err != nil {
		return err
	}
	if _, err := c.exec(ctx, "DELETE FROM repo_tags WHERE repo_id = ?", repoID); err != nil {
		return err
	}
	for _, t := range tags {
		if _, err := c.exec(ctx, "INSERT INTO repo_tags (repo_id, tag) VALUES (?, ?)", repoID, t); err != nil {
			return err
		}
	}
	return nil
}

func validGated(g string) error {
	switch g {
	case "", "auto", "manual":
		return nil
	}
	return haven.Errorf(haven.EInvalid, "Invalid gating mode %q: expected auto, manual or none", g)
}

// CreateRepo adds a repository and fills r.ID; zero CreatedAt and
// UpdatedAt become now. A repository of the same type and name, in any
// letter case, is a haven.EConflict. A redirect left at that name by an
// earlier move is dropped: the new repository takes the name.
func (s *Store) CreateRepo(ctx context.Context, r *haven.Repo) error {
	t, err := haven.ParseRepoType(string(r.Type))
	if err != nil {
		return err
	}
	if !haven.ValidName(r.Namespace) || !haven.ValidName(r.Name) {
		return haven.Errorf(haven.EInvalid, "Invalid repo id: %q", r.FullName())
	}
	if err := validGated(r.Gated); err != nil {
		return err
	}
	cardData, err := encodeCardData(r.CardData)
	if err != nil {
		return err
	}
	tags := uniqueTags(r.Tags)
	created := orNow(r.CreatedAt)
	updated := created
	if !r.UpdatedAt.IsZero() {
		updated = dbTime(r.UpdatedAt)
	}
	key := keyOf(r.Namespace, r.Name)
	var id int64
	err = s.inTx(ctx, func(c conn) error {
		if _, err := c.exec(ctx, "DELETE FROM repo_redirects WHERE type = ? AND ns_key = ? AND name_key = ?", string(t), key.ns, key.name); err != nil {
			return err
		}
		err := c.queryRow(ctx, `INSERT INTO repos (type, namespace, name, ns_key, name_key, full_key, private, gated,
			created_at, updated_at, sha, card_data, tags, pipeline_tag, library_name, sdk, used_storage, default_branch, mirror_of)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			string(t), r.Namespace, r.Name, key.ns, key.name, key.full(), r.Private, r.Gated,
			created, updated, r.SHA, cardData, encodeTags(tags), r.PipelineTag, r.LibraryName, r.SDK, r.UsedStorage,
			r.DefaultBranchName, r.MirrorOf).Scan(&id)
		if isUniqueViolation(err) {
			return haven.Errorf(haven.EConflict, "You already created this %s repo: %s", t, r.FullName())
		}
		if err != nil {
			return err
		}
		return setTags(ctx, c, id, tags)
	})
	if err != nil {
		return err
	}
	r.ID, r.Type, r.CreatedAt, r.UpdatedAt, r.Tags = id, t, created, updated, tags
	return nil
}

// RepoByName finds a repository by type and name, in any letter case. A
// repository that was moved away from the name is not found here; see
// Redirect.
func (s *Store) RepoByName(ctx context.Context, t haven.RepoType, namespace, name string) (*haven.Repo, error) {
	key := keyOf(namespace, name)
	r, err := scanRepo(s.conn().queryRow(ctx, "SELECT "+repoColumns+
		" FROM repos r WHERE r.type = ? AND r.ns_key = ? AND r.name_key = ?", string(t), key.ns, key.name))
	return r, noRows(err, errRepoNotFound(namespace, name))
}

// RepoByID finds a repository by id.
func (s *Store) RepoByID(ctx context.Context, id int64) (*haven.Repo, error) {
	r, err := scanRepo(s.conn().queryRow(ctx, "SELECT "+repoColumns+" FROM repos r WHERE r.id = ?", id))
	return r, noRows(err, errRepoIDNotFound(id))
}

// RepoSettings are the settings of a repository that its admins change.
type RepoSettings struct {
	Private             bool
	Gated               string // "", "auto" or "manual"
	DiscussionsDisabled bool
}

// UpdateRepoSettings changes the settings of a repository, all at once.
func (s *Store) UpdateRepoSettings(ctx context.Context, id int64, set RepoSettings) error {
	if err := validGated(set.Gated); err != nil {
		return err
	}
	return s.inTx(ctx, func(c conn) error {
		return recountRepoBoards(ctx, c, id, func() error {
			if err := c.execOne(ctx, errRepoIDNotFound(id), "UPDATE repos SET private = ?, gated = ?, discussions_disabled = ? WHERE id = ?",
				set.Private, set.Gated, set.DiscussionsDisabled, id); err != nil {
				return err
			}
			_, err := c.exec(ctx, "UPDATE repo_links SET private = ? WHERE repo_id = ?", set.Private, id)
			return err
		})
	})
}

// UpdateRepoContent records what was derived from the default branch after
// a push or commit.
func (s *Store) UpdateRepoContent(ctx context.Context, id int64, rc RepoContent) error {
	cardData, err := encodeCardData(rc.CardData)
	if err != nil {
		return err
	}
	tags := uniqueTags(rc.Tags)
	return s.inTx(ctx, func(c conn) error {
		err := c.execOne(ctx, errRepoIDNotFound(id), `UPDATE repos SET sha = ?, card_data = ?, card_error = ?, tags = ?, pipeline_tag = ?,
			library_name = ?, sdk = ?, used_storage = ?, updated_at = ? WHERE id = ?`,
			rc.SHA, cardData, rc.CardError, encodeTags(tags), rc.PipelineTag, rc.LibraryName, rc.SDK, rc.UsedStorage, orNow(rc.UpdatedAt), id)
		if err != nil {
			return err
		}
		return setTags(ctx, c, id, tags)
	})
}

// DeleteRepo deletes a repository with its likes, downloads, tags and the
// redirects that point to it.
func (s *Store) DeleteRepo(ctx context.Context, id int64) error {
	// The foreign keys cascade to everything that refers to the repository;
	// the leaderboards it was on are counted again.
	return s.inTx(ctx, func(c conn) error {
		return recountRepoBoards(ctx, c, id, func() error {
			return c.execOne(ctx, errRepoIDNotFound(id), "DELETE FROM repos WHERE id = ?", id)
		})
	})
}

// MoveRepo renames a repository, possibly into another namespace, and
// leaves a redirect at the old name. Redirects point at the repository, so
// after A→B→C both A and B lead to C. A target name already taken by a
// repository of the same type is a haven.EConflict.
func (s *Store) MoveRepo(ctx context.Context, id int64, newNamespace, newName string) error {
	if !haven.ValidName(newNamespace) || !haven.ValidName(newName) {
		return haven.Errorf(haven.EInvalid, "Invalid repo id: %q", newNamespace+"/"+newName)
	}
	to := keyOf(newNamespace, newName)
	return s.inTx(ctx, func(c conn) error {
		var (
			t    haven.RepoType
			from repoKey
		)
		err := c.queryRow(ctx, "SELECT type, ns_key, name_key FROM repos WHERE id = ?"+s.d.lockRow, id).Scan(&t, &from.ns, &from.name)
		if err != nil {
			return noRows(err, errRepoIDNotFound(id))
		}
		_, err = c.exec(ctx, "UPDATE repos SET namespace = ?, name = ?, ns_key = ?, name_key = ?, full_key = ? WHERE id = ?",
			newNamespace, newName, to.ns, to.name, to.full(), id)
		if isUniqueViolation(err) {
			return haven.Errorf(haven.EConflict, "Repository %s/%s already exists", newNamespace, newName)
		}
		if err != nil || from == to {
			return err // a change of letter case only needs no redirect
		}
		if _, err := c.exec(ctx, "DELETE FROM repo_redirects WHERE type = ? AND ns_key = ? AND name_key = ?", string(t), to.ns, to.name); err != nil {
			return err
		}
		_, err = c.exec(ctx, `INSERT INTO repo_redirects (type, ns_key, name_key, repo_id, created_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (type, ns_key, name_key) DO UPDATE SET repo_id = excluded.repo_id, created_at = excluded.created_at`,
			string(t), from.ns, from.name, id, now())
		return err
	})
}

// Redirect finds the repository that was moved away from a name.
func (s *Store) Redirect(ctx context.Context, t haven.RepoType, namespace, name string) (*haven.Repo, error) {
	key := keyOf(namespace, name)
	r, err := scanRepo(s.conn().queryRow(ctx, "SELECT "+repoColumns+
		" FROM repo_redirects x JOIN repos r ON r.id = x.repo_id WHERE x.type = ? AND x.ns_key = ? AND x.name_key = ?",
		string(t), key.ns, key.name))
	return r, noRows(err, haven.Errorf(haven.ENotFound, "No redirect from %s/%s", namespace, name))
}

// from builds the FROM and WHERE clauses of a filter in the shape sh.
func (f RepoFilter) from(d *dialect, sh shape) (string, []any) {
	var (
		from  = "repos r"
		conds []string
		args  []any
	)
	if sh.tagsFirst && len(sh.tags) > 0 {
		// A chain of joins rather than EXISTS terms: SQLite checks a joined
		// table's terms before it reads the next table, so each candidate
		// is looked up in repos only once every tag is found.
		from = ""
		for i, tag := range sh.tags {
			t := fmt.Sprintf("t%d", i)
			table, cond, targs := tagCond(f.Type, tag, t)
			from += table + " " + t + " CROSS JOIN "
			conds, args = append(conds, cond), append(args, targs...)
			if i > 0 {
				conds = append(conds, t+".repo_id = t0.repo_id")
			}
		}
		from += "repos r"
		conds = append(conds, "r.id = t0.repo_id")
	}
	if f.Type != "" {
		conds, args = append(conds, "r.type = ?"), append(args, string(f.Type))
	}
	if m := tagMask(f.Type, sh.tags); m != 0 {
		// Tested on the sort index before any tag is looked up.
		conds, args = append(conds, "(r.tag_bits & ?) = ?"), append(args, m, m)
	}
	if f.Search != "" {
		q := strings.ToLower(f.Search)
		cond, arg := d.searchCond(q)
		switch {
		case sh.matchIDs != "" && sh.walkIDs:
			// The unary + keeps SQLite from looking the ids up by rowid.
			cond, arg = "+r.id IN (SELECT value FROM json_each(?))", sh.matchIDs
		case sh.matchIDs != "":
			cond, arg = "r.id IN (SELECT value FROM json_each(?))", sh.matchIDs
		case sh.likeSearch:
			cond, arg = likeCond(q)
		case len(sh.trigrams) > 0:
			like, pattern := likeCond(q)
			cond = "r.id IN (SELECT rowid FROM repo_search WHERE repo_search MATCH ?) AND " + like
			if sh.byKind && f.Type != "" {
				cond = "r.id IN (SELECT rowid >> 3 FROM repo_search_kind WHERE repo_search_kind MATCH ? AND (rowid & 6) = ?) AND " + like
				args = append(args, ftsAll(sh.trigrams), kindCode(f.Type))
			} else {
				args = append(args, ftsAll(sh.trigrams))
			}
			arg = pattern
		case sh.byKind && f.Type != "" && d.trigramSearch && len(q) >= 3:
			cond = "r.id IN (SELECT rowid >> 3 FROM repo_search_kind WHERE repo_search_kind MATCH ? AND (rowid & 6) = ?)"
			args = append(args, arg)
			arg = kindCode(f.Type)
		}
		conds, args = append(conds, cond), append(args, arg)
	}
	if f.Author != "" {
		conds, args = append(conds, "r.ns_key = ?"), append(args, strings.ToLower(f.Author))
	}
	if !sh.tagsFirst {
		for _, tag := range sh.tags {
			table, cond, targs := tagCond(f.Type, tag, "x")
			conds, args = append(conds, "EXISTS (SELECT 1 FROM "+table+" x WHERE x.repo_id = r.id AND "+cond+")"), append(args, targs...)
		}
	}
	if f.Gated != nil {
		if *f.Gated {
			conds = append(conds, "r.gated <> ''")
		} else {
			conds = append(conds, "r.gated = ''")
		}
	}
	if f.MinCardScore > 0 {
		conds, args = append(conds, "r.card_score >= ?"), append(args, f.MinCardScore)
	}
	if !f.SeeAll {
		if len(f.VisibleTo) == 0 {
			conds = append(conds, "r.private = FALSE")
		} else {
			conds = append(conds, "(r.private = FALSE OR r.ns_key IN ("+placeholders(len(f.VisibleTo))+"))")
			for _, ns := range f.VisibleTo {
				args = append(args, strings.ToLower(ns))
			}
		}
	}
	if len(conds) == 0 {
		return " FROM " + from, nil
	}
	return " FROM " + from + " WHERE " + strings.Join(conds, " AND "), args
}

// placeholders returns n comma-separated '?'.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// ListRepos lists the repositories that match f, in f.Sort order, from
// f.Offset and at most f.Limit of them.
func (s *Store) ListRepos(ctx context.Context, f RepoFilter) ([]*haven.Repo, error) {
	order, ok := sortOrders[f.Sort]
	if !ok {
		return nil, haven.Errorf(haven.EInvalid, "Invalid sort %q", f.Sort)
	}
	sh, err := s.plan(ctx, f, true)
	if err != nil {
		return nil, err
	}
	return s.listRepos(ctx, f, order, sh)
}

func (s *Store) listRepos(ctx context.Context, f RepoFilter, order string, sh shape) ([]*haven.Repo, error) {
	limit := int64(math.MaxInt64)
	if f.Limit > 0 {
		limit = int64(f.Limit)
	}
	from, args := f.from(s.d, sh)
	args = append(args, limit, max(f.Offset, 0))
	columns, scan := repoColumns, func(row scanner, r *haven.Repo) error { return scanRepoInto(row, r) }
	if f.Brief {
		columns, scan = briefColumns, scanBrief
	}
	if s.d == sqliteDialect {
		columns = sqliteTimeColumns.Replace(columns)
	}
	return scanReposWith(ctx, s.conn(), scan, "SELECT "+columns+from+" ORDER BY "+order+" LIMIT ? OFFSET ?", args...)
}

// RepoChanges returns a number that changes whenever a change to the
// repositories (their rows, likes and download counters included, their
// tags and links) is committed, so that a listing read after it was n is still right while it
// is n. ok is false where the database keeps no such count (PostgreSQL,
// where a row every writer updates would make the writers of different
// repositories wait for each other).
func (s *Store) RepoChanges(ctx context.Context) (n int64, ok bool, err error) {
	if s.d != sqliteDialect {
		return 0, false, nil
	}
	if err := s.conn().queryRow(ctx, "SELECT n FROM repo_changes WHERE id = 1").Scan(&n); err != nil {
		return 0, false, err
	}
	return n, true, nil
}

// CountRepos counts the repositories that match f, ignoring its sort,
// offset and limit.
func (s *Store) CountRepos(ctx context.Context, f RepoFilter) (int, error) {
	return s.CountReposUpTo(ctx, f, 0)
}
