#!/usr/bin/env bash
# The everyday flows on PostgreSQL + S3 against SQLite + the data folder, on
# the same machine in the same run: two `haven serve`, one on each pair of
# stores (PostgreSQL and S3 from scripts/start-postgres.sh and
# scripts/start-s3.sh: versitygw on the local disk), the same repository
# (mkrepo.py's ~50 files) in each. Each round takes every flow on both
# servers in turn; medians of ROUNDS:
#
#   commit     N sequential commits of one small regular file (commits/s)
#   lfs-up     a SIZE_MB LFS PUT to the signed URL, then its commit (MB/s)
#   lfs-down   GET /resolve of that file, curl -o /dev/null (MB/s)
#   small-down GET /resolve of config.json (wrk req/s)
#   info       GET /api/models/bench/flows (wrk req/s)
#   tree       GET /api/models/bench/flows/tree/main (wrk req/s)
#   list       GET /api/models?author=bench (wrk req/s)
#
# The ratio is PostgreSQL + S3 over SQLite + disk (1.00: as fast).
#
#   bench/backends.sh
#   SIZE_MB=64 ROUNDS=3 DURATION=5s bench/backends.sh

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tools
need_pkg wrk wrk
SIZE_MB=${SIZE_MB:-256}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-32}
COMMITS=${COMMITS:-20}


build_haven
start_postgres
start_s3

# start_one NAME STORE-FLAGS...: a server with its own data folder, user
# bench and a token; sets URL_[NAME], TOKEN_[NAME], PID_[NAME].
declare -A URL_ TOKEN_ PID_
start_one() {
	local name=$1 port d=$WORK/$1 tok
	shift
	mkdir -p "$d"
	"$HAVEN" user create bench --data "$d" "$@" >/dev/null 2>&1
	tok=$("$HAVEN" token create bench --role write --data "$d" "$@" 2>/dev/null | tail -n1)
	[[ $tok == hf_* ]] || die "$name: no token: $tok"
	port=$(free_port)
	"$HAVEN" serve --addr "127.0.0.1:$port" --data "$d" --public-url "http://127.0.0.1:$port" --log-requests=false "$@" \
		>>"$WORK/$name.log" 2>&1 &
	PIDS+=("$!")
	PID_[$name]=$!
	URL_[$name]=http://127.0.0.1:$port
	TOKEN_[$name]=$tok
	wait_http "${URL_[$name]}/api/health"
}
start_one sqlite
start_one pg-s3 --database "$HAVEN_TEST_POSTGRES_DSN" --blob-store "$HAVEN_TEST_S3_URL"
SERVERS=(sqlite pg-s3)

# use NAME: points lib.sh's helpers (api, commit, upload_lfs) at a server.
use() { HAVEN_URL=${URL_[$1]} TOKEN=${TOKEN_[$1]}; }

log "making a ${SIZE_MB} MiB file"
make_file "$WORK/big.bin" "$SIZE_MB"
BYTES=$(stat -c %s "$WORK/big.bin")
for s in "${SERVERS[@]}"; do
	use "$s"
	create_repo flows
	python3 "$BENCH_DIR/mkrepo.py" "$HAVEN_URL" "$TOKEN" bench/flows
	curl -fsS -o /dev/null "$HAVEN_URL/bench/flows/resolve/main/config.json" || die "$s: no config.json"
done

: >"$WORK/rows"
row() { echo "$1 $2 $3" >>"$WORK/rows"; log "$1 $2: $3"; }

# wrk_rps URL: requests per second, failing on errors.
wrk_rps() {
	local out
	out=$(wrk -c"$CONNS" -t2 -d"$DURATION" "$1")
	if grep -q 'Non-2xx\|Socket errors' <<<"$out"; then
		die "wrk $1: errors: $out"
	fi
	awk '$1 == "Requests/sec:" {printf "%.0f", $2}' <<<"$out"
}

