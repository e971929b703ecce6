package meta_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
)

func TestEvalsSQLite(t *testing.T)   { testEvals(t, openSQLite) }
func TestEvalsPostgres(t *testing.T) { testEvals(t, postgresOpener(t)) }

func testEvals(t *testing.T, open func(*testing.T) *meta.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, *meta.Store)
	}{
		{"Index", testEvalIndex},
		{"Leaderboard", testLeaderboard},
		{"CardScoreListing", testCardScoreListing},
		{"BoardSummary", testBoardSummary},
		{"LeaderboardCursor", testLeaderboardCursor},
		{"Params", testParams},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

func num(f float64) *float64 { return &f }

func result(dataset, metric string, v float64) meta.EvalResult {
	return meta.EvalResult{TaskType: "text-classification", DatasetID: dataset, MetricType: metric, Value: num(v), ValueText: fmt.Sprint(v)}
}

func testEvalIndex(t *testing.T, s *meta.Store) {
	mustUser(t, s, "alice", false)
	r := mustRepo(t, s, &haven.Repo{Type: haven.Model, Namespace: "alice", Name: "m"})
	text := result("imdb", "accuracy", 0)
	text.Value, text.ValueText = nil, "n/a"
	text.Verified = true
	mustNil(t, s.SetCardIndex(ctx, r.ID, 70, []meta.EvalResult{result("imdb", "accuracy", 0.9), text, {DatasetID: "", MetricType: "x"}}))
	got, err := s.EvalResults(ctx, r.ID)
	mustNil(t, err)
	if len(got) != 2 || *got[0].Value != 0.9 || got[1].Value != nil || got[1].ValueText != "n/a" || !got[1].Verified {
		t.Fatalf("results = %+v", got)
	}
	if score, err := s.CardScore(ctx, r.ID); err != nil || score != 70 {
		t.Fatalf("score = %d, %v", score, err)
	}
	// A new card replaces the results.
	mustNil(t, s.SetCardIndex(ctx, r.ID, 150, nil))
	got, err = s.EvalResults(ctx, r.ID)
	mustNil(t, err)
	if len(got) != 0 {
		t.Fatalf("results after replace = %+v", got)
	}
	if score, _ := s.CardScore(ctx, r.ID); score != 100 {
		t.Fatalf("score = %d, want it clamped to 100", score)
	}
	wantCode(t, s.SetCardIndex(ctx, 9999, 0, nil), haven.ERepoNotFound)
}

func testLeaderboard(t *testing.T, s *meta.Store) {
	mustUser(t, s, "alice", false)
	mustUser(t, s, "bob", false)
	type model struct {
		name    string
		private bool
		license string
		library string
		results []meta.EvalResult
	}
	models := []model{
		{"alice/low", false, "mit", "transformers", []meta.EvalResult{result("imdb", "accuracy", 0.70), result("imdb", "loss", 0.9)}},
		{"alice/high", false, "apache-2.0", "transformers", []meta.EvalResult{result("imdb", "accuracy", 0.95), result("imdb", "loss", 0.2)}},
		// Two splits: the best one counts, the model appears once.
		{"bob/mid", false, "mit", "timm", []meta.EvalResult{result("imdb", "accuracy", 0.80), result("imdb", "accuracy", 0.85), result("imdb", "loss", 0.5)}},
		{"bob/secret", true, "mit", "transformers", []meta.EvalResult{result("imdb", "accuracy", 0.99)}},
		{"bob/other", false, "mit", "transformers", []meta.EvalResult{result("squad", "f1", 88)}},
	}
	for _, m := range models {
		ns, name, _ := cut(m.name)
		r := mustRepo(t, s, &haven.Repo{Type: haven.Model, Namespace: ns, Name: name, Private: m.private,
			LibraryName: m.library, Tags: []string{m.library, "license:" + m.license}})
		mustNil(t, s.SetCardIndex(ctx, r.ID, 0, m.results))
	}
	// A dataset's card results are not a model's.
	d := mustRepo(t, s, &haven.Repo{Type: haven.Dataset, Namespace: "alice", Name: "imdb"})
	mustNil(t, s.SetCardIndex(ctx, d.ID, 0, []meta.EvalResult{result("imdb", "accuracy", 1)}))

	names := func(es []meta.LeaderboardEntry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.Repo.FullName())
		}
		return out
	}
	tests := []struct {
		name string
		f    meta.LeaderboardFilter
		want []string
	}{
		{"higher is better", meta.LeaderboardFilter{DatasetID: "imdb", MetricType: "accuracy"}, []string{"alice/high", "bob/mid", "alice/low"}},
		{"lower is better", meta.LeaderboardFilter{DatasetID: "imdb", MetricType: "loss", LowerIsBetter: true}, []string{"alice/high", "bob/mid", "alice/low"}},
		{"owner sees private", meta.LeaderboardFilter{DatasetID: "imdb", MetricType: "accuracy", VisibleTo: []string{"Bob"}}, []string{"bob/secret", "alice/high", "bob/mid", "alice/low"}},
		{"admin sees private", meta.LeaderboardFilter{DatasetID: "imdb", MetricType: "accuracy", SeeAll: true, Limit: 1}, []string{"bob/secret"}},
		{"license", meta.LeaderboardFilter{DatasetID: "imdb", MetricType: "accuracy", License: "mit"}, []string{"bob/mid", "alice/low"}},
		{"library", meta.LeaderboardFilter{DatasetID: "imdb", MetricType: "accuracy", Library: "transformers"}, []string{"alice/high", "alice/low"}},
		{"page", meta.LeaderboardFilter{DatasetID: "imdb", MetricType: "accuracy", Offset: 1, Limit: 1}, []string{"bob/mid"}},
		{"other board", meta.LeaderboardFilter{DatasetID: "squad", MetricType: "f1"}, []string{"bob/other"}},
		{"no such board", meta.LeaderboardFilter{DatasetID: "imdb", MetricType: "f1"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Leaderboard(ctx, tc.f)
			mustNil(t, err)
			if !slices.Equal(names(got), tc.want) {
				t.Errorf("ranking = %q, want %q", names(got), tc.want)
			}
		})
	}
	if got, _ := s.Leaderboard(ctx, meta.LeaderboardFilter{DatasetID: "imdb", MetricType: "accuracy"}); len(got) > 1 && *got[1].Result.Value != 0.85 {
		t.Errorf("bob/mid ranks with %v, want its best result 0.85", *got[1].Result.Value)
	}
	_, err := s.Leaderboard(ctx, meta.LeaderboardFilter{DatasetID: "imdb"})
	wantCode(t, err, haven.EInvalid)

	boards, err := s.Boards(ctx, meta.BoardFilter{})
	mustNil(t, err)
	var bs []string
	for _, b := range boards {
		bs = append(bs, fmt.Sprintf("%s/%s:%d", b.DatasetID, b.MetricType, b.Models))
	}
	if want := []string{"imdb/accuracy:3", "imdb/loss:3", "squad/f1:1"}; !slices.Equal(bs, want) {
		t.Errorf("boards = %q, want %q", bs, want)
	}
	boards, err = s.Boards(ctx, meta.BoardFilter{DatasetID: "imdb", VisibleTo: []string{"bob"}})
	mustNil(t, err)
	if len(boards) != 2 || boards[0].Models != 4 {
		t.Errorf("boards of imdb for bob = %+v", boards)
	}
}

