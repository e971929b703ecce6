#!/usr/bin/env bash
# Repo info and tree throughput through three replicas behind nginx vs one
# replica direct, in the same run: three `haven serve` on one PostgreSQL, one
# S3 server (versitygw), one git folder and one secret key (the servers of
# scripts/start-postgres.sh and scripts/start-s3.sh), anonymous GETs of a
# public repository of about 50 files with wrk. Three ways in, taken in turn
# each round (median of ROUNDS):
#
#   direct   wrk → replica 1
#   nginx-1  wrk → nginx → replica 1            (the hop alone)
#   nginx-3  wrk → nginx → replicas 1, 2, 3     (round-robin, keepalive)
#
# Target: nginx-3 ≥ 0.90 × direct (the balancer costs < 10%). Also request
# logging on vs off (a fourth replica with --log-requests=false, direct) on
# repo info: the log lines cost < 3%. Metrics are on (bench/ops-overhead.sh
# measures them against --metrics=false). At the end, the hit rate of each
# read cache (repository rows, revisions, trees, tokens…) from /metrics.
#
#   bench/replicas.sh
#   DURATION=5s ROUNDS=1 bench/replicas.sh

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tools
need_pkg wrk wrk
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}


build_haven
start_postgres
start_s3

openssl rand -hex 32 >"$WORK/secret.key" 2>/dev/null || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/secret.key"
# The admin commands get the stores; the servers the key too.
STORES=(--database "$HAVEN_TEST_POSTGRES_DSN" --blob-store "$HAVEN_TEST_S3_URL" --repos-dir "$WORK/repos")

# start_replica I [FLAGS...]: replica I on a free port; sets PORT[I], URL[I].
PORT=() URL=()
start_replica() {
	local i=$1
	shift
	PORT[i]=$(free_port)
	URL[i]=http://127.0.0.1:${PORT[i]}
	"$HAVEN" serve --addr "127.0.0.1:${PORT[i]}" --data "$WORK/d$i" --public-url "${URL[0]:-${URL[i]}}" \
		"${STORES[@]}" --secret-key-file "$WORK/secret.key" "$@" >>"$WORK/replica$i.log" 2>&1 &
	PIDS+=("$!")
	wait_http "${URL[i]}/api/health"
}

mkdir -p "$WORK/d0"
"$HAVEN" user create bench --data "$WORK/d0" "${STORES[@]}" >/dev/null 2>&1
TOKEN=$("$HAVEN" token create bench --role write --data "$WORK/d0" "${STORES[@]}" 2>/dev/null | tail -n1)
[[ $TOKEN == hf_* ]] || die "no token: $TOKEN"
for i in 0 1 2; do start_replica "$i"; done
start_replica 3 --log-requests=false
HAVEN_URL=${URL[0]}
create_repo replicas
log "filling bench/replicas with ~50 files"
python3 "$BENCH_DIR/mkrepo.py" "$HAVEN_URL" "$TOKEN" bench/replicas

ONE_PORT=$(free_port)
proxy="proxy_http_version 1.1; proxy_set_header Connection \"\"; proxy_set_header Host \$host;"
start_nginx "$WORK" "location / { proxy_pass http://three; $proxy }" "
	upstream three { server 127.0.0.1:${PORT[0]}; server 127.0.0.1:${PORT[1]}; server 127.0.0.1:${PORT[2]}; keepalive 64; }
	upstream one { server 127.0.0.1:${PORT[0]}; keepalive 64; }
	server { listen 127.0.0.1:$ONE_PORT; location / { proxy_pass http://one; $proxy } }"
declare -A BASE=([direct]=${URL[0]} [nginx-1]=http://127.0.0.1:$ONE_PORT [nginx-3]=$NGINX_URL [nolog]=${URL[3]})
declare -A PATHS=([info]=/api/models/bench/replicas [tree]=/api/models/bench/replicas/tree/main)
for way in "${!BASE[@]}"; do
	for ep in info tree; do
		curl -fsS -o /dev/null "${BASE[$way]}${PATHS[$ep]}" || die "$way $ep does not answer"
	done
done

# rps WAY ENDPOINT: one wrk run; appends "WAY-ENDPOINT req/s errors
# haven-CPU-µs/req nginx-CPU-µs/req" to $WORK/rows.
rps() {
	local out r err n h0 h1 g0 g1 ng hp
	ng=$(nginx_pids | tr '\n' ' ')
	# The replicas this way reaches (PIDS holds them in order).
	case $1 in
	nginx-3) hp="${PIDS[0]} ${PIDS[1]} ${PIDS[2]}" ;;
	nolog) hp=${PIDS[3]} ;;
	*) hp=${PIDS[0]} ;;
	esac
	h0=$(cpu_ticks $hp) g0=$(cpu_ticks $ng)
	out=$(wrk -c"$CONNS" -t"$THREADS" -d"$DURATION" "${BASE[$1]}${PATHS[$2]}")
	h1=$(cpu_ticks $hp) g1=$(cpu_ticks $ng)
	r=$(awk '$1 == "Requests/sec:" {printf "%.0f", $2}' <<<"$out")
	n=$(awk '/requests in/ {print $1; exit}' <<<"$out")
	err=$(awk '/Socket errors/ {gsub(/,/, ""); e += $4 + $6 + $8 + $10} /Non-2xx or 3xx/ {e += $NF} END {print e + 0}' <<<"$out")
	us() { awk -v t="$1" -v n="$n" -v hz="$CLK_TCK" 'BEGIN {printf "%.0f", t / hz * 1e6 / n}'; }
	log "$1 $2: $r req/s, $err errors, CPU per request: haven $(us $((h1 - h0))) µs, nginx $(us $((g1 - g0))) µs"
	echo "$1-$2 $r $err $(us $((h1 - h0))) $(us $((g1 - g0)))" >>"$WORK/rows"
}

