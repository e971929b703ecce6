package server

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/havenhub/haven/viewer"
	"github.com/havenhub/haven/viewer/duck"
)

// benchRows is the size of the benchmark dataset (HAVEN_BENCH_ROWS).
func benchRows() int64 {
	if n, err := strconv.ParseInt(os.Getenv("HAVEN_BENCH_ROWS"), 10, 64); err == nil && n > 0 {
		return n
	}
	return 10_000_000
}

// benchSplit writes a parquet split of n rows (in row groups of 100,000, as
// the converter does for short rows) and returns a server over it.
func benchSplit(b *testing.B, n int64) (*Server, []shard, *viewer.Config, *viewer.Split) {
	b.Helper()
	// Under HAVEN_BENCH_DIR the split and its search index are kept for
	// the next run: writing and indexing 10 million rows takes minutes.
	dir := b.TempDir()
	if d := os.Getenv("HAVEN_BENCH_DIR"); d != "" {
		dir = filepath.Join(d, fmt.Sprintf("viewer-%d", n))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	db, err := duck.Open(duck.Options{AllowedDirs: []string{dir}, MemoryLimit: "1GB", Threads: 2})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	p := filepath.Join(dir, "0000.parquet")
	if _, err := os.Stat(p); err != nil {
		words := "['alpha','beta','gamma','delta','epsilon','zeta','eta','theta','東京','Привет']"
		start := time.Now()
		_, err = db.CopyToParquet(context.Background(), fmt.Sprintf(`(SELECT range AS id,
		'row ' || range::VARCHAR || ' ' || %[1]s[1 + range %% 10] || ' ' || %[1]s[1 + (range // 10) %% 10] AS text,
		(range %% 7)::BIGINT AS label, (range %% 1000) / 10.0 AS score FROM range(%[2]d))`, words, n), p+".part", 100_000, nil)
		if err == nil {
			err = os.Rename(p+".part", p)
		}
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("wrote %d rows in %v", n, time.Since(start).Round(time.Millisecond))
	}
	cache, err := viewer.NewCache(filepath.Join(dir, "cache"), nil)
	if err != nil {
		b.Fatal(err)
	}
	oid := strings.Repeat("ab", 32)
	if err := cache.Adopt(p, oid); err != nil {
		b.Fatal(err)
	}
	s := &Server{cfg: Config{Logger: slog.Default(), Cache: cache}, db: db}
	s.indexes = newIndexes(filepath.Join(dir, "index"), s)
	cfg := &viewer.Config{Name: "default", Features: viewer.Features{
		{Name: "id", Type: duck.Feature("BIGINT")}, {Name: "text", Type: duck.Feature("VARCHAR")},
		{Name: "label", Type: duck.Feature("BIGINT")}, {Name: "score", Type: duck.Feature("DOUBLE")},
	}}
	sp := &viewer.Split{Name: "train", NumRows: n, Files: []viewer.ParquetFile{{Path: "default/train/0000.parquet", OID: oid, NumRows: n}}}
	return s, []shard{{path: p, start: 0, rows: n}}, cfg, sp
}

func percentile(d []time.Duration, p float64) time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[int(float64(len(d)-1)*p)]
}

