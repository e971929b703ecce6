package duck

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// BenchmarkConvertCSV converts a CSV file of HAVEN_BENCH_CSV_MB MiB (1024 by
// default) to parquet with the worker's settings (1 GB memory limit, two
// threads, spilling to disk) and reports the time and the process's peak
// resident memory.
func BenchmarkConvertCSV(b *testing.B) {
	mb := int64(1024)
	if n, err := strconv.ParseInt(os.Getenv("HAVEN_BENCH_CSV_MB"), 10, 64); err == nil && n > 0 {
		mb = n
	}
	dir := b.TempDir()
	csv := filepath.Join(dir, "in.csv")
	gen, err := Open(Options{AllowedDirs: []string{dir}, MemoryLimit: "256MB", Threads: 2})
	if err != nil {
		b.Fatal(err)
	}
	// About 95 bytes a row.
	rows := mb << 20 / 95
	err = gen.Exec(context.Background(), fmt.Sprintf(`COPY (SELECT range AS id, 'user ' || (range %% 100000)::VARCHAR AS name,
		md5(range::VARCHAR) || ' some free text ' || (range * 7)::VARCHAR AS text, (range %% 97) / 3.0 AS score,
		range %% 2 = 0 AS flag FROM range(%d)) TO %s (HEADER, DELIMITER ',')`, rows, Quote(csv)))
	gen.Close()
	if err != nil {
		b.Fatal(err)
	}
	fi, _ := os.Stat(csv)
	b.Logf("CSV: %d rows, %.0f MiB", rows, float64(fi.Size())/(1<<20))
	var before syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	for i := 0; b.Loop(); i++ {
		tmp := filepath.Join(dir, fmt.Sprintf("tmp%d", i))
		os.MkdirAll(tmp, 0o755)
		db, err := Open(Options{AllowedDirs: []string{dir}, TempDir: tmp, MemoryLimit: "1GB", Threads: 2})
		if err != nil {
			b.Fatal(err)
		}
		rel, _ := Source{Format: "csv", Files: []string{csv}, Sep: ","}.Relation()
		start := time.Now()
		if _, err := db.Describe(context.Background(), rel); err != nil {
			b.Fatal(err)
		}
		n, err := db.CopyToParquet(context.Background(), rel, filepath.Join(dir, "out.parquet"), 10000, map[string]string{"huggingface": "{}"})
		if err != nil || n != rows {
			b.Fatalf("%d rows, %v", n, err)
		}
		db.Close()
		b.ReportMetric(float64(fi.Size())/(1<<20)/time.Since(start).Seconds(), "MiB/s")
	}
	var after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	b.ReportMetric(float64(after.Maxrss)/1024, "peak-RSS-MiB")
	b.Logf("peak RSS before conversion %d MiB, after %d MiB", before.Maxrss/1024, after.Maxrss/1024)
}
