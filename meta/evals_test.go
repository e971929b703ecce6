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
			for b.Loop() {
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
	b.Run("index", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Boards(ctx, meta.BoardFilter{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
