#!/usr/bin/env bash
# Dataset viewer benchmarks, each with its baseline in the same run:
#   - /rows at random offsets of a 10-million-row split (p50, p95);
#   - /filter next to the same query run directly in DuckDB on the same file;
#   - /search (full-text index) next to a DuckDB scan with ILIKE;
#   - the conversion of a 1 GiB CSV to parquet: time and peak memory.
# Tunables: HAVEN_BENCH_ROWS (10000000), HAVEN_BENCH_CSV_MB (1024), REPS (30).
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${REPS:-30}
echo "== viewer queries on ${HAVEN_BENCH_ROWS:-10000000} rows"
go test -run '^$' -bench BenchmarkViewer -benchtime "${reps}x" -timeout 60m ./viewer/server
echo "== conversion of a ${HAVEN_BENCH_CSV_MB:-1024} MiB CSV"
go test -run '^$' -bench BenchmarkConvertCSV -benchtime 1x -timeout 60m -v ./viewer/duck | grep -E 'Benchmark|CSV:|peak|ok'
