#!/usr/bin/env bash
# Latency of the repo info and tree endpoints under 200 concurrent clients
# (wrk -c200 -t2 -d15s --latency), on a repository of about 50 files.
# Targets: p99 < 10 ms and no errors; p99 <= 1.3 x nginx's. Baselines in the
# same run, with the same wrk: nginx serving each response, saved as a static
# file of the same size, and bench/gostatic serving the same files from memory
# with nothing but Go's net/http (the server Haven is built on), which tells
# the standard library's share from Haven's own. Each row also gives the
# server's CPU time per request (nginx: master and workers), which depends far
# less on other work on the machine.
#
#   bench/api-latency.sh
#   DURATION=5s bench/api-latency.sh
#   PROFILE=1 bench/api-latency.sh   # also a CPU profile of the server under load
#   ROUNDS=3 bench/api-latency.sh    # three rounds, servers taking turns; medians
#   PIN=1 bench/api-latency.sh       # each server on CPU 1 alone, wrk on CPU 0
#
# By default the servers and wrk share every CPU, as they would on a busy
# machine. With PIN=1 each server runs on one CPU (nginx with one worker, Go
# with GOMAXPROCS=1) and wrk (one thread) on another, so that the latency is
# the server's and not the fight between client and server for the CPUs.

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tools
need_pkg wrk wrk
DURATION=${DURATION:-15s}
CONNS=${CONNS:-200}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-1}
PIN=${PIN:-0}
CLIENT=()
SERVER_PROCS="" # GOMAXPROCS of the Go servers; empty: Go's default
if [[ $PIN == 1 ]]; then
	(($(nproc) >= 2)) || die "PIN=1 needs two CPUs"
	need_pkg taskset util-linux
	export NGINX_WORKERS=1
	SERVER_PROCS=1
	THREADS=1 # the client has one CPU
	CLIENT=(taskset -c 0)
fi

# pin_server PID...: moves every thread of the processes to CPU 1 (PIN=1).
pin_server() {
	[[ $PIN == 1 ]] || return 0
	local p
	for p in "$@"; do taskset -a -p -c 1 "$p" >/dev/null; done
}

build_haven
setup_haven
GOMAXPROCS=$SERVER_PROCS start_haven
create_repo api
log "filling bench/api with ~50 files"
python3 "$BENCH_DIR/mkrepo.py" "$HAVEN_URL" "$TOKEN" bench/api

mkdir -p "$WORK/static"
curl -fsS "$HAVEN_URL/api/models/bench/api" >"$WORK/static/info.json"
curl -fsS "$HAVEN_URL/api/models/bench/api/tree/main" >"$WORK/static/tree.json"
ENTRIES=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$WORK/static/tree.json")
start_nginx "$WORK/static" 'default_type application/json;'
pin_server $(nginx_pids)
log "building bench/gostatic"
(cd "$REPO_ROOT" && go build -o "$WORK/gostatic" ./bench/gostatic)
GOSTATIC_URL=http://127.0.0.1:$(free_port)
GOMAXPROCS=$SERVER_PROCS "$WORK/gostatic" -addr "${GOSTATIC_URL#http://}" -root "$WORK/static" >>"$WORK/gostatic.log" 2>&1 &
GOSTATIC_PID=$!
PIDS+=("$GOSTATIC_PID")
wait_http "$GOSTATIC_URL/info.json"
pin_server "$HAVEN_PID" "$GOSTATIC_PID"

# to_ms VALUE-WITH-UNIT: wrk's 812.00us / 3.21ms / 1.02s / 2.00m in ms.
to_ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
		printf "%.2f", n }'
}

