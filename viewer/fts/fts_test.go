package fts

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestQueryTerms(t *testing.T) {
	tests := []struct {
		in   string
		want [][]string
	}{
		{"fox", [][]string{{"fox"}}},
		{"Fox world FOX", [][]string{{"fox"}, {"world"}}},
		{"東京タワー", [][]string{{"東", "京", "タ", "ワ", "ー"}}},
		{`a"bc`, [][]string{{"bc"}}}, // "a" is a stop word
		{"NEAR(x y) OR * fox", [][]string{{"fox"}}},
		{"--- ;;", nil},
		{"e-mail", [][]string{{"mail"}}}, // separators split words, "e" is a stop word
		{"the of and", nil},              // only stop words: nothing to search
		{"Café 2024", [][]string{{"cafe"}, {"2024"}}},
	}
	for _, tc := range tests {
		got, err := QueryTerms(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("QueryTerms(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := QueryTerms(strings.Repeat("x", MaxQueryLength+1)); err == nil {
		t.Error("an oversized query was accepted")
	}
	if _, err := QueryTerms(strings.Repeat("word ", maxTerms+2)); err != nil {
		t.Errorf("repeated words count once: %v", err)
	}
}

// Pairs join adjacent characters of unspaced scripts, as a phrase does:
// stop words and separators between them do not part them, words do, and
// separate runs stay apart in the pairs' positions.
func TestPairs(t *testing.T) {
	tests := []struct{ in, want string }{
		{"東京タワー", "東京 京タ タワ ワー"},
		{"東京 zz 京都", "東京 " + pairSep + " 京都"},
		{"東, 京", "東京"},
		{"東 the 京", "東京"},
		{"東", ""},
		{"hello world", ""},
		{"ไทย 2024 日本", "ไท ทย " + pairSep + " 日本"},
	}
	for _, tc := range tests {
		if got := pairs(Tokens(tc.in)); got != tc.want {
			t.Errorf("pairs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSearch(t *testing.T) {
	docs := []string{
		"The quick brown fox",            // 0
		"Привет мир, hello world",        // 1
		"東京は日本の首都です",                     // 2
		"Café au lait in Zürich",         // 3
		"مرحبا بالعالم",                  // 4
		"fox fox fox, a very foxy story", // 5
		"नमस्ते दुनिया",                  // 6
		"nothing relevant here",          // 7
		"brown bread and brown butter",   // 8
		"京東 market 2024",                 // 9
		"東京 zz 京都",                       // 10
		"東京都庁",                           // 11
	}
	p := filepath.Join(t.TempDir(), "idx.fts")
	err := Build(context.Background(), p, "", func(yield func(Doc) error) error {
		for i, d := range docs {
			if err := yield(Doc{ID: int64(i), Text: d}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ix, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	tests := []struct {
		query string
		ids   []int64
	}{
		{"fox", []int64{5, 0}}, // ranked by BM25: more occurrences first
		{"привет", []int64{1}},
		{"東京", []int64{11, 10, 2}}, // a phrase: "京東" in row 9 does not match; shorter rows first
		{"東京都", []int64{11}},       // not row 10: its "東京" and "京都" are apart
		{"京都", []int64{11, 10}},
		{"東京都庁", []int64{11}},
		{"京", []int64{10, 9, 11, 2}}, // one character: a word; row 10 has it twice
		{"首都", []int64{2}},
		{"cafe zurich", []int64{3}},
		{"ZÜRICH", []int64{3}},
		{"بالعالم", []int64{4}},
		{"दुनिया", []int64{6}},
		{"hello world", []int64{1}}, // "hello" is a stop word, "world" is not
		// Any word matches; the rarer word weighs more, and row 8 has
		// "brown" twice.
		{"brown fox", []int64{0, 5, 8}},
		{"relevant fox", []int64{7, 5, 0}},
		{"мир nothing", []int64{1}}, // "nothing" is a stop word
		// A query of stop words only matches them as ordinary words.
		{"the", []int64{0}},
		{"Hello", []int64{1}},
		{"the nothing", []int64{7, 0}}, // the shorter row first
		{"a the", []int64{0, 5}},
		{"2024", []int64{9}},
		{"absent", nil},
		{`"; DROP TABLE docs; --`, nil},
	}
	for _, tc := range tests {
		ids, total, err := ix.Search(context.Background(), tc.query, 0, 10)
		if err != nil {
			t.Errorf("%q: %v", tc.query, err)
			continue
		}
		if !reflect.DeepEqual(ids, tc.ids) && len(ids)+len(tc.ids) > 0 || total != int64(len(tc.ids)) {
			t.Errorf("%q: ids %v total %d, want %v", tc.query, ids, total, tc.ids)
		}
	}
	ids, total, err := ix.Search(context.Background(), "fox", 1, 1)
	if err != nil || total != 2 || !reflect.DeepEqual(ids, []int64{0}) {
		t.Errorf("paged search: %v %d %v", ids, total, err)
	}
	ids, total, err = ix.Search(context.Background(), "fox", 5, 10)
	if err != nil || total != 2 || len(ids) != 0 {
		t.Errorf("search past the end: %v %d %v", ids, total, err)
	}
}

func buildIndex(t *testing.T, lang string, docs []string) *Index {
	t.Helper()
	p := filepath.Join(t.TempDir(), "idx.fts")
	err := Build(context.Background(), p, lang, func(yield func(Doc) error) error {
		for i, d := range docs {
			if err := yield(Doc{ID: int64(i), Text: d}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ix, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix
}

// The card's language picks the stemmer of the index and of its queries;
// an unknown language, like none, keeps words whole.
func TestSearchStemming(t *testing.T) {
	docs := []string{
		"The runner was running", // 0
		"runs daily",             // 1
		"Élégantes générations",  // 2
		"東京は日本の首都です, Привет мир", // 3
	}
	tests := []struct {
		lang, query string
		ids         []int64
	}{
		{"en", "run", []int64{0, 1}},
		{"en", "RUNNING", []int64{0, 1}},
		{"en-US", "runs", []int64{0, 1}},
		{"en", "runner", []int64{0}},
		{"en", "generation", []int64{2}},
		{"en", "東京", []int64{3}},
		{"en", "мир", []int64{3}},
		{"fr", "elegante", []int64{2}},
		{"", "run", nil},
		{"", "runs", []int64{1}},
		{"de", "run", nil},
		{"de", "running", []int64{0}},
	}
	indexes := map[string]*Index{}
	for _, tc := range tests {
		ix, ok := indexes[tc.lang]
		if !ok {
			ix = buildIndex(t, tc.lang, docs)
			indexes[tc.lang] = ix
		}
		ids, total, err := ix.Search(context.Background(), tc.query, 0, 10)
		if err != nil || total != int64(len(tc.ids)) || !reflect.DeepEqual(ids, tc.ids) && len(tc.ids) > 0 {
			t.Errorf("%s %q: ids %v total %d %v, want %v", tc.lang, tc.query, ids, total, err, tc.ids)
		}
	}
}

// rank is the reference ranking: every row scored in full, sorted by
// score, then row number.
func rank(docs []string, stop bool, qterms [][]string) []int64 {
	var numTokens int64
	toks := make([][]string, len(docs))
	for i, d := range docs {
		t, s := tokens(d, nil)
		numTokens += int64(len(t))
		if stop {
			toks[i] = s
		} else {
			toks[i] = t
		}
	}
	avg := avgLen(int64(len(docs)), numTokens)
	scores := map[int64]float64{}
	for _, term := range qterms {
		tf := map[int64]uint32{}
		for i, ts := range toks {
			for j := 0; j+len(term) <= len(ts); j++ {
				if slices.Equal(ts[j:j+len(term)], term) {
					tf[int64(i)]++
				}
			}
		}
		idf := idf(int64(len(docs)), int64(len(tf)))
		for i, n := range tf {
			length, _ := tokens(docs[i], nil)
			scores[i] += termScore(idf, n, uint32(len(length)), avg)
		}
	}
	ids := slices.Collect(maps.Keys(scores))
	slices.SortFunc(ids, func(a, b int64) int {
		if c := cmp.Compare(scores[b], scores[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return ids
}

// The index's windows (narrowed here to 16 rows) let a query skip the rows
// that cannot enter its page; the pages and totals must be those of
// scoring every match, whatever the page, across windows, with ties, rare
// and common words, phrases and queries of stop words only, whether the
// postings are kept in the window directory or apart.
func TestSearchRankedPagesMatchFullScoring(t *testing.T) {
	for _, inline := range []int{128, 16, 0} {
		t.Run(fmt.Sprintf("inline %d", inline), func(t *testing.T) {
			defer func(i int) { maxInline = i }(maxInline)
			maxInline = inline
			testSearchRankedPages(t)
		})
	}
}

func testSearchRankedPages(t *testing.T) {
	defer func(b int64) { windowBits = b }(windowBits)
	windowBits = 4
	rnd := rand.New(rand.NewPCG(1, 2))
	words := []string{"alpha", "beta", "gamma", "delta", "東京", "京都", "都", "the", "of", "x1", "x2"}
	docs := make([]string, 700)
	for i := range docs {
		var b strings.Builder
		for range 1 + rnd.IntN(8) {
			// Skewed: "alpha" in most rows, "x2" in few.
			b.WriteString(words[min(rnd.IntN(len(words)), rnd.IntN(len(words)))] + " ")
		}
		if i == 650 {
			b.WriteString("unique")
		}
		docs[i] = b.String()
	}
	docs[3] = "" // an empty row
	ix := buildIndex(t, "", docs)
	queries := []string{"alpha", "x2", "unique", "alpha unique", "beta gamma", "東京", "京", "東京 delta x2", "東京都", "京都東京", "都都", "京京都", "都 京都x1", "the", "of the", "alpha beta gamma delta x1 x2", "absent", "absent x1"}
	for _, q := range queries {
		qterms, _ := QueryTerms(q)
		stop := len(qterms) == 0
		if stop {
			qterms = stopTerms(q)
		}
		want := rank(docs, stop, qterms)
		for _, pg := range []struct{ offset, limit int }{{0, 10}, {0, 100}, {10, 7}, {95, 10}, {0, 1000}, {len(want) - 1, 10}, {len(want) + 5, 10}, {3, 0}} {
			if pg.offset < 0 {
				continue
			}
			ids, total, err := ix.Search(context.Background(), q, pg.offset, pg.limit)
			if err != nil {
				t.Fatalf("%q: %v", q, err)
			}
			var page []int64
			if pg.offset < len(want) {
				page = want[pg.offset:min(len(want), pg.offset+pg.limit)]
			}
			if total != int64(len(want)) || !slices.Equal(ids, page) {
				t.Errorf("%q offset %d limit %d: %v total %d, want %v total %d", q, pg.offset, pg.limit, ids, total, page, len(want))
			}
		}
	}
}

// Counting the rows that common terms share is bounded: past the budget
// the total is an estimate between the commonest term's rows and the sum
// of all terms' rows, while the page stays exact; a single term's total
// is always exact.
func TestSearchBoundedTotals(t *testing.T) {
	defer func(b, c int64) { windowBits, countBudget = b, c }(windowBits, countBudget)
	windowBits, countBudget = 4, 40
	// Rows of two words each, a third of them with both "alpha" and
	// "beta": the best rows of every window tie, so that after the first
	// window the others are only counted.
	pairs := []string{"alpha beta", "alpha zeta", "beta zeta"}
	docs := make([]string, 300)
	for i := range docs {
		docs[i] = pairs[i%3]
	}
	ix := buildIndex(t, "", docs)
	df := func(w string) int64 {
		var n int64
		for _, d := range docs {
			if strings.Contains(d, w) {
				n++
			}
		}
		return n
	}
	tests := []struct {
		query     string
		estimated bool
	}{
		{"alpha", false},
		{"zeta", false},
		{"alpha beta", true},
		{"alpha zeta", true},
		// No row holds all three, so every window may hold a row better
		// than the page's: all are read, and counted exactly.
		{"alpha beta zeta", false},
	}
	for _, tc := range tests {
		qterms, _ := QueryTerms(tc.query)
		want := rank(docs, false, qterms)
		var most, sum int64
		for _, w := range strings.Fields(tc.query) {
			most, sum = max(most, df(w)), sum+df(w)
		}
		for _, offset := range []int{0, 50, 150} {
			r, err := ix.search(context.Background(), tc.query, offset, 20)
			if err != nil {
				t.Fatal(err)
			}
			if page := want[min(offset, len(want)):min(len(want), offset+20)]; !slices.Equal(r.IDs, page) {
				t.Errorf("%q at %d: %v, want %v", tc.query, offset, r.IDs, page)
			}
			// Deeper pages read more windows whole, and may count all.
			if offset == 0 && r.Estimated != tc.estimated || !r.Estimated && r.Total != int64(len(want)) || r.Total < most || r.Total > sum {
				t.Errorf("%q: total %d (estimated %v), %d rows match, bounds %d–%d", tc.query, r.Total, r.Estimated, len(want), most, sum)
			}
		}
	}
}
