#!/usr/bin/env bash
# Dataset viewer benchmarks, each with its baseline in the same run:
#   - /rows at random offsets of a 10-million-row split (p50, p95);
#   - /filter next to the same query run directly in DuckDB on the same file;
#   - /search (index, then the page's rows from parquet) for rare and common
#     queries, next to a DuckDB scan with ILIKE;
#   - the search index alone next to the search it replaced, on the same
#     FTS5 inversion of the same rows (both must give the same pages);
#   - the conversion of a 1 GiB CSV to parquet: time and peak memory.
# Tunables: HAVEN_BENCH_ROWS (10000000), HAVEN_BENCH_CSV_MB (1024), REPS (30),
# HAVEN_BENCH_SCAN_REPS (3, the ILIKE scans), HAVEN_BENCH_LEGACY_REPS (1, the
# replaced search: seconds a query), HAVEN_BENCH_DIR (keep the split and the
# indexes there and reuse them: building them takes minutes to an hour on a
# loaded two-core machine).
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${REPS:-30}
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== viewer queries on ${HAVEN_BENCH_ROWS:-10000000} rows"
go test -run '^$' -bench BenchmarkViewer -benchtime "${reps}x" -timeout 120m ./viewer/server
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== search index on ${HAVEN_BENCH_ROWS:-10000000} rows, against the replaced search"
go test -run '^$' -bench BenchmarkSearch -benchtime "${reps}x" -timeout 120m ./viewer/fts
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== conversion of a ${HAVEN_BENCH_CSV_MB:-1024} MiB CSV"
go test -run '^$' -bench BenchmarkConvertCSV -benchtime 1x -timeout 60m -v ./viewer/duck | grep -E 'Benchmark|CSV:|peak|ok'
