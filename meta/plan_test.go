package meta

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/havenhub/haven"
)

// TestPlanShapes checks that every query shape gives the same rows and
// counts as a plain query, on a few thousand random repositories with
// random tags, and that the chosen shape does too.
func TestPlanShapes(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "haven.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		testPlanShapes(t, s)
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := os.Getenv("HAVEN_TEST_POSTGRES_DSN")
		if dsn == "" {
			t.Skip("HAVEN_TEST_POSTGRES_DSN is not set")
		}
		admin, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close()
		schema := fmt.Sprintf("haven_plan_%d_%d", os.Getpid(), time.Now().UnixNano())
		if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
			t.Fatal(err)
		}
		defer admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		s, err := Open(context.Background(), u.String())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		testPlanShapes(t, s)
	})
}

func testPlanShapes(t *testing.T, s *Store) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 11))
	// Tags from very common to very rare, so that both shapes are chosen.
	tagPool := []string{"common", "half", "tenth", "license:mit", "license:apache-2.0", "rare-1", "rare-2", "absent"}
	weights := []int{80, 50, 10, 30, 30, 1, 1, 0}
	words := []string{"bert", "gpt", "llama", "vit"}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 3000
	type row struct {
		typ     haven.RepoType
		ns      string
		private bool
		tags    map[string]bool
	}
	truth := map[int64]row{}
	err := s.inTx(ctx, func(c conn) error {
		for i := range n {
			var tags []string
			for j, tag := range tagPool {
				if rng.IntN(100) < weights[j] {
					tags = append(tags, tag)
				}
			}
			typ := haven.Model
			if i%4 == 3 {
				typ = haven.Dataset
			}
			ns := fmt.Sprintf("ns%d", rng.IntN(20))
			name := fmt.Sprintf("%s-%d", words[rng.IntN(len(words))], i)
			k := keyOf(ns, name)
			var id int64
			// Few distinct sort values, so that ties are broken by id.
			err := c.queryRow(ctx, `INSERT INTO repos (type, namespace, name, ns_key, name_key, full_key, private,
				created_at, updated_at, tags, downloads, likes, trending_score) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
				string(typ), ns, name, k.ns, k.name, k.full(), rng.IntN(10) == 0,
				base.Add(time.Duration(rng.IntN(50))*time.Hour), base.Add(time.Duration(rng.IntN(50))*time.Hour),
				encodeTags(tags), rng.IntN(5), rng.IntN(5), rng.IntN(5)).Scan(&id)
			if err != nil {
				return err
			}
			if err := setTags(ctx, c, id, tags); err != nil {
				return err
			}
			r := row{typ: typ, ns: k.ns, tags: map[string]bool{}}
			for _, tag := range tags {
				r.tags[tag] = true
			}
			truth[id] = r
		}
		// Rows from before tag_bits existed carry -1 and must still be
		// found; a later Open fills them in.
		_, err := c.exec(ctx, "UPDATE repos SET tag_bits = -1 WHERE id % 7 = 0")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.inTx(ctx, func(c conn) error {
		rows, err := c.query(ctx, "SELECT id, private FROM repos")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				id      int64
				private bool
			)
			if err := rows.Scan(&id, &private); err != nil {
				return err
			}
			r := truth[id]
			r.private = private
			truth[id] = r
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	// trueCount counts the repositories a tags-only filter keeps, from the
	// tags as inserted: the filter of tag_bits must never lose one.
	trueCount := func(f RepoFilter) int {
		n := 0
		for _, r := range truth {
			if f.Type != "" && r.typ != f.Type {
				continue
			}
			if r.private && !f.SeeAll && !slicesContainsFold(f.VisibleTo, r.ns) {
				continue
			}
			ok := true
			for _, tag := range f.Tags {
				ok = ok && r.tags[tag]
			}
			if ok {
				n++
			}
		}
		return n
	}
	filters := []RepoFilter{
		{Type: haven.Model, Tags: []string{"common"}},
		{Type: haven.Model, Tags: []string{"common", "half"}, Sort: "downloads"},
		{Type: haven.Model, Tags: []string{"half", "license:mit", "common"}, Sort: "likes", Offset: 40},
		{Type: haven.Dataset, Tags: []string{"rare-1"}, Sort: "createdAt"},
		{Type: haven.Model, Tags: []string{"common", "rare-2"}, Sort: "trendingScore"},
		{Type: haven.Model, Tags: []string{"common", "absent"}},
		{Tags: []string{"tenth", "tenth", "license:apache-2.0"}, Sort: "id", SeeAll: true},
		{Type: haven.Model, Tags: []string{"half"}, VisibleTo: []string{"NS3", "ns4"}},
		{Type: haven.Model, Tags: []string{"common"}, Search: "bert"},
		{Type: haven.Model, Search: "bert", Sort: "downloads"},
		{Type: haven.Model, Search: "llama-1", Sort: "likes"},
		{Type: haven.Dataset, Search: "ns1", VisibleTo: []string{"ns1"}},
		{Type: haven.Space, Search: "bert"},
		{Type: haven.Model, Search: "gp", Author: "ns2"},
		{Type: haven.Model, Search: "no-such", Sort: "createdAt"},
		{Search: "vit", Sort: "id", SeeAll: true},
		// Text too short for trigrams, and text in no name.
		{Type: haven.Model, Search: "t-", Sort: "downloads"},
		{Type: haven.Dataset, Search: "1", VisibleTo: []string{"ns3"}},
		{Type: haven.Model, Search: "Vi", SeeAll: true},
		{Type: haven.Space, Search: "/"},
		{Type: haven.Model, Search: "a b"},
		{Type: haven.Model, Search: "t~"},
		// Long text: its rarest trigrams, then LIKE.
		{Type: haven.Model, Search: "ns1/bert-1", Sort: "likes", VisibleTo: []string{"ns1"}},
		{Search: "ns1/bert-1", Sort: "id", SeeAll: true},
		{Type: haven.Model, Search: "LLAMA-2", Sort: "downloads"},
	}
	shapes := []struct {
		name string
		sh   func(tags []string) shape
	}{
		{"walk", func(tags []string) shape { return shape{tags: tags} }},
		{"tags first", func(tags []string) shape { return shape{tags: tags, tagsFirst: true} }},
		{"like", func(tags []string) shape { return shape{tags: tags, likeSearch: true} }},
	}
	if s.d.trigramSearch {
		// The last trigrams of the text, rare or not, checked with LIKE.
		shapes = append(shapes, struct {
			name string
			sh   func(tags []string) shape
		}{"trigrams", func(tags []string) shape { return shape{tags: tags} }},
			struct {
				name string
				sh   func(tags []string) shape
			}{"by kind", func(tags []string) shape { return shape{tags: tags, byKind: true} }},
			struct {
				name string
				sh   func(tags []string) shape
			}{"trigrams by kind", func(tags []string) shape { return shape{tags: tags, byKind: true} }})
	}
	for i, f := range filters {
		for _, limit := range []int{0, 1, 30} {
			f.Limit = limit
			t.Run(fmt.Sprintf("%d/limit %d", i, limit), func(t *testing.T) {
				order := sortOrders[f.Sort]
				plain := shape{tags: uniqueTags(f.Tags)}
				if !s.d.trigramSearch {
					plain.likeSearch = true
				}
				want, err := s.listRepos(ctx, f, order, plain)
				if err != nil {
					t.Fatal(err)
				}
				wantCount, err := s.countRepos(ctx, f, 0, plain)
				if err != nil {
					t.Fatal(err)
				}
				if f.Search == "" && wantCount != trueCount(f) {
					t.Errorf("count %d, want %d from the inserted tags", wantCount, trueCount(f))
				}
				for _, r := range want {
					for _, tag := range f.Tags {
						if !truth[r.ID].tags[tag] {
							t.Errorf("repo %d listed without tag %q", r.ID, tag)
						}
					}
				}
				check := func(name string, got []*haven.Repo, gotCount int) {
					t.Helper()
					if !reflect.DeepEqual(ids(got), ids(want)) {
						t.Errorf("%s: %v, want %v", name, ids(got), ids(want))
					}
					if gotCount != wantCount {
						t.Errorf("%s: count %d, want %d", name, gotCount, wantCount)
					}
				}
				for _, c := range shapes {
					tags := plain.tags
					if len(tags) > 1 {
						tags = append(tags[1:len(tags):len(tags)], tags[0]) // another order
					}
					sh := c.sh(tags)
					if tris := trigramsOf(strings.ToLower(f.Search)); strings.HasPrefix(c.name, "trigrams") && len(tris) >= 2 {
						sh.trigrams = tris[len(tris)-2:]
					}
					got, err := s.listRepos(ctx, f, order, sh)
					if err != nil {
						t.Fatal(err)
					}
					gotCount, err := s.countRepos(ctx, f, 0, sh)
					if err != nil {
						t.Fatal(err)
					}
					check(c.name, got, gotCount)
				}
				got, err := s.ListRepos(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				gotCount, err := s.CountRepos(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				check("chosen", got, gotCount)
				capped, err := s.CountReposUpTo(ctx, f, 25)
				if err != nil {
					t.Fatal(err)
				}
				if capped != min(wantCount, 25) {
					t.Errorf("count up to 25: %d, want %d", capped, min(wantCount, 25))
				}
				if f.Type != "" {
					// Without a cap and with one no count reaches.
					for _, limit := range []int{0, 1 << 30} {
						byType, err := s.CountReposByType(ctx, f, limit)
						if err != nil {
							t.Fatal(err)
						}
						if byType[f.Type] != wantCount {
							t.Errorf("count by type up to %d: %v, want %s %d", limit, byType, f.Type, wantCount)
						}
					}
					byType, err := s.CountReposByType(ctx, f, 25)
					if err != nil {
						t.Fatal(err)
					}
					if sum := byType[haven.Model] + byType[haven.Dataset] + byType[haven.Space]; sum > 25 || byType[f.Type] > wantCount {
						t.Errorf("count by type up to 25: %v (of %d)", byType, wantCount)
					}
				}
			})
		}
	}
	// Open fills in the rows left at -1.
	if err := s.fillTagBits(ctx); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := s.conn().queryRow(ctx, "SELECT COUNT(*) FROM repos WHERE tag_bits = -1").Scan(&left); err != nil || left != 0 {
		t.Errorf("rows left at -1: %d (%v)", left, err)
	}
	for _, f := range filters[:8] {
		if n, err := s.CountRepos(ctx, f); err != nil || n != trueCount(f) {
			t.Errorf("after filling tag_bits: count %d (%v), want %d", n, err, trueCount(f))
		}
	}
	// The indexes of names by type and visibility follow renames, changes
	// of visibility and deletions.
	for id := range truth {
		var err error
		switch id % 9 {
		case 1:
			err = s.MoveRepo(ctx, id, "moved", fmt.Sprintf("phi-%d", id))
		case 2:
			err = s.UpdateRepoSettings(ctx, id, RepoSettings{Private: !truth[id].private})
		case 3:
			err = s.DeleteRepo(ctx, id)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{"ph", "p", "phi-", "moved/", "bert", "ns1/", "-1", "no-such", "é", "moved/phi-1", "ns1/bert-1"} {
		for _, f := range []RepoFilter{{Search: q}, {Search: q, VisibleTo: []string{"ns1", "moved"}}, {Search: q, SeeAll: true}} {
			want := map[haven.RepoType]int{}
			for _, typ := range haven.RepoTypes {
				f.Type = typ
				n, err := s.countRepos(ctx, f, 0, shape{likeSearch: true})
				if err != nil {
					t.Fatal(err)
				}
				if n > 0 {
					want[typ] = n
				}
				if got, err := s.CountReposUpTo(ctx, f, 0); err != nil || got != n {
					t.Errorf("after changes, %+v: count %d (%v), want %d", f, got, err, n)
				}
			}
			if len(trigramsOf(q)) > rareTrigrams {
				// The counts of search_trigrams follow too.
				f.Type, f.Limit, f.Sort = "", 1000, "id"
				want, err := s.listRepos(ctx, f, sortOrders["id"], shape{likeSearch: true})
				if err != nil {
					t.Fatal(err)
				}
				got, err := s.ListRepos(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(ids(got), ids(want)) {
					t.Errorf("after changes, %+v: %v, want %v", f, ids(got), ids(want))
				}
				f.Limit, f.Sort = 0, ""
			}
			f.Type = ""
			got, err := s.CountReposByType(ctx, f, 0)
			if err != nil {
				t.Fatal(err)
			}
			for typ, n := range got {
				if n == 0 {
					delete(got, typ)
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("after changes, %+v: counts by type %v, want %v", f, got, want)
			}
		}
	}
	// Quick search gives what the listings and counts give on their own,
	// with the matches of a long text read at once or not.
	defer func(n, w int) { quickMatchIDs, walkIDsFrom = n, w }(quickMatchIDs, walkIDsFrom)
	for _, c := range []struct{ maxIDs, walkFrom int }{{quickMatchIDs, walkIDsFrom}, {quickMatchIDs, 0}, {10, 0}} {
		quickMatchIDs, walkIDsFrom = c.maxIDs, c.walkFrom
		for _, q := range []string{"", "ph", "p", "bert", "llama-1", "/bert", "moved/phi-1", "ns1/", "no-such", "é"} {
			for _, f := range []RepoFilter{{Search: q}, {Search: q, VisibleTo: []string{"ns1", "moved"}}, {Search: q, SeeAll: true}} {
				for _, types := range [][]haven.RepoType{haven.RepoTypes, {haven.Model}, {haven.Dataset}, {haven.Space}} {
					for _, c := range []struct{ limit, countCap int }{{5, 10_000}, {0, 10_000}, {100, 0}, {3, 40}} {
						for _, sort := range []string{"downloads", "likes"} {
							f.Sort = sort
							lists, counts, err := s.QuickSearch(ctx, f, types, c.limit, c.countCap)
							if err != nil {
								t.Fatal(err)
							}
							var want map[haven.RepoType]int
							if len(types) == 1 {
								cf := f
								cf.Type = types[0]
								n, err := s.CountReposUpTo(ctx, cf, c.countCap)
								if err != nil {
									t.Fatal(err)
								}
								want = map[haven.RepoType]int{types[0]: n}
							} else if want, err = s.CountReposByType(ctx, f, c.countCap); err != nil {
								t.Fatal(err)
							}
							for _, typ := range types {
								if counts[typ] != want[typ] {
									t.Errorf("quick search %+v of %v, limit %d, cap %d: %s count %d, want %d", f, types, c.limit, c.countCap, typ, counts[typ], want[typ])
								}
								var wantList []*haven.Repo
								if c.limit > 0 {
									lf := f
									lf.Type, lf.Limit = typ, c.limit
									if wantList, err = s.ListRepos(ctx, lf); err != nil {
										t.Fatal(err)
									}
								}
								if !reflect.DeepEqual(ids(lists[typ]), ids(wantList)) {
									t.Errorf("quick search %+v of %v, limit %d: %s %v, want %v", f, types, c.limit, typ, ids(lists[typ]), ids(wantList))
								}
							}
						}
					}
				}
			}
		}
	}
	// search_trigrams holds what the names hold.
	var wrong int
	err = s.conn().queryRow(ctx, `SELECT COUNT(*) FROM search_trigrams t WHERE t.repos <> (SELECT COUNT(*) FROM repos r
		WHERE r.full_key LIKE '%' || t.trigram || '%')`).Scan(&wrong)
	if s.d.trigramSearch && (err != nil || wrong != 0) {
		t.Errorf("search_trigrams: %d counts wrong (%v)", wrong, err)
	}
	// Both shapes are reached by the filters above.
	common, err := s.plan(ctx, RepoFilter{Type: haven.Model, Tags: []string{"common"}, Limit: 30}, true)
	if err != nil {
		t.Fatal(err)
	}
	rare, err := s.plan(ctx, RepoFilter{Type: haven.Model, Tags: []string{"common", "rare-1"}, Limit: 30}, true)
	if err != nil {
		t.Fatal(err)
	}
	if s.d.choosePlans && (common.tagsFirst || !rare.tagsFirst || rare.tags[0] != "rare-1") {
		t.Errorf("shapes: common tag %+v, rare tag %+v", common, rare)
	}
	// A long text is looked up by its two rarest trigrams: "a-1" is in
	// every "llama-1…", "lla" in every llama.
	long, err := s.plan(ctx, RepoFilter{Type: haven.Model, Search: "llama-1", Limit: 30}, true)
	if err != nil {
		t.Fatal(err)
	}
	if s.d.trigramSearch && (long.likeSearch || len(long.trigrams) != 2 || long.trigrams[0] != "a-1") {
		t.Errorf("shape of a long search text: %+v", long)
	}
}

func ids(repos []*haven.Repo) []int64 {
	out := make([]int64, len(repos))
	for i, r := range repos {
		out[i] = r.ID
	}
	return out
}

func slicesContainsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
