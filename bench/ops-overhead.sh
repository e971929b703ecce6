#!/usr/bin/env bash
# What request metrics and request logging cost on repo info: one server on
# one SQLite data folder (a repository of about 50 files, mkrepo.py),
# restarted with each setting in turn, anonymous `wrk -c$CONNS -t$THREADS`
# on GET /api/models/bench/ops; each round takes every setting once, the
# table gives medians of ROUNDS rounds. Settings:
#
#   none      --metrics=false --log-requests=false   (the baseline)
#   metrics   --log-requests=false
#   log       --metrics=false                        (text lines)
#   both      the defaults: metrics and text request lines
#   both-json the defaults with --log-format json
#   base-both BASE_REV's binary (default main) with its defaults, when it
#             differs from the tree measured: the cost before this change
#
# Besides req/s, the server's CPU µs per request (from /proc/PID/stat),
# which a busy machine disturbs less. Target: both ≥ 0.97 × none.
#
# Then the middleware alone: BenchmarkRequestChain (cmd/haven) serves
# MICRO_OPS requests in one goroutine through the request id, metrics and
# request log middleware of each setting into a handler that writes repo
# info's 2.8 kB; its CPU time (user + system, from /proc) over MICRO_OPS is
# what each setting adds per request, independent of wrk and the network.
#
#   bench/ops-overhead.sh
#   DURATION=5s ROUNDS=3 BASE_REV= bench/ops-overhead.sh
#   PARTS=micro bench/ops-overhead.sh   # the middleware alone
#   PROFILE=1 bench/ops-overhead.sh   # CPU profile of the server, setting "both"

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tools
need_pkg wrk wrk
DURATION=${DURATION:-5s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
BASE_REV=${BASE_REV-main}
PARTS=${PARTS:-wrk micro}

# micro: the middleware alone (below the wrk part).
micro() {
	local s round pid t mnone v
	HAVEN_LABEL="$(git -C "$REPO_ROOT" rev-parse --short HEAD)+worktree"
	log "building the cmd/haven test binary for BenchmarkRequestChain"
	(cd "$REPO_ROOT" && go test -c -o "$WORK/haven.test" ./cmd/haven)
	: >"$WORK/micro"
	for round in $(seq 1 "$ROUNDS"); do
		for s in none metrics log-text log-json both-text both-json; do
			"$WORK/haven.test" -test.run XXX -test.bench "BenchmarkRequestChain/$s\$" -test.benchtime "${MICRO_OPS}x" \
				-test.cpu 1 >/dev/null &
			pid=$!
			t=0
			# Sample its CPU ticks until it ends: the last reading is its total.
			while kill -0 "$pid" 2>/dev/null; do
				t=$(cpu_ticks "$pid")
				sleep 0.05
			done
			wait "$pid"
			v=$(awk -v t="$t" -v n="$MICRO_OPS" -v hz="$CLK_TCK" 'BEGIN {printf "%.0f", t / hz * 1e9 / n}')
			log "micro $s: $v CPU ns/request"
			echo "$s $v" >>"$WORK/micro"
		done
	done
	echo
	echo "== the middleware alone: CPU ns per request (BenchmarkRequestChain, $MICRO_OPS requests, one goroutine), median of $ROUNDS"
	echo "   $(machine_line)"
	printf '%-10s %8s %12s\n' setting "CPU ns" "+ns vs none"
	mnone=$(awk '$1 == "none" {print $2}' "$WORK/micro" | median)
	for s in none metrics log-text log-json both-text both-json; do
		v=$(awk -v n="$s" '$1 == n {print $2}' "$WORK/micro" | median)
		printf '%-10s %8.0f %+12.0f\n' "$s" "$v" "$(awk -v a="$v" -v b="$mnone" 'BEGIN {print a - b}')"
	done
	echo "(every row includes the benchmark's handler and loop and the request id: compare with none)"
}
MICRO_OPS=${MICRO_OPS:-400000}
if [[ " $PARTS " != *" wrk "* ]]; then
	micro
	exit 0
fi

build_haven
BASE_BIN=""
if [[ -n $BASE_REV ]]; then
	rev=$(git -C "$REPO_ROOT" rev-parse --verify "$BASE_REV^{commit}") || die "no revision $BASE_REV"
	log "building haven at $BASE_REV (${rev:0:7}) for the base-both setting"
	mkdir -p "$WORK/base-src"
	git -C "$REPO_ROOT" archive "$rev" | tar -x -C "$WORK/base-src"
	(cd "$WORK/base-src" && go build -o "$WORK/haven-base" ./cmd/haven)
	BASE_BIN=$WORK/haven-base
	BASE_LABEL=${rev:0:7}
fi
setup_haven
start_haven
create_repo ops
log "filling bench/ops with ~50 files"
python3 "$BENCH_DIR/mkrepo.py" "$HAVEN_URL" "$TOKEN" bench/ops
stop_haven
URL_PATH=/api/models/bench/ops

declare -A FLAGS=([none]="--metrics=false --log-requests=false" [metrics]="--log-requests=false"
	[log]="--metrics=false" [both]="" [both-json]="--log-format json" [base-both]="")
SETTINGS=(none metrics log both both-json)
[[ -z $BASE_BIN ]] || SETTINGS+=(base-both)

# run SETTING: starts the server with the setting, warms it, runs wrk and
# appends "SETTING req/s errors cpu-µs/req" to $WORK/rows.
run() {
	local bin=$HAVEN out r n err t0 t1 prof=""
	[[ $1 != base-* ]] || bin=$BASE_BIN
	# shellcheck disable=SC2086
	"$bin" serve --addr "127.0.0.1:$HAVEN_PORT" --data "$DATA" --public-url "$HAVEN_URL" ${FLAGS[$1]} \
		>>"$WORK/haven-$1.log" 2>&1 &
	HAVEN_PID=$!
	PIDS+=("$HAVEN_PID")
	wait_http "$HAVEN_URL/api/health"
	wrk -c"$CONNS" -t"$THREADS" -d1s "$HAVEN_URL$URL_PATH" >/dev/null
	if [[ ${PROFILE:-0} == 1 && $1 == both ]]; then
		(sleep 1 && profile_cpu 3 "ops-$1") &
		prof=$!
	fi
	t0=$(cpu_ticks "$HAVEN_PID")
	out=$(wrk -c"$CONNS" -t"$THREADS" -d"$DURATION" "$HAVEN_URL$URL_PATH")
	t1=$(cpu_ticks "$HAVEN_PID")
	[[ -z $prof ]] || wait "$prof"
	stop_haven
	r=$(awk '$1 == "Requests/sec:" {printf "%.0f", $2}' <<<"$out")
	n=$(awk '/requests in/ {print $1; exit}' <<<"$out")
	err=$(awk '/Socket errors/ {gsub(/,/, ""); e += $4 + $6 + $8 + $10} /Non-2xx or 3xx/ {e += $NF} END {print e + 0}' <<<"$out")
	local us
	us=$(awk -v t=$((t1 - t0)) -v n="$n" -v hz="$CLK_TCK" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}')
	log "$1: $r req/s, $err errors, $us CPU µs/req"
	echo "$1 $r $err $us" >>"$WORK/rows"
}

: >"$WORK/rows"
for round in $(seq 1 "$ROUNDS"); do
	log "round $round of $ROUNDS"
	for s in "${SETTINGS[@]}"; do run "$s"; done
done

med() { awk -v n="$1" -v c="${2:-2}" '$1 == n {print $c}' "$WORK/rows" | median | xargs printf "${3:-%.0f}"; }
errs() { awk -v n="$1" '$1 == n {e += $3} END {print e + 0}' "$WORK/rows"; }
# paired SETTING: median over rounds of SETTING's req/s / none's req/s of the same round.
paired() {
	paste <(awk -v n="$1" '$1 == n {print $2}' "$WORK/rows") <(awk '$1 == "none" {print $2}' "$WORK/rows") |
		awk '{print $1 / $2}' | median | xargs printf '%.3f'
}

echo
echo "== ops overhead: repo info, wrk -c$CONNS -t$THREADS -d$DURATION, median of $ROUNDS rounds (settings in turn, one server at a time)"
echo "   $(machine_line)${BASE_BIN:+; base-both is $BASE_LABEL}"
printf '%-10s %9s %12s %12s %12s %7s  %s\n' setting "req/s" "vs none" "CPU µs/req" "+µs vs none" errors "target ≥ 0.97 × none"
none_us=$(med none 4 %.1f)
for s in "${SETTINGS[@]}"; do
	p=$(paired "$s")
	v=""
	[[ $s == both ]] && v=$(verdict "$p >= 0.97")
	printf '%-10s %9s %12s %12s %12s %7s  %s\n' "$s" "$(med "$s")" "$p" "$(med "$s" 4 %.1f)" \
		"$(awk -v a="$(med "$s" 4 %.1f)" -v b="$none_us" 'BEGIN {printf "%+.1f", a - b}')" "$(errs "$s")" "$v"
done

[[ " $PARTS " != *" micro "* ]] || micro
