package meta

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/havenhub/haven"
)

// Listings over many repositories need different query shapes depending on
// how many rows a filter keeps. A listing sorted by an indexed column can
// walk that index and stop after its page, checking each row on the way:
// cheap when most rows match (a common tag or search term), ruinous when
// few do. Starting from the rows of the rarest tag, or from the trigram
// index's matches, reads those rows and sorts them: cheap when they are few.
// SQLite's planner cannot tell a common tag from a rare one, so the shape is
// chosen here from small, bounded counts.

// planProbe bounds the counts that choose a shape: they only tell rare from
// common, so they stop there, which keeps each probe well under a
// millisecond.
const planProbe = 1000

// searchProbe is planProbe for search terms. Names that share a substring
// are often neighbours in the sort order (numbered series created together),
// so a term is walked for only when it is very common, where those runs
// cannot leave a page empty for long.
const searchProbe = 5000

// maxWalkTerm is the longest search text that is probed for being common:
// the probe costs a trigram lookup per three characters, about as much as
// the search itself, and long texts rarely match a large share of names.
const maxWalkTerm = 8

// shape is how the query of a filter is written.
type shape struct {
	tags []string // the filter's tags, each once, in the order they are checked
	// tagsFirst joins from the rows of tags[0] (the rarest) instead of
	// checking the tags of each repository the query reaches.
	tagsFirst bool
	// likeSearch checks the search text on each row with LIKE instead of
	// starting from the trigram index's matches.
	likeSearch bool
	// trigrams, when set, are the rarest trigrams of a long search text:
	// the trigram index is asked for the names that hold them all, and
	// those are checked with LIKE, instead of asking it for the whole text,
	// which reads the lists of every trigram in it.
	trigrams []string
	// byKind asks the index of names by type and visibility
	// (repo_search_kind) for the trigram matches of f.Type, rather than
	// repo_search for those of every type: the list the query checks the
	// sort order's rows against holds only the type's matches.
	byKind bool
	// matchIDs, when set, are the ids of every name that holds the search
	// text and that the caller may see, read before (SQLite): the query
	// checks rows against them instead of asking the trigram index again.
	matchIDs string
	// walkIDs walks the sort order's index and checks each row against
	// matchIDs, stopping after a page, rather than looking each of them up
	// and sorting them: for many matches, where the lookups cost more
	// than the walk to a page.
	walkIDs bool
}

// searchFacts is what a caller already knows about f.Search, so that plan
// need not find it out again: quick search counts the matches before it
// lists them.
type searchFacts struct {
	// matches is how many names of any type hold the text and are visible
	// to f's caller, at least up to searchProbe; -1 when not known.
	matches int
	// trigrams are the counts of search_trigrams for the text's
	// trigrams, when it has more than rareTrigrams; nil when not read.
	trigrams map[string]int
}

// rareTrigrams is how many of a search text's trigrams are looked up when
// it has more: two rare ones leave few names to check with LIKE.
const rareTrigrams = 2

// pickTrigrams chooses the trigrams of a long text to look up: the rarest,
// and the rarest of those in the half of the text away from it. Trigrams
// near each other come from the same word and are in the same names
// ("lla" and "ama" of "llama-model-4"), so two of them leave as many names
// to check as one; far apart they are more often independent ("lla" and
// "l-4"). tris are in the order of the text, at least three.
func pickTrigrams(tris []string, counts map[string]int) []string {
	first := 0
	for i, t := range tris {
		if counts[t] < counts[tris[first]] {
			first = i
		}
	}
	reach := len(tris) / 2
	second := -1
	for i, t := range tris {
		if d := max(i-first, first-i); d >= reach && (second < 0 || counts[t] < counts[tris[second]]) {
			second = i
		}
	}
	return []string{tris[first], tris[second]}
}

// plan chooses the shape of the query for f: for a listing (ListRepos) or
// for a count. Every shape gives the same rows; only the cost differs.
func (s *Store) plan(ctx context.Context, f RepoFilter, listing bool) (shape, error) {
	return s.planKnowing(ctx, f, listing, searchFacts{matches: -1})
}