func cut(full string) (string, string, bool) {
	for i := range full {
		if full[i] == '/' {
			return full[:i], full[i+1:], true
		}
	}
	return "", full, false
}

func testCardScoreListing(t *testing.T, s *meta.Store) {
	mustUser(t, s, "alice", false)
	scores := map[string]int{"a": 40, "b": 100, "c": 80, "d": 0}
	for name, score := range scores {
		r := mustRepo(t, s, &haven.Repo{Type: haven.Model, Namespace: "alice", Name: name})
		mustNil(t, s.SetCardIndex(ctx, r.ID, score, nil))
	}
	list := func(f meta.RepoFilter) []string {
		repos, err := s.ListRepos(ctx, f)
		mustNil(t, err)
		var out []string
		for _, r := range repos {
			out = append(out, r.Name)
		}
		return out
	}
	if got := list(meta.RepoFilter{Type: haven.Model, Sort: "cardScore"}); !slices.Equal(got, []string{"b", "c", "a", "d"}) {
		t.Errorf("sort=cardScore: %q", got)
	}
	got := list(meta.RepoFilter{Type: haven.Model, MinCardScore: 80})
	sort.Strings(got)
	if !slices.Equal(got, []string{"b", "c"}) {
		t.Errorf("cardScore>=80: %q", got)
	}
	if n, err := s.CountRepos(ctx, meta.RepoFilter{Type: haven.Model, MinCardScore: 80}); err != nil || n != 2 {
		t.Errorf("count cardScore>=80 = %d, %v", n, err)
	}
}

