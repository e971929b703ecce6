package meta

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/havenhub/haven"
)

// Tag kinds, the groups in which tags are offered as filters.
const (
	TagPipeline = "pipeline_tag"
	TagLibrary  = "library"
	TagLicense  = "license"
	TagLanguage = "language"
	TagOther    = "other"
)

// TagCount is how many public repositories of a type carry a tag, and
// which kind of tag it is.
type TagCount struct {
	Tag   string
	Kind  string // one of the Tag* kinds
	Count int64
}

// TagCounts counts the tags of the public repositories of type t, most
// used first. Private repositories are left out so that their tags reveal
// nothing. A tag is a pipeline tag or a library when some repository has
// it as its pipeline_tag or library_name; "license:" and "language:" tags
// are licenses and languages; the rest are other tags.
func (s *Store) TagCounts(ctx context.Context, t haven.RepoType) ([]TagCount, error) {
	rows, err := s.conn().query(ctx, `SELECT x.tag, COUNT(*) AS n,
			SUM(CASE WHEN r.pipeline_tag = x.tag THEN 1 ELSE 0 END),
			SUM(CASE WHEN r.library_name = x.tag THEN 1 ELSE 0 END)
		FROM repo_tags x JOIN repos r ON r.id = x.repo_id
		WHERE r.type = ? AND r.private = FALSE GROUP BY x.tag ORDER BY n DESC, x.tag`, string(t))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []TagCount
	for rows.Next() {
		var (
			tc                TagCount
			pipeline, library int64
		)
		if err := rows.Scan(&tc.Tag, &tc.Count, &pipeline, &library); err != nil {
			return nil, err
		}
		switch {
		case strings.HasPrefix(tc.Tag, "license:"):
			tc.Kind = TagLicense
		case strings.HasPrefix(tc.Tag, "language:"):
			tc.Kind = TagLanguage
		case pipeline > 0:
			tc.Kind = TagPipeline
		case library > 0:
			tc.Kind = TagLibrary
		default:
			tc.Kind = TagOther
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

// CountReposUpTo counts the repositories that match f like CountRepos,
// but stops at limit (0: no limit): pages that show "10,000+" need not
// count a large result to its end.
func (s *Store) CountReposUpTo(ctx context.Context, f RepoFilter, limit int) (int, error) {
	return s.countReposUpTo(ctx, f, limit, nil)
}

// countReposUpTo is CountReposUpTo with the counts of search_trigrams for
// f.Search when the caller has read them (else nil).
func (s *Store) countReposUpTo(ctx context.Context, f RepoFilter, limit int, trigrams map[string]int) (int, error) {
	if table, match, ok := s.d.kindSearch(f); ok {
		// The matches of f.Type and visibility, from the index alone.
		cond, args, err := s.kindMatch(ctx, f, table, match, trigrams)
		if err != nil {
			return 0, err
		}
		where, vargs := kindVisible(f, table+".rowid")
		if f.Type != "" {
			where, vargs = where+" AND ("+table+".rowid & 6) = ?", append(vargs, kindCode(f.Type))
		}
		query := "SELECT COUNT(*) FROM (SELECT rowid FROM " + table + " WHERE " + cond + where
		args = append(args, vargs...)
		if limit > 0 {
			query, args = query+" LIMIT ?", append(args, limit)
		}
		var n int
		err = s.conn().queryRow(ctx, query+") m", args...).Scan(&n)
		return n, err
	}
	sh, err := s.plan(ctx, f, false)
	if err != nil {
		return 0, err
	}
	return s.countRepos(ctx, f, limit, sh)
}

// kindSearch returns the index of names with type and visibility
// (repo_search_kind, or repo_search_short for text of one or two
// characters) and the query on it that counts the matches of f, when f
// selects by search text alone, in the characters of names.
func (d *dialect) kindSearch(f RepoFilter) (table, match string, ok bool) {
	q := strings.ToLower(f.Search)
	if !d.trigramSearch || q == "" || f.Author != "" || len(f.Tags) > 0 || f.Gated != nil || f.MinCardScore > 0 {
		return "", "", false
	}
	for _, c := range []byte(q) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '/') {
			return "", "", false // in no name
		}
	}
	if len(q) < 3 {
		return "repo_search_short", `"` + q + `"`, true
	}
	return "repo_search_kind", ftsPhrase(q), true
}

// kindMatch is the condition on table (see kindSearch) that keeps the
// names holding f.Search, and its arguments. A long text is looked up like
// a listing's (plan): by two rare trigrams, each name that holds both
// checked with LIKE.
func (s *Store) kindMatch(ctx context.Context, f RepoFilter, table, match string, counts map[string]int) (string, []any, error) {
	q := strings.ToLower(f.Search)
	tris := trigramsOf(q)
	if table != "repo_search_kind" || len(tris) <= rareTrigrams {
		return table + " MATCH ?", []any{match}, nil
	}
	if counts == nil {
		var err error
		if counts, err = s.trigramRepos(ctx, tris); err != nil {
			return "", nil, err
		}
	}
	like, pattern := likeCond(q)
	return table + " MATCH ? AND EXISTS (SELECT 1 FROM repos r WHERE r.id = " + table + ".rowid >> 3 AND " + like + ")",
		[]any{ftsAll(pickTrigrams(tris, counts)), pattern}, nil
}

// kindCode is a type's code in the rowids of repo_search_kind and
// repo_search_short, times two: id * 8 + kindCode + private.
func kindCode(t haven.RepoType) int {
	switch t {
	case haven.Dataset:
		return 2
	case haven.Space:
		return 4
	}
	return 0
}

// kindVisible is the condition on those rowids that keeps what the caller
// of f may see: public rows, and private ones of its namespaces, which are
// few and looked up in repos. rowid names the column.
func kindVisible(f RepoFilter, rowid string) (string, []any) {
	switch {
	case f.SeeAll:
		return "", nil
	case len(f.VisibleTo) == 0:
		return " AND (" + rowid + " & 1) = 0", nil
	}
	args := make([]any, len(f.VisibleTo))
	for i, ns := range f.VisibleTo {
		args[i] = strings.ToLower(ns)
	}
	return " AND ((" + rowid + " & 1) = 0 OR EXISTS (SELECT 1 FROM repos r WHERE r.id = " + rowid + " >> 3 AND r.ns_key IN (" +
		placeholders(len(args)) + ")))", args
}

func (s *Store) countRepos(ctx context.Context, f RepoFilter, limit int, sh shape) (int, error) {
	from, args := f.from(s.d, sh)
	query := "SELECT COUNT(*)" + from
	if limit > 0 {
		query, args = "SELECT COUNT(*) FROM (SELECT 1"+from+" LIMIT ?) x", append(args, limit)
	}
	var n int
	err := s.conn().queryRow(ctx, query, args...).Scan(&n)
	return n, err
}

// CountReposByType counts the repositories that match f for each type, in
// one pass over the matches (f.Type is ignored): a search box shows a count
// per type, and three counts would read a common term's matches three
// times. Counting stops after limit matches in all (0: no limit), so when
// there are more the counts are lower bounds of the same proportions.
func (s *Store) CountReposByType(ctx context.Context, f RepoFilter, limit int) (map[haven.RepoType]int, error) {
	return s.countReposByType(ctx, f, limit, nil)
}

// kindCountBits is the width of each type's count when the counts by type
// are summed in one integer: three of them fit in its 63 bits.
const kindCountBits = 20

// countReposByType is CountReposByType with the counts of search_trigrams
// for f.Search when the caller has read them (else nil).
func (s *Store) countReposByType(ctx context.Context, f RepoFilter, limit int, trigrams map[string]int) (map[haven.RepoType]int, error) {
	f.Type = ""
	if table, match, ok := s.d.kindSearch(f); ok {
		// From the index alone: the rowid says type and visibility. One
		// sum per type rather than GROUP BY, which sorted the matches.
		cond, margs, err := s.kindMatch(ctx, f, table, match, trigrams)
		if err != nil {
			return nil, err
		}
		where, args := kindVisible(f, "m.k")
		matches := "SELECT rowid AS k FROM " + table + " WHERE " + cond
		if limit > 0 {
			matches, margs = matches+" LIMIT ?", append(margs, limit)
		}
		n := make([]int, len(haven.RepoTypes))
		if limit > 0 && limit < 1<<kindCountBits {
			// One sum of the three counts side by side in one integer,
			// kindCountBits each: the statement's work per match is most
			// of a count's cost, more than the index's.
			var packed int64
			err = s.conn().queryRow(ctx, fmt.Sprintf("SELECT COALESCE(SUM(1 << ((m.k & 6) * %d)), 0) FROM (", kindCountBits/2)+matches+") m WHERE TRUE"+where,
				append(margs, args...)...).Scan(&packed)
			for i, t := range haven.RepoTypes {
				n[i] = int(packed >> (kindCode(t) * kindCountBits / 2) & (1<<kindCountBits - 1))
			}
		} else {
			sums := make([]string, len(haven.RepoTypes))
			dest := make([]any, len(n))
			for i, t := range haven.RepoTypes {
				sums[i], dest[i] = fmt.Sprintf("COALESCE(SUM((m.k & 6) = %d), 0)", kindCode(t)), &n[i]
			}
			err = s.conn().queryRow(ctx, "SELECT "+strings.Join(sums, ", ")+" FROM ("+matches+") m WHERE TRUE"+where,
				append(margs, args...)...).Scan(dest...)
		}
		if err != nil {
			return nil, err
		}
		counts := map[haven.RepoType]int{}
		for i, t := range haven.RepoTypes {
			if n[i] > 0 {
				counts[t] = n[i]
			}
		}
		return counts, nil
	}
	sh, err := s.plan(ctx, f, false)
	if err != nil {
		return nil, err
	}
	from, args := f.from(s.d, sh)
	query := "SELECT r.type, COUNT(*)" + from + " GROUP BY r.type"
	if limit > 0 {
		query, args = "SELECT x.type, COUNT(*) FROM (SELECT r.type"+from+" LIMIT ?) x GROUP BY x.type", append(args, limit)
	}
	if q := strings.ToLower(f.Search); s.d.trigramSearch && len(q) >= 3 && !sh.likeSearch && !sh.tagsFirst {
		// Driven from the trigram index's matches, each looked up once in
		// repos_ident; the planner would otherwise gather the matches into
		// a list first.
		rest := f
		rest.Search = ""
		restFrom, restArgs := rest.from(s.d, sh)
		matches := "(SELECT rowid FROM repo_search WHERE repo_search MATCH ?"
		margs := []any{ftsPhrase(q)}
		if limit > 0 {
			matches, margs = matches+" LIMIT ?", append(margs, limit)
		}
		where := " WHERE r.id = m.rowid"
		if w, ok := strings.CutPrefix(restFrom, " FROM repos r WHERE "); ok {
			where += " AND " + w
		}
		query = "SELECT r.type, COUNT(*) FROM " + matches + ") m CROSS JOIN repos r" + where + " GROUP BY r.type"
		args = append(margs, restArgs...)
	}
	rows, err := s.conn().query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	counts := map[haven.RepoType]int{}
	for rows.Next() {
		var (
			t haven.RepoType
			n int
		)
		if err := rows.Scan(&t, &n); err != nil {
			return nil, err
		}
		counts[t] = n
	}
	return counts, rows.Err()
}

// QuickSearch answers a search box: the repositories of each of types that
// match f (f.Type is ignored), in f.Sort order and at most limit of each,
// with the fields of a brief listing (RepoFilter.Brief),
// and how many match, counted as CountReposUpTo counts them when types is
// one type and as CountReposByType does otherwise, up to countCap. The
// counts are read first, since they read every match anyway: they say
// whether the term is common, which a listing would otherwise probe the
// trigram index for once per type, and which types have no match to list.
// The matches of a long text, which are checked with LIKE one by one, are
// read once for the counts and the lists when they are few
// (quickMatchIDs); each list asked the trigram index again.
func (s *Store) QuickSearch(ctx context.Context, f RepoFilter, types []haven.RepoType, limit, countCap int) (map[haven.RepoType][]*haven.Repo, map[haven.RepoType]int, error) {
	order, ok := sortOrders[f.Sort]
	if !ok {
		return nil, nil, haven.Errorf(haven.EInvalid, "Invalid sort %q", f.Sort)
	}
	var (
		known = searchFacts{matches: -1}
		q     = strings.ToLower(f.Search)
		err   error
	)
	if tris := trigramsOf(q); s.d.trigramSearch && len(tris) > rareTrigrams {
		if known.trigrams, err = s.trigramRepos(ctx, tris); err != nil {
			return nil, nil, err
		}
	}
	var (
		matchIDs map[haven.RepoType][]int64
		counts   = map[haven.RepoType]int{}
	)
	if known.trigrams != nil {
		// A long text: its matches are checked with LIKE one by one, so
		// they are read once here, for the counts and the lists, unless
		// they are many, when the lists walk the sort order instead.
		if matchIDs, counts, err = s.kindMatchIDs(ctx, f, types, countCap, known.trigrams); err != nil {
			return nil, nil, err
		}
	}
	switch {
	case matchIDs != nil:
		// Counted with the ids.
	case len(types) == 1:
		cf := f
		cf.Type = types[0]
		n, err := s.countReposUpTo(ctx, cf, countCap, known.trigrams)
		if err != nil {
			return nil, nil, err
		}
		counts = map[haven.RepoType]int{types[0]: n}
	default:
		if counts, err = s.countReposByType(ctx, f, countCap, known.trigrams); err != nil {
			return nil, nil, err
		}
	}
	total := 0
	for _, t := range types {
		total += counts[t]
	}
	// Below the cap the counts are exact: a type counted 0 has nothing to
	// list.
	exact := countCap <= 0 || total < countCap
	if f.Search != "" && (exact || countCap >= searchProbe) {
		known.matches = total
	}
	lists := map[haven.RepoType][]*haven.Repo{}
	for _, t := range types {
		if limit <= 0 || exact && counts[t] == 0 || matchIDs != nil && len(matchIDs[t]) == 0 {
			lists[t] = nil
			continue
		}
		lf := f
		lf.Type, lf.Limit, lf.Offset, lf.Brief = t, limit, 0, true
		sh := shape{}
		if matchIDs != nil {
			sh.matchIDs, sh.walkIDs = idList(matchIDs[t]), len(matchIDs[t]) > walkIDsFrom
		} else if sh, err = s.planKnowing(ctx, lf, true, known); err != nil {
			return nil, nil, err
		}
		sh.byKind = s.d.trigramSearch
		if lists[t], err = s.listRepos(ctx, lf, order, sh); err != nil {
			return nil, nil, err
		}
	}
	return lists, counts, nil
}

// quickMatchIDs bounds the matches of a long search text that QuickSearch
// reads one by one; past it a count and the walk of a listing cost less.
// A variable so that tests can take either way.
var quickMatchIDs = 2000

// kindMatchIDs reads the ids of the visible names, by type, that hold the
// long text f.Search, and counts them as QuickSearch counts: of types[0]
// alone and visible, up to countCap, for one type; the visible ones among
// the first countCap matches of every type, in id order, for several. nil
// when the text has no index of names by type or more than quickMatchIDs
// names hold it.
func (s *Store) kindMatchIDs(ctx context.Context, f RepoFilter, types []haven.RepoType, countCap int, trigrams map[string]int) (map[haven.RepoType][]int64, map[haven.RepoType]int, error) {
	f.Type = ""
	table, match, ok := s.d.kindSearch(f)
	if !ok || table != "repo_search_kind" {
		return nil, nil, nil
	}
	cond, args, err := s.kindMatch(ctx, f, table, match, trigrams)
	if err != nil {
		return nil, nil, err
	}
	visible, vargs := "TRUE", []any(nil)
	if where, wargs := kindVisible(f, "m.k"); where != "" {
		visible, vargs = strings.TrimPrefix(where, " AND "), wargs
	}
	// In id order, as the index gives them and the counts stop.
	rows, err := s.conn().query(ctx, "SELECT m.k, "+visible+" FROM (SELECT rowid AS k FROM "+table+" WHERE "+cond+" LIMIT ?) m",
		append(append(vargs, args...), quickMatchIDs+1)...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	ids := map[haven.RepoType][]int64{}
	counts := map[haven.RepoType]int{}
	n := 0
	for rows.Next() {
		var (
			k  int64
			ok bool
		)
		if err := rows.Scan(&k, &ok); err != nil {
			return nil, nil, err
		}
		if n++; n > quickMatchIDs {
			return nil, nil, nil
		}
		if !ok {
			continue
		}
		for _, t := range haven.RepoTypes {
			if int64(kindCode(t)) != k&6 {
				continue
			}
			ids[t] = append(ids[t], k>>3)
			if len(types) > 1 && (countCap <= 0 || n <= countCap) || len(types) == 1 && (countCap <= 0 || counts[t] < countCap) {
				counts[t]++
			}
		}
	}
	return ids, counts, rows.Err()
}

// walkIDsFrom is how many matches of a type QuickSearch looks up one by
// one at most; past it the list walks the sort order's index, which at
// 100,000 repositories reaches a page of five after a few hundred rows
// when the matches are a hundredth of the type. A variable so that tests
// can take either way.
var walkIDsFrom = 200

// idList writes ids as a JSON array, for json_each.
func idList(ids []int64) string {
	b := make([]byte, 0, 8*len(ids)+2)
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(append(b, ']'))
}