// BenchmarkViewer measures /rows at random offsets, /filter against the same
// query run directly in DuckDB, and /search against a DuckDB scan, all on
// one split of HAVEN_BENCH_ROWS rows (10 million by default).
func BenchmarkViewer(b *testing.B) {
	n := benchRows()
	s, shards, cfg, sp := benchSplit(b, n)
	ctx := context.Background()
	rel := plainRelation(shards)

	b.Run("rows", func(b *testing.B) {
		var lat []time.Duration
		for b.Loop() {
			off := rand.Int64N(n - 100)
			t := time.Now()
			items, err := s.readRange(ctx, shards, off, off+100)
			if err != nil || len(items) != 100 || items[0].RowIdx != off {
				b.Fatalf("rows at %d: %d items, %v", off, len(items), err)
			}
			lat = append(lat, time.Since(t))
		}
		b.ReportMetric(float64(percentile(lat, 0.5).Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(percentile(lat, 0.95).Microseconds())/1000, "p95-ms")
	})

	where, orderby := `"label"=3 AND "text" LIKE '%gamma%'`, `"score" DESC`
	b.Run("filter/haven", func(b *testing.B) {
		cols := []string{"id", "text", "label", "score"}
		for b.Loop() {
			w, o, args, err := FilterSQL(where, orderby, cols)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.db.QueryInt(ctx, "SELECT count(*) FROM "+rel+" WHERE "+w, args...); err != nil {
				b.Fatal(err)
			}
			res, err := s.db.Query(ctx, "SELECT * FROM "+relation(shards)+" WHERE "+w+" ORDER BY "+o+", __hf_index_id LIMIT ? OFFSET ?", append(args, 100, 1000)...)
			if err != nil || len(res.Rows) != 100 {
				b.Fatal(err)
			}
		}
	})
	b.Run("filter/duckdb", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.db.QueryInt(ctx, "SELECT count(*) FROM "+rel+` WHERE label=3 AND text LIKE '%gamma%'`); err != nil {
				b.Fatal(err)
			}
			res, err := s.db.Query(ctx, "SELECT * FROM "+rel+` WHERE label=3 AND text LIKE '%gamma%' ORDER BY score DESC LIMIT 100 OFFSET 1000`)
			if err != nil || len(res.Rows) != 100 {
				b.Fatal(err)
			}
		}
	})

	start := time.Now()
	<-s.indexes.ensure(&viewer.State{RepoID: 1, SHA: "bench"}, cfg, sp)
	b.Logf("search index of %d rows built in %v", n, time.Since(start).Round(time.Millisecond))
	idx, err := s.indexes.get(ctx, &viewer.State{RepoID: 1, SHA: "bench"}, cfg, sp)
	if err != nil {
		b.Fatal(err)
	}
	scanReps := 3
	if v, err := strconv.Atoi(os.Getenv("HAVEN_BENCH_SCAN_REPS")); err == nil && v > 0 {
		scanReps = v
	}
	rare := fmt.Sprint(n * 4 / 10)
	for _, q := range []struct {
		name, query, like string
		offset            int
	}{
		{"rare/number", rare, "%" + rare + "%", 0},
		{"rare/two-numbers", fmt.Sprintf("%d %d", n/3, n/7), "", 0},
		{"common/word", "gamma", "%gamma%", 0},
		{"common/word-page-11", "gamma", "", 1000},
		{"common/two-words", "gamma delta", "", 0},
		{"common/phrase", "東京", "%東京%", 0},
		{"common/every-row-and-rare", "row " + rare, "", 0},
	} {
		// The answer of /search: the page of row numbers from the index,
		// then those rows from the parquet file.
		b.Run("search/haven/"+q.name, func(b *testing.B) {
			var lat, inIndex []time.Duration
			for b.Loop() {
				t := time.Now()
				ids, _, err := idx.Search(ctx, q.query, q.offset, 100)
				if err != nil {
					b.Fatal(err)
				}
				if len(ids) == 0 {
					b.Fatalf("no match for %q", q.query)
				}
				inIndex = append(inIndex, time.Since(t))
				items, err := s.readIDs(ctx, shards, ids)
				if err != nil || len(items) != len(ids) {
					b.Fatalf("%d rows of %d: %v", len(items), len(ids), err)
				}
				lat = append(lat, time.Since(t))
			}
			b.ReportMetric(float64(percentile(lat, 0.5).Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(percentile(lat, 0.95).Microseconds())/1000, "p95-ms")
			b.ReportMetric(float64(percentile(inIndex, 0.5).Microseconds())/1000, "index-p50-ms")
		})
		if q.like == "" {
			continue
		}
		// The same page found by scanning: the count, then the first rows.
		b.Run("search/duckdb-ilike/"+q.name, func(b *testing.B) {
			var lat []time.Duration
			for range scanReps {
				t := time.Now()
				if _, err := s.db.QueryInt(ctx, "SELECT count(*) FROM "+rel+" WHERE text ILIKE ?", q.like); err != nil {
					b.Fatal(err)
				}
				if _, err := s.db.Query(ctx, "SELECT * FROM "+rel+" WHERE text ILIKE ? LIMIT 100", q.like); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t))
			}
			b.ReportMetric(float64(percentile(lat, 0.5).Microseconds())/1000, "p50-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}