// testBoardSummary checks that the stored counts of eval_boards follow
// results, visibility changes and deletions.
func testBoardSummary(t *testing.T, s *meta.Store) {
	mustUser(t, s, "alice", false)
	mustUser(t, s, "bob", false)
	a := mustRepo(t, s, &haven.Repo{Type: haven.Model, Namespace: "alice", Name: "a"})
	b := mustRepo(t, s, &haven.Repo{Type: haven.Model, Namespace: "bob", Name: "b"})
	qa := result("squad", "f1", 80)
	qa.TaskType, qa.DatasetName = "question-answering", "SQuAD"
	mustNil(t, s.SetCardIndex(ctx, a.ID, 0, []meta.EvalResult{result("imdb", "accuracy", 0.9), result("imdb", "accuracy", 0.8), qa}))
	mustNil(t, s.SetCardIndex(ctx, b.ID, 0, []meta.EvalResult{result("imdb", "accuracy", 0.7)}))
	boards := func(f meta.BoardFilter) []string {
		t.Helper()
		bs, err := s.Boards(ctx, f)
		mustNil(t, err)
		var out []string
		for _, b := range bs {
			out = append(out, fmt.Sprintf("%s/%s:%d:%s:%s", b.DatasetID, b.MetricType, b.Models, b.DatasetName, b.TaskType))
		}
		return out
	}
	want := func(f meta.BoardFilter, want ...string) {
		t.Helper()
		if got := boards(f); !slices.Equal(got, want) {
			t.Errorf("boards(%+v) = %q, want %q", f, got, want)
		}
	}
	want(meta.BoardFilter{}, "imdb/accuracy:2::text-classification", "squad/f1:1:SQuAD:question-answering")
	want(meta.BoardFilter{TaskType: "question-answering"}, "squad/f1:1:SQuAD:question-answering")
	want(meta.BoardFilter{TaskType: "translation"})

	// A private model counts for its namespace and administrators only.
	mustNil(t, s.UpdateRepoSettings(ctx, a.ID, meta.RepoSettings{Private: true, Gated: ""}))
	want(meta.BoardFilter{}, "imdb/accuracy:1::text-classification")
	want(meta.BoardFilter{VisibleTo: []string{"Alice"}}, "imdb/accuracy:2::text-classification", "squad/f1:1:SQuAD:question-answering")
	want(meta.BoardFilter{VisibleTo: []string{"alice"}, TaskType: "question-answering"}, "squad/f1:1:SQuAD:question-answering")
	want(meta.BoardFilter{VisibleTo: []string{"bob"}, DatasetID: "imdb"}, "imdb/accuracy:1::text-classification")
	want(meta.BoardFilter{SeeAll: true, Limit: 1}, "imdb/accuracy:2::text-classification")
	mustNil(t, s.UpdateRepoSettings(ctx, a.ID, meta.RepoSettings{Private: false, Gated: ""}))
	want(meta.BoardFilter{}, "imdb/accuracy:2::text-classification", "squad/f1:1:SQuAD:question-answering")

	// New results replace the old ones' counts; a deleted model leaves.
	mustNil(t, s.SetCardIndex(ctx, a.ID, 0, []meta.EvalResult{result("imdb", "loss", 0.3)}))
	want(meta.BoardFilter{}, "imdb/accuracy:1::text-classification", "imdb/loss:1::text-classification")
	mustNil(t, s.DeleteRepo(ctx, b.ID))
	want(meta.BoardFilter{}, "imdb/loss:1::text-classification")
}

