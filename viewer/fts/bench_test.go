package fts

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"
)

func benchEnv(name string, def int64) int64 {
	if n, err := strconv.ParseInt(os.Getenv(name), 10, 64); err == nil && n > 0 {
		return n
	}
	return def
}

// benchText is the text of row i of the viewer benchmark's split: "row i"
// and two of ten words, so that "row" is in every row, each word in about a
// fifth of them, and each number in one.
func benchText(i int64) string {
	words := []string{"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "東京", "Привет"}
	return fmt.Sprintf("row %d %s %s", i, words[i%10], words[(i/10)%10])
}

// benchIndex builds (or, under HAVEN_BENCH_DIR, reuses) the index of n rows
// of benchText and the scratch FTS5 file it was made from, with the
// replaced search's tables added.
func benchIndex(b *testing.B, n int64) (*Index, *legacyIndex) {
	ctx := context.Background()
	dir := b.TempDir()
	if d := os.Getenv("HAVEN_BENCH_DIR"); d != "" {
		dir = filepath.Join(d, fmt.Sprintf("fts-%d", n))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	scratch, index, done := filepath.Join(dir, "scratch.fts5"), filepath.Join(dir, "index.fts"), filepath.Join(dir, "done")
	if _, err := os.Stat(done); err == nil && !hasTables(b, scratch, vocabTables[:]...) {
		// A kept inversion of an older layout, without a vocabulary the
		// index needs now: invert again.
		for _, p := range []string{done, scratch, index} {
			os.Remove(p)
		}
	}
	if _, err := os.Stat(done); err != nil {
		start := time.Now()
		c, err := invert(ctx, scratch, nil, func(yield func(Doc) error) error {
			for i := range n {
				if err := yield(Doc{ID: i, Text: benchText(i)}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		inverted := time.Now()
		if err := writePostings(ctx, scratch, index, c); err != nil {
			b.Fatal(err)
		}
		b.Logf("build of %d rows: FTS5 inversion %v, postings by window %v", n, inverted.Sub(start).Round(time.Second), time.Since(inverted).Round(time.Second))
		db, err := sql.Open("sqlite", "file:"+scratch)
		if err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		err = addLegacyTables(ctx, db, c)
		db.Close()
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("the replaced layout's row lengths: %v", time.Since(start).Round(time.Second))
		if err := os.WriteFile(done, nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := os.Stat(index); err != nil {
		// A kept inversion whose postings are gone (a new layout): write
		// them again from it.
		c, err := legacyCorpus(ctx, scratch)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := writePostings(ctx, scratch, index, c); err != nil {
			b.Fatal(err)
		}
		b.Logf("postings by window of %d rows: %v", n, time.Since(start).Round(time.Second))
	}
	for _, p := range []string{scratch, index} {
		if fi, err := os.Stat(p); err == nil {
			b.Logf("%s: %d MiB", filepath.Base(p), fi.Size()>>20)
		}
	}
	ix, err := Open(index)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ix.Close() })
	db, err := sql.Open("sqlite", "file:"+scratch+"?mode=ro")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return ix, &legacyIndex{db: db}
}

// hasTables reports whether the SQLite file at path has the tables.
func hasTables(b *testing.B, path string, tables ...string) bool {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for _, t := range tables {
		var n int
		if err := db.QueryRow("SELECT count(*) FROM sqlite_master WHERE name = ?", t).Scan(&n); err != nil || n == 0 {
			return false
		}
	}
	return true
}

func p50(d []time.Duration, p float64) float64 {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return float64(d[int(float64(len(d)-1)*p)].Microseconds()) / 1000
}

// BenchmarkSearch measures the index's search on HAVEN_BENCH_ROWS rows (10
// million by default) for rare and common queries, a page of 100 rows,
// against the search it replaced on the same FTS5 inversion (run
// HAVEN_BENCH_LEGACY_REPS times, 1 by default: it takes seconds), and
// checks that both give the same page and total.
func BenchmarkSearch(b *testing.B) {
	n := benchRows()
	ix, old := benchIndex(b, n)
	ctx := context.Background()
	oldReps := int(benchEnv("HAVEN_BENCH_LEGACY_REPS", 1))
	for _, q := range []struct {
		name, query string
		offset      int
	}{
		{"rare/number", fmt.Sprint(n * 4 / 10), 0},
		{"rare/two-numbers", fmt.Sprintf("%d %d", n/3, n/7), 0},
		{"common/word", "gamma", 0},
		{"common/word-page-11", "gamma", 1000},
		{"common/two-words", "gamma delta", 0},
		{"common/phrase", "東京", 0},
		{"common/every-row-and-rare", fmt.Sprintf("row %d", n*4/10), 0},
	} {
		var want []int64
		var wantTotal int64
		b.Run(q.name+"/windows", func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				t := time.Now()
				ids, total, err := ix.Search(ctx, q.query, q.offset, 100)
				lat = append(lat, time.Since(t))
				if err != nil || len(ids) == 0 {
					b.Fatalf("%q: %d rows, %v", q.query, len(ids), err)
				}
				want, wantTotal = ids, total
			}
			b.ReportMetric(p50(lat, 0.5), "p50-ms")
			b.ReportMetric(p50(lat, 0.95), "p95-ms")
			b.ReportMetric(float64(wantTotal), "matches")
		})
		b.Run(q.name+"/previous", func(b *testing.B) {
			var lat []time.Duration
			for range oldReps {
				t := time.Now()
				ids, total, err := old.search(ctx, q.query, q.offset, 100)
				lat = append(lat, time.Since(t))
				if err != nil {
					b.Fatal(err)
				}
				if total != wantTotal || !slices.Equal(ids, want) {
					b.Fatalf("%q: the replaced search found %d rows (first %v), the index %d (first %v)", q.query, total, ids[:min(5, len(ids))], wantTotal, want[:min(5, len(want))])
				}
			}
			b.ReportMetric(p50(lat, 0.5), "p50-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}

func benchRows() int64 { return benchEnv("HAVEN_BENCH_ROWS", 10_000_000) }
