#!/usr/bin/env bash
# Server time of the web pages and discovery API with 100,000 repositories
# in the database (SQLite): listing pages with search and filters,
# /api/models?search=, /api/quicksearch, and a repository page with a 50 KB
# card, then the API's listings of models, datasets and Spaces with each kind
# of filter, sort and expansion (api-*), with repo info from the read cache as
# the baseline. Handlers are called in-process, so the figures leave out the
# network. Targets: pages p50 < 30 ms, quicksearch and the repository page
# p50 < 20 ms, every api-* listing p50 < 20 ms.
#
#   bench/web.sh              # 200 requests per case
#   REPS=50 bench/web.sh
#   HAVEN_BENCH_DB=/tmp/web.db bench/web.sh   # fill that file once, start each later run from a copy
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-200}
echo "== web: $(nproc) CPUs, $(uname -m), $(go version | cut -d' ' -f3), load avg $(cut -d' ' -f1-3 /proc/loadavg)"
go test -run '^$' -bench '^BenchmarkWeb$' -benchtime "${REPS}x" -timeout 60m ./web/ |
	awk '/^BenchmarkWeb\// {
		name = $1; sub(/^BenchmarkWeb\//, "", name); sub(/-[0-9]+$/, "", name)
		for (i = 1; i <= NF; i++) { if ($i == "p50-ms") p50 = $(i-1); if ($i == "p90-ms") p90 = $(i-1); if ($i == "p99-ms") p99 = $(i-1); if ($i == "cpu-ms") cpu = $(i-1) }
		printf "%-30s p50 %8.2f ms   p90 %8.2f ms   p99 %8.2f ms   cpu %7.2f ms\n", name, p50, p90, p99, cpu
		next
	}
	/repositories created|^(ok|FAIL|PASS)/ { print }'
echo "load avg after: $(cut -d' ' -f1-3 /proc/loadavg)"
