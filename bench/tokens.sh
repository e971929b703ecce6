#!/usr/bin/env bash
# Repository-info throughput with a fine-grained token against a classic
# write token, in the same run: BenchmarkRepoInfoTokens (api/bench_test.go)
# serves GET /api/models/alice/bench of a private repository through the
# whole API handler (authentication with its cache, auth.Can, the answer)
# on every core. The two sub-benchmarks run alternately COUNT times, and the
# target is checked on the median of the paired ratios (each fine-grained run
# over the write run right before it), so that drift of a shared machine
# cancels out.
#
#   bench/tokens.sh                  # COUNT=10, BENCHTIME=1s
set -euo pipefail
cd "$(dirname "$0")/.."
count=${COUNT:-10}
benchtime=${BENCHTIME:-1s}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/api.test" ./api
run() { (cd api && "$tmp/api.test" -test.run '^$' -test.bench "BenchmarkRepoInfoTokens/$1\$" -test.benchtime "$benchtime") | awk '/RepoInfoTokens/ {print $3}'; }
: >"$tmp/rows"
for i in $(seq "$count"); do
	w=$(run write)
	f=$(run fineGrained)
	echo "tokens: run $i: write $w ns/op, fine-grained $f ns/op" >&2
	echo "$w $f" >>"$tmp/rows"
done
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
write=$(awk '{print $1}' "$tmp/rows" | median)
fine=$(awk '{print $2}' "$tmp/rows" | median)
ratio=$(awk '{print $2/$1}' "$tmp/rows" | median)
awk -v w="$write" -v f="$fine" -v r="$ratio" -v n="$count" 'BEGIN {
	slow = (r - 1) * 100
	printf "| benchmark | median ns/op | req/s (all cores) | paired ratio (median of %d) | target |\n| --- | --- | --- | --- | --- |\n", n
	printf "| repo info, write token (baseline) | %.0f | %.0f | | |\n", w, 1e9 / w
	printf "| repo info, fine-grained token (11 scopes) | %.0f | %.0f | %.3f (%+.1f%%) | < +5%% %s |\n", f, 1e9 / f, r, slow, (slow < 5 ? "ok" : "FAIL")
}'