# bench_url NAME URL [CONNS THREADS DURATION]: runs wrk; appends
# "NAME p50 p99 max rps errors non2xx" to $WORK/rows.
bench_url() {
	local name=$1 url=$2 CONNS=${3:-$CONNS} THREADS=${4:-$THREADS} DURATION=${5:-$DURATION}
	local out p50 p99 max rps err non2xx
	log "wrk -c$CONNS -t$THREADS -d$DURATION $name"
	local prof=""
	if [[ ${PROFILE:-0} == 1 && $name == haven-* ]]; then
		(sleep 1 && profile_cpu "${PROFILE_SECONDS:-10}" "$name") &
		prof=$!
	fi
	local pids ticks
	case $name in
	haven-*) pids=$HAVEN_PID ;;
	go-*) pids=$GOSTATIC_PID ;;
	*) pids=$(nginx_pids) ;;
	esac
	ticks=$(cpu_ticks $pids)
	out=$("${CLIENT[@]}" wrk -c"$CONNS" -t"$THREADS" -d"$DURATION" --latency "$url")
	ticks=$(($(cpu_ticks $pids) - ticks))
	[[ -z $prof ]] || wait "$prof"
	echo "$out" >"$WORK/wrk-$name.txt"
	p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
	p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
	max=$(to_ms "$(awk '$1 == "Latency" && NF >= 4 {print $4; exit}' <<<"$out")")
	rps=$(awk '$1 == "Requests/sec:" {printf "%.0f", $2}' <<<"$out")
	err=$(awk '/Socket errors/ {gsub(/,/, ""); print $4 + $6 + $8 + $10}' <<<"$out")
	non2xx=$(awk '/Non-2xx or 3xx responses/ {print $NF}' <<<"$out")
	local reqs cpu
	reqs=$(awk '/requests in/ {print $1; exit}' <<<"$out")
	cpu=$(awk -v t="$ticks" -v hz="$CLK_TCK" -v n="${reqs:-0}" 'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print "?" }')
	echo "$name ${p50:-?} ${p99:-?} ${max:-?} ${rps:-?} ${err:-0} ${non2xx:-0} $cpu" >>"$WORK/rows"
}

: >"$WORK/rows"
# The three servers take turns within each round, so that other work on the
# machine weighs on all of them alike.
for ((round = 1; round <= ROUNDS; round++)); do
	bench_url haven-info "$HAVEN_URL/api/models/bench/api"
	bench_url nginx-info "$NGINX_URL/info.json"
	bench_url go-info "$GOSTATIC_URL/info.json"
	bench_url haven-tree "$HAVEN_URL/api/models/bench/api/tree/main"
	bench_url nginx-tree "$NGINX_URL/tree.json"
	bench_url go-tree "$GOSTATIC_URL/tree.json"
done
# One client at a time: the cost of a single request, without queueing.
bench_url haven-info-c1 "$HAVEN_URL/api/models/bench/api" 1 1 5s
bench_url haven-tree-c1 "$HAVEN_URL/api/models/bench/api/tree/main" 1 1 5s
bench_url nginx-tree-c1 "$NGINX_URL/tree.json" 1 1 5s

echo
echo "== api latency: wrk -c$CONNS -t$THREADS -d$DURATION --latency$([[ $PIN == 1 ]] && echo ', servers on CPU 1, wrk on CPU 0'); info $(stat -c %s "$WORK/static/info.json") B, tree $ENTRIES entries $(stat -c %s "$WORK/static/tree.json") B"
echo "   $(machine_line)"
printf '%-14s %9s %9s %9s %9s %8s %8s %9s  %s\n' endpoint "p50 ms" "p99 ms" "max ms" "req/s" "sockerr" "non-2xx" "cpu us/req" "target p99<10ms, 0 errors"
while read -r name p50 p99 max rps err non2xx cpu; do
	v=""
	[[ $name == haven-* && $name != *-c1 ]] && v=$(verdict "$p99 < 10 && $err == 0 && $non2xx == 0")
	printf '%-14s %9s %9s %9s %9s %8s %8s %9s  %s\n' "$name" "$p50" "$p99" "$max" "$rps" "$err" "$non2xx" "$cpu" "$v"
done <"$WORK/rows"
echo
echo "== p99 and CPU per request against the baselines (medians of $ROUNDS round(s)); target p99 <= 1.3 x nginx"
printf '%-6s %12s %12s %12s %12s %12s  %s\n' endpoint "haven/nginx" "go/nginx" "haven/go" "cpu haven" "cpu go, nginx" ""
for ep in info tree; do
	awk -v ep="$ep" '
		function median(a, n,   i, j, t) {
			for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
			return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
		}
		$1 == "haven-" ep { h[++nh] = $3; hc[nh] = $8 }
		$1 == "nginx-" ep { n[++nn] = $3; nc[nn] = $8 }
		$1 == "go-" ep { g[++ng] = $3; gc[ng] = $8 }
		END {
			for (i = 1; i <= nh; i++) { rh[i] = h[i] / n[i]; rg[i] = g[i] / n[i]; rhg[i] = h[i] / g[i] }
			a = median(rh, nh); b = median(rg, nh); c = median(rhg, nh)
			printf "%-6s %11.2fx %11.2fx %11.2fx %10.1fus %6.1f, %.1fus  %s\n", ep, a, b, c,
				median(hc, nh), median(gc, nh), median(nc, nh), (a <= 1.3 ? "PASS" : "FAIL")
		}' "$WORK/rows"
done
echo "   load avg at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "(*-c1: one connection, 5 s, for the cost of a single request; not part of the target)"