// testLeaderboardCursor pages through a board with ties and models with
// several results by cursor and by offset: both give the full ranking.
func testLeaderboardCursor(t *testing.T, s *meta.Store) {
	mustUser(t, s, "alice", false)
	var want []string
	for i := range 9 {
		r := mustRepo(t, s, &haven.Repo{Type: haven.Model, Namespace: "alice", Name: fmt.Sprintf("m%d", i), Private: i == 4})
		v := float64(i / 2) // pairs of ties
		mustNil(t, s.SetCardIndex(ctx, r.ID, 0, []meta.EvalResult{result("imdb", "accuracy", v-5), result("imdb", "accuracy", v), result("imdb", "accuracy", v)}))
		if i != 4 {
			want = append([]string{r.Name}, want...)
		}
	}
	var (
		got   []string
		ranks []int
		after *meta.LeaderboardCursor
	)
	for range 10 {
		page, err := s.Leaderboard(ctx, meta.LeaderboardFilter{DatasetID: "imdb", MetricType: "accuracy", After: after, Limit: 3})
		mustNil(t, err)
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			got, ranks = append(got, e.Repo.Name), append(ranks, e.Cursor.Rank)
		}
		c := page[len(page)-1].Cursor
		after, err = meta.ParseLeaderboardCursor(c.String())
		mustNil(t, err)
		if *after != c {
			t.Fatalf("cursor %+v decodes as %+v", c, *after)
		}
	}
	if !slices.Equal(got, want) || ranks[len(ranks)-1] != len(want) {
		t.Fatalf("by cursor: %q ranks %v, want %q", got, ranks, want)
	}
	page, err := s.Leaderboard(ctx, meta.LeaderboardFilter{DatasetID: "imdb", MetricType: "accuracy", Offset: 3, Limit: 3})
	mustNil(t, err)
	if len(page) != 3 || page[0].Repo.Name != want[3] || page[0].Cursor.Rank != 4 {
		t.Fatalf("offset 3: %+v", page)
	}
	// Lower is better walks the other way.
	page, err = s.Leaderboard(ctx, meta.LeaderboardFilter{DatasetID: "imdb", MetricType: "accuracy", LowerIsBetter: true, Limit: 2})
	mustNil(t, err)
	page, err = s.Leaderboard(ctx, meta.LeaderboardFilter{DatasetID: "imdb", MetricType: "accuracy", LowerIsBetter: true, After: &page[1].Cursor, Limit: 2})
	mustNil(t, err)
	if len(page) != 2 || page[0].Repo.Name != "m2" || *page[0].Result.Value != -4 {
		t.Fatalf("lower is better, second page: %+v", page)
	}
	for _, bad := range []string{"", "!!", "MSwy", "eCwxLDE"} {
		if _, err := meta.ParseLeaderboardCursor(bad); err == nil {
			t.Errorf("cursor %q parsed", bad)
		}
	}
}