flow_commit() {
	local t0 t1 i
	t0=$(date +%s.%N)
	for i in $(seq 1 "$COMMITS"); do
		commit flows "{\"key\":\"file\",\"value\":{\"path\":\"notes/n$i.txt\",\"encoding\":\"base64\",\"content\":\"$(printf 'note %s %s\n' "$i" "$RANDOM" | base64 -w0)\"}}"
	done
	t1=$(date +%s.%N)
	awk -v n="$COMMITS" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", n / (b - a)}'
}

flow_lfs_up() {
	local oid href secs code
	# A fresh object each time: the same bytes with a round marker at the end.
	printf 'round %s %s' "$1" "$RANDOM" >>"$WORK/big.bin"
	oid=$(sha256sum "$WORK/big.bin" | cut -d' ' -f1)
	local size
	size=$(stat -c %s "$WORK/big.bin")
	href=$(lfs_upload_href flows "$oid" "$size")
	[[ -n $href ]] || die "no upload URL"
	read -r secs code < <(lfs_put "$WORK/big.bin" "$href")
	[[ $code == 200 ]] || die "PUT answered $code: $(cat "$WORK/put.out")"
	commit flows "{\"key\":\"lfsFile\",\"value\":{\"path\":\"big.bin\",\"algo\":\"sha256\",\"oid\":\"$oid\",\"size\":$size}}"
	truncate -s "$BYTES" "$WORK/big.bin"
	mbps "$size" "$secs"
}

flow_lfs_down() {
	local out code size speed
	out=$(curl -sS -o /dev/null -w '%{http_code} %{size_download} %{speed_download}' "$HAVEN_URL/bench/flows/resolve/main/big.bin")
	read -r code size speed <<<"$out"
	[[ $code == 200 && $size -gt $BYTES ]] || die "GET big.bin: HTTP $code, $size bytes"
	mbps "$speed" 1
}

for round in $(seq 1 "$ROUNDS"); do
	log "round $round of $ROUNDS"
	for s in "${SERVERS[@]}"; do use "$s" && row "$s" commit "$(flow_commit)"; done
	for s in "${SERVERS[@]}"; do use "$s" && row "$s" lfs-up "$(flow_lfs_up "$round$s")"; done
	for s in "${SERVERS[@]}"; do use "$s" && flow_lfs_down >/dev/null && row "$s" lfs-down "$(flow_lfs_down)"; done
	for s in "${SERVERS[@]}"; do use "$s" && row "$s" small-down "$(wrk_rps "$HAVEN_URL/bench/flows/resolve/main/config.json")"; done
	for s in "${SERVERS[@]}"; do use "$s" && row "$s" info "$(wrk_rps "$HAVEN_URL/api/models/bench/flows")"; done
	for s in "${SERVERS[@]}"; do use "$s" && row "$s" tree "$(wrk_rps "$HAVEN_URL/api/models/bench/flows/tree/main")"; done
	for s in "${SERVERS[@]}"; do use "$s" && row "$s" list "$(wrk_rps "$HAVEN_URL/api/models?author=bench")"; done
done

med() { awk -v s="$1" -v f="$2" '$1 == s && $2 == f {print $3}' "$WORK/rows" | median; }
echo
echo "== backends: PostgreSQL + S3 (versitygw, local disk) vs SQLite + data folder, median of $ROUNDS rounds; wrk -c$CONNS -t2 -d$DURATION, $((BYTES >> 20)) MiB LFS file, $COMMITS commits"
echo "   $(machine_line)"
printf '%-11s %-12s %12s %12s %8s\n' flow unit "sqlite+disk" "pg+s3" "ratio"
for f in commit lfs-up lfs-down small-down info tree list; do
	case $f in commit) u=commits/s ;; lfs-*) u=MB/s ;; *) u=req/s ;; esac
	a=$(med sqlite "$f") b=$(med pg-s3 "$f")
	printf '%-11s %-12s %12s %12s %8s\n' "$f" "$u" "$a" "$b" "$(ratio "$b" "$a")"
done