: >"$WORK/rows"
for round in $(seq 1 "$ROUNDS"); do
	log "round $round of $ROUNDS"
	for ep in info tree; do
		for way in direct nginx-1 nginx-3; do rps "$way" "$ep"; done
	done
	rps direct info
	rps nolog info
done

# med NAME [COLUMN]: median of NAME's runs (req/s, or another column);
# errs NAME: their errors.
med() { awk -v n="$1" -v c="${2:-2}" '$1 == n {print $c}' "$WORK/rows" | median | xargs printf '%.0f'; }
errs() { awk -v n="$1" '$1 == n {e += $3} END {print e + 0}' "$WORK/rows"; }

# The API requests a replica answered so far, from its /metrics.
served() {
	curl -fsS "$1/metrics" | awk '/^haven_http_requests_total\{/ && /route="api"/ {s += $NF} END {printf "%.0f", s}'
}

echo
echo "== replicas: repo info and tree, wrk -c$CONNS -t$THREADS -d$DURATION, median of $ROUNDS rounds; wrk, nginx and the replicas share the machine's cores"
echo "   $(machine_line)"
printf '%-6s %9s %9s %9s %9s %9s %7s  %s\n' endpoint direct nginx-1 nginx-3 n1/dir n3/dir errors "target n3/dir ≥ 0.90"
for ep in info tree; do
	d=$(med "direct-$ep") n1=$(med "nginx-1-$ep") n3=$(med "nginx-3-$ep")
	e=$(($(errs "direct-$ep") + $(errs "nginx-1-$ep") + $(errs "nginx-3-$ep")))
	printf '%-6s %9s %9s %9s %9s %9s %7s  %s\n' "$ep" "$d" "$n1" "$n3" "$(ratio "$n1" "$d")" "$(ratio "$n3" "$d")" "$e" \
		"$(verdict "$n3 >= 0.90 * $d && $e == 0")"
done
echo "CPU µs per request (haven replicas + nginx): the replicas' share is what bounds throughput when the balancer has cores of its own"
for ep in info tree; do
	printf '%-6s direct %s + 0, nginx-1 %s + %s, nginx-3 %s + %s; haven CPU direct/nginx-3 %s\n' "$ep" \
		"$(med "direct-$ep" 4)" "$(med "nginx-1-$ep" 4)" "$(med "nginx-1-$ep" 5)" "$(med "nginx-3-$ep" 4)" "$(med "nginx-3-$ep" 5)" \
		"$(ratio "$(med "direct-$ep" 4)" "$(med "nginx-3-$ep" 4)")"
done
on=$(med direct-info) off=$(med nolog-info)
printf 'logging: info %s req/s logged, %s with --log-requests=false: ratio %s  %s (target ≥ 0.97); CPU µs/req %s vs %s\n' \
	"$on" "$off" "$(ratio "$on" "$off")" "$(verdict "$on >= 0.97 * $off")" "$(med direct-info 4)" "$(med nolog-info 4)"
echo "api requests answered per replica (nginx-3 spreads over 1-3): $(served "${URL[0]}") $(served "${URL[1]}") $(served "${URL[2]}"); replica 4 (unlogged): $(served "${URL[3]}")"

# Read-cache hit rates over the whole run, summed over the three replicas
# behind nginx (haven_cache_lookups_total).
for i in 0 1 2; do curl -fsS "${URL[i]}/metrics"; done | awk '
	/^haven_cache_lookups_total\{/ {
		match($0, /cache="[^"]*"/); c = substr($0, RSTART + 7, RLENGTH - 8)
		if ($0 ~ /result="hit"/) h[c] += $NF; else m[c] += $NF
	}
	END {
		line = "cache hit rates (replicas 1-3):"
		for (c in h) if (h[c] + m[c] > 0) line = line sprintf(" %s %.1f%% of %d;", c, 100 * h[c] / (h[c] + m[c]), h[c] + m[c])
		print line
	}'