// testParams stores parameter counts and filters a leaderboard on them.
func testParams(t *testing.T, s *meta.Store) {
	mustUser(t, s, "alice", false)
	sizes := map[string]int64{"tiny": 0, "small": 500_000_000, "mid": 3_000_000_000, "big": 70_000_000_000}
	for name, n := range sizes {
		r := mustRepo(t, s, &haven.Repo{Type: haven.Model, Namespace: "alice", Name: name})
		mustNil(t, s.SetCardIndex(ctx, r.ID, 0, []meta.EvalResult{result("imdb", "accuracy", float64(n)/1e9)}))
		if n > 0 {
			mustNil(t, s.SetRepoParams(ctx, r.ID, map[string]int64{"BF16": n - 1000, "F32": 1000}))
		}
		params, total, err := s.RepoParams(ctx, r.ID)
		mustNil(t, err)
		if total != n || (n > 0 && params["F32"] != 1000) || (n == 0 && params != nil) {
			t.Fatalf("%s: params %v total %d", name, params, total)
		}
	}
	rank := func(min, max int64) []string {
		t.Helper()
		es, err := s.Leaderboard(ctx, meta.LeaderboardFilter{DatasetID: "imdb", MetricType: "accuracy", MinParams: min, MaxParams: max})
		mustNil(t, err)
		var out []string
		for _, e := range es {
			out = append(out, fmt.Sprintf("%s:%d", e.Repo.Name, e.Params))
		}
		return out
	}
	if got := rank(0, 0); !slices.Equal(got, []string{"big:70000000000", "mid:3000000000", "small:500000000", "tiny:0"}) {
		t.Errorf("no size filter: %q", got)
	}
	if got := rank(1_000_000_000, 7_000_000_000); !slices.Equal(got, []string{"mid:3000000000"}) {
		t.Errorf("1-7B: %q", got)
	}
	if got := rank(0, 1_000_000_000); !slices.Equal(got, []string{"small:500000000"}) {
		t.Errorf("<1B: %q", got)
	}
	mid, err := s.RepoByName(ctx, haven.Model, "alice", "mid")
	mustNil(t, err)
	mustNil(t, s.SetRepoParams(ctx, mid.ID, nil))
	if _, total, _ := s.RepoParams(ctx, mid.ID); total != 0 {
		t.Errorf("forgotten params: total %d", total)
	}
	wantCode(t, s.SetRepoParams(ctx, 9999, map[string]int64{"F32": 1}), haven.ERepoNotFound)
}

const benchResults = 100_000

var (
	evalBenchOnce  sync.Once
	evalBenchStore *meta.Store
	evalBenchErr   error
)

// evalBenchmarkStore returns a SQLite store with 20,000 models reporting
// benchResults results: every model on the big board (glue, accuracy), the
// rest spread over 200 small boards; one model in seven is private.
func evalBenchmarkStore(b *testing.B) *meta.Store {
	evalBenchOnce.Do(func() {
		start := time.Now()
		dir := b.TempDir()
		evalBenchStore, evalBenchErr = meta.Open(ctx, filepath.Join(dir, "haven.db"))
		if evalBenchErr != nil {
			return
		}
		const models = benchResults / 5
		libraries := []string{"transformers", "timm", "peft", "diffusers"}
		for i := range models {
			r := &haven.Repo{Type: haven.Model, Namespace: fmt.Sprintf("ns%d", i%1000), Name: fmt.Sprintf("model-%d", i),
				Private: i%7 == 0, LibraryName: libraries[i%4], Tags: []string{libraries[i%4], fmt.Sprintf("license:l%d", i%3)}}
			if evalBenchErr = evalBenchStore.CreateRepo(ctx, r); evalBenchErr != nil {
				return
			}
			rs := []meta.EvalResult{result("glue", "accuracy", float64((i*7919)%models)/models)}
			for k := range 4 {
				board := (i*4 + k) % 200
				rs = append(rs, result(fmt.Sprintf("ds%d", board/2), []string{"f1", "eval_loss"}[board%2], float64((i*31+k)%1000)))
			}
			if evalBenchErr = evalBenchStore.SetCardIndex(ctx, r.ID, i%101, rs); evalBenchErr != nil {
				return
			}
		}
		b.Logf("%d results created in %v", benchResults, time.Since(start).Round(time.Millisecond))
		evalBenchStore.Close()
		evalBenchStore, evalBenchErr = meta.Open(ctx, filepath.Join(dir, "haven.db"))
	})
	if evalBenchErr != nil {
		b.Fatal(evalBenchErr)
	}
	return evalBenchStore
}