// planKnowing is plan with what the caller knows of the search text.
func (s *Store) planKnowing(ctx context.Context, f RepoFilter, listing bool, known searchFacts) (shape, error) {
	sh := shape{tags: uniqueTags(f.Tags)}
	if !s.d.choosePlans {
		return sh, nil
	}
	// Only a listing with a limit can stop early; a count or an unlimited
	// listing reads every match whatever the shape.
	walk := listing && f.Limit > 0
	if len(sh.tags) > 0 {
		counts, err := s.tagRows(ctx, f.Type, sh.tags)
		if err != nil {
			return sh, err
		}
		// Rarest first: in either shape, the first tag checked rejects
		// the most rows.
		idx := make([]int, len(sh.tags))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return counts[idx[a]] < counts[idx[b]] })
		tags := make([]string, len(idx))
		for i, j := range idx {
			tags[i] = sh.tags[j]
		}
		sh.tags = tags
		sh.tagsFirst = !walk || counts[idx[0]] < planProbe
		if sh.tagsFirst {
			return sh, nil
		}
	}
	q := strings.ToLower(f.Search)
	if !s.d.trigramSearch || len(q) < 3 {
		return sh, nil // a LIKE on each row already
	}
	if tris := trigramsOf(q); len(tris) > rareTrigrams {
		counts := known.trigrams
		if counts == nil {
			var err error
			if counts, err = s.trigramRepos(ctx, tris); err != nil {
				return sh, err
			}
		}
		sh.trigrams = pickTrigrams(tris, counts)
		if walk && counts[sh.trigrams[0]] < searchProbe {
			// No more names than the rarest trigram's: not common.
			return sh, nil
		}
	}
	if walk && len(q) <= maxWalkTerm {
		// A common term fills a page after a few rows of the sort order.
		n := known.matches
		if n < 0 {
			var err error
			if n, err = s.countUpTo(ctx, "SELECT 1 FROM repo_search WHERE repo_search MATCH ?", searchProbe, ftsPhrase(q)); err != nil {
				return sh, err
			}
		}
		sh.likeSearch = n >= searchProbe
		return sh, nil
	}
	// A count reads every match; when the type, author and visibility
	// leave few rows (an empty type, an author), checking those is cheaper
	// than reading a common term's matches.
	base := f
	base.Search = ""
	from, args := base.from(s.d, shape{})
	n, err := s.countUpTo(ctx, "SELECT 1"+from, planProbe, args...)
	if err != nil {
		return sh, err
	}
	sh.likeSearch = n < planProbe
	return sh, nil
}

// tagRows counts the rows of each tag, of every type and visibility, up to
// planProbe, in one query that reads only the tag (or link) index.
func (s *Store) tagRows(ctx context.Context, t haven.RepoType, tags []string) ([]int, error) {
	parts := make([]string, len(tags))
	args := make([]any, 0, 2*len(tags))
	for i, tag := range tags {
		table, cond, targs := tagCond(t, tag, "t")
		parts[i] = fmt.Sprintf("(SELECT COUNT(*) FROM (SELECT 1 FROM %s t WHERE %s LIMIT ?) x%d)", table, cond, i)
		args = append(append(args, targs...), planProbe)
	}
	counts := make([]int, len(tags))
	dest := make([]any, len(tags))
	for i := range counts {
		dest[i] = &counts[i]
	}
	err := s.conn().queryRow(ctx, "SELECT "+strings.Join(parts, ", "), args...).Scan(dest...)
	return counts, err
}

// countUpTo counts the rows of query, stopping at limit.
func (s *Store) countUpTo(ctx context.Context, query string, limit int, args ...any) (int, error) {
	var n int
	err := s.conn().queryRow(ctx, "SELECT COUNT(*) FROM ("+query+" LIMIT ?) x", append(args, limit)...).Scan(&n)
	return n, err
}

// trigramsOf returns the distinct trigrams of q, in order, as the trigram
// index splits text; nil for text that is not ASCII, which no name is, and
// whose characters the index counts differently.
func trigramsOf(q string) []string {
	var out []string
	seen := map[string]bool{}
	for i := 0; i+3 <= len(q); i++ {
		if q[i] >= 0x80 || q[i+1] >= 0x80 || q[i+2] >= 0x80 {
			return nil
		}
		if t := q[i : i+3]; !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

// trigramRepos reads how many names hold each trigram (search_trigrams).
func (s *Store) trigramRepos(ctx context.Context, tris []string) (map[string]int, error) {
	args := make([]any, len(tris))
	for i, t := range tris {
		args[i] = t
	}
	rows, err := s.conn().query(ctx, "SELECT trigram, repos FROM search_trigrams WHERE trigram IN ("+placeholders(len(tris))+")", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	counts := make(map[string]int, len(tris))
	for rows.Next() {
		var (
			t string
			n int
		)
		if err := rows.Scan(&t, &n); err != nil {
			return nil, err
		}
		counts[t] = n
	}
	return counts, rows.Err()
}

// ftsAll is the trigram index's query for names that hold every one of
// tris, anywhere.
func ftsAll(tris []string) string {
	parts := make([]string, len(tris))
	for i, t := range tris {
		parts[i] = ftsPhrase(t)
	}
	return strings.Join(parts, " AND ")
}