// BenchmarkLeaderboard ranks a page of 100 models on SQLite with 100,000
// results stored.
func BenchmarkLeaderboard(b *testing.B) {
	s := evalBenchmarkStore(b)
	cases := []struct {
		name string
		f    meta.LeaderboardFilter
	}{
		{"big board", meta.LeaderboardFilter{DatasetID: "glue", MetricType: "accuracy"}},
		{"big board/visible to two", meta.LeaderboardFilter{DatasetID: "glue", MetricType: "accuracy", VisibleTo: []string{"ns1", "ns2"}}},
		{"big board/license", meta.LeaderboardFilter{DatasetID: "glue", MetricType: "accuracy", License: "l1"}},
		{"big board/library", meta.LeaderboardFilter{DatasetID: "glue", MetricType: "accuracy", Library: "peft"}},
		{"big board/page 50", meta.LeaderboardFilter{DatasetID: "glue", MetricType: "accuracy", Offset: 5000}},
		{"small board", meta.LeaderboardFilter{DatasetID: "ds7", MetricType: "f1"}},
		{"small board/lower is better", meta.LeaderboardFilter{DatasetID: "ds8", MetricType: "eval_loss", LowerIsBetter: true}},
	}
	for _, c := range cases {
		f := c.f
		f.Limit = 100
		b.Run(c.name, func(b *testing.B) {
			for q := newQuantiles(b); q.loop(); {
				es, err := s.Leaderboard(ctx, f)
				if err != nil {
					b.Fatal(err)
				}
				if len(es) == 0 {
					b.Fatal("empty leaderboard")
				}
			}
		})
	}
	// The page after rank 5,000 by the cursor the page before returned.
	prev, err := s.Leaderboard(ctx, meta.LeaderboardFilter{DatasetID: "glue", MetricType: "accuracy", Offset: 4999, Limit: 1})
	if err != nil || len(prev) != 1 {
		b.Fatal(len(prev), err)
	}
	b.Run("big board/page 50 by cursor", func(b *testing.B) {
		for q := newQuantiles(b); q.loop(); {
			es, err := s.Leaderboard(ctx, meta.LeaderboardFilter{DatasetID: "glue", MetricType: "accuracy", After: &prev[0].Cursor, Limit: 100})
			if err != nil || len(es) != 100 || es[0].Cursor.Rank != 5001 {
				b.Fatal(len(es), err)
			}
		}
	})
	for _, c := range []struct {
		name string
		f    meta.BoardFilter
	}{
		{"index", meta.BoardFilter{}},
		{"index/visible to two", meta.BoardFilter{VisibleTo: []string{"ns1", "ns2"}}},
		{"index/task", meta.BoardFilter{TaskType: "text-classification"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for q := newQuantiles(b); q.loop(); {
				if bs, err := s.Boards(ctx, c.f); err != nil || len(bs) == 0 {
					b.Fatal(len(bs), err)
				}
			}
		})
	}
}

// quantiles times each iteration of a benchmark loop and reports the
// median and the 99th percentile, as the targets are set on the median.
type quantiles struct {
	b     *testing.B
	start time.Time
	ds    []time.Duration
}

func newQuantiles(b *testing.B) *quantiles { return &quantiles{b: b} }

// loop is b.Loop, timing the iteration that ended.
func (q *quantiles) loop() bool {
	if !q.start.IsZero() {
		q.ds = append(q.ds, time.Since(q.start))
	}
	if !q.b.Loop() {
		if len(q.ds) > 0 {
			slices.Sort(q.ds)
			q.b.ReportMetric(float64(q.ds[len(q.ds)/2].Microseconds())/1000, "p50-ms")
			q.b.ReportMetric(float64(q.ds[len(q.ds)*99/100].Microseconds())/1000, "p99-ms")
		}
		return false
	}
	q.start = time.Now()
	return true
}
