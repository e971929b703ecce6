# Shared helpers for the Haven benchmarks. Sourced by the bench/*.sh scripts.
#
# Everything a script creates lives under $WORK (a temporary directory removed
# on exit) and every server a script starts is stopped on exit.

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)

# Tunable (environment): size of the large file in MiB. Scripts set their own REPS.
SIZE_MB=${SIZE_MB:-1024}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/haven-bench.XXXXXX")
PIDS=()

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if [[ -f $WORK/nginx/nginx.pid ]]; then
		kill "$(cat "$WORK/nginx/nginx.pid")" 2>/dev/null || true
	fi
	rm -rf "$WORK" "${PPROF_SRC:-}"
	# The services go last, once nothing uses them.
	if [[ -n ${HAVEN_TEST_S3_PID:-} ]]; then
		kill "$HAVEN_TEST_S3_PID" 2>/dev/null || true
		while kill -0 "$HAVEN_TEST_S3_PID" 2>/dev/null; do sleep 0.1; done
		rm -rf "${HAVEN_TEST_S3_DIR:?}"
	fi
	if [[ -n ${HAVEN_TEST_POSTGRES_DIR:-} ]]; then
		"$REPO_ROOT/scripts/stop-postgres.sh" "$HAVEN_TEST_POSTGRES_DIR" >/dev/null 2>&1 || true
	fi
}
trap cleanup EXIT

# start_postgres and start_s3 start the tests' throwaway PostgreSQL and S3
# servers (scripts/start-*.sh, which set HAVEN_TEST_*); cleanup stops them.
start_postgres() {
	log "starting PostgreSQL"
	eval "$("$REPO_ROOT/scripts/start-postgres.sh")"
}
start_s3() {
	log "starting S3"
	eval "$("$REPO_ROOT/scripts/start-s3.sh")"
}
trap 'exit 130' INT TERM

log() { printf '>> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# need_pkg CMD PACKAGE: installs a Debian package when CMD is missing.
need_pkg() {
	command -v "$1" >/dev/null 2>&1 && return 0
	log "installing $2 (apt-get)"
	local sudo=""
	[[ $(id -u) -eq 0 ]] || sudo=sudo
	$sudo apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$2" >/dev/null
	command -v "$1" >/dev/null 2>&1 || die "$1 still missing after installing $2"
}

need_tools() {
	need_pkg curl curl
	need_pkg python3 python3
	need_pkg git git
}

# free_port prints a TCP port nobody listens on.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_http URL: waits up to 20 s for URL to answer.
wait_http() {
	local i
	for i in $(seq 1 200); do
		curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	die "$1 did not come up"
}

# build_haven: builds the server into $WORK/haven from the working tree, or
# from the committed revision $HAVEN_REV; $HAVEN_BIN names a ready binary.
# With PROFILE=1 the binary is cmd/haven plus net/http/pprof on a separate
# listener ($HAVEN_PPROF_ADDR), built from a copy under bench/_pprof.*
# (a leading "_" keeps it out of ./...) that is removed right away.
build_haven() {
	if [[ -n ${HAVEN_BIN:-} ]]; then
		HAVEN=$HAVEN_BIN
		export HAVEN_LABEL=${HAVEN_LABEL:-$HAVEN_BIN}
		return
	fi
	HAVEN=$WORK/haven
	local src=$REPO_ROOT rev
	if [[ -n ${HAVEN_REV:-} ]]; then
		# A committed revision instead of the working tree.
		rev=$(git -C "$REPO_ROOT" rev-parse --verify "$HAVEN_REV^{commit}") || die "no revision $HAVEN_REV"
		HAVEN_LABEL=${rev:0:7}
		src=$WORK/src
		mkdir -p "$src"
		git -C "$REPO_ROOT" archive "$rev" | tar -x -C "$src"
	else
		HAVEN_LABEL="$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')+worktree"
	fi
	export HAVEN_LABEL
	if [[ ${PROFILE:-0} != 1 ]]; then
		log "building haven${HAVEN_REV:+ at $HAVEN_REV}"
		(cd "$src" && go build -o "$HAVEN" ./cmd/haven)
		return
	fi
	log "building haven${HAVEN_REV:+ at $HAVEN_REV} with pprof"
	PPROF_SRC=$src/bench/_pprof.$$
	mkdir -p "$PPROF_SRC"
	find "$src/cmd/haven" -maxdepth 1 -name '*.go' ! -name '*_test.go' -exec cp {} "$PPROF_SRC/" \;
	cat >"$PPROF_SRC/zz_pprof.go" <<'EOF'
package main

import (
	"net/http"
	_ "net/http/pprof"
	"os"
)

func init() {
	if addr := os.Getenv("HAVEN_PPROF_ADDR"); addr != "" {
		go http.ListenAndServe(addr, nil)
	}
}
EOF
	(cd "$src" && go build -o "$HAVEN" "./bench/_pprof.$$") || { rm -rf "$PPROF_SRC"; die "pprof build failed"; }
	rm -rf "$PPROF_SRC"
}

# profile_cpu SECONDS NAME: while load runs, saves a CPU profile of the server
# to $PROFILE_DIR/NAME.pprof and prints its top functions (PROFILE=1 only).
profile_cpu() {
	[[ ${PROFILE:-0} == 1 ]] || return 0
	mkdir -p "$PROFILE_DIR"
	curl -fsS -o "$PROFILE_DIR/$2.pprof" "http://$HAVEN_PPROF_ADDR/debug/pprof/profile?seconds=$1" || return 0
	cp "$HAVEN" "$PROFILE_DIR/haven.bin"
	log "CPU profile of $2 saved to $PROFILE_DIR/$2.pprof (binary: haven.bin)"
	go tool pprof -top -cum -nodecount=40 "$PROFILE_DIR/haven.bin" "$PROFILE_DIR/$2.pprof" >&2 2>/dev/null || true
}

# setup_haven: a fresh data folder with user "bench" and a write token
# ($TOKEN). Sets DATA.
setup_haven() {
	DATA=$WORK/data
	mkdir -p "$DATA"
	"$HAVEN" user create bench --data "$DATA" >/dev/null 2>&1
	TOKEN=$("$HAVEN" token create bench --role write --data "$DATA" 2>/dev/null | tail -n1)
	[[ $TOKEN == hf_* ]] || die "no token: $TOKEN"
}

# start_haven [FLAGS...]: starts the server on a free port, with FLAGS added
# to `haven serve`. Sets HAVEN_PORT, HAVEN_URL, HAVEN_PID.
start_haven() {
	HAVEN_PORT=$(free_port)
	HAVEN_URL=http://127.0.0.1:$HAVEN_PORT
	if [[ ${PROFILE:-0} == 1 ]]; then
		HAVEN_PPROF_ADDR=127.0.0.1:$(free_port)
		PROFILE_DIR=${PROFILE_DIR:-${TMPDIR:-/tmp}/haven-bench-profiles}
		export HAVEN_PPROF_ADDR
	fi
	"$HAVEN" serve --addr "127.0.0.1:$HAVEN_PORT" --data "$DATA" --public-url "$HAVEN_URL" "$@" \
		>>"$WORK/haven.log" 2>&1 &
	HAVEN_PID=$!
	PIDS+=("$HAVEN_PID")
	wait_http "$HAVEN_URL/api/health"
}

stop_haven() {
	kill "$HAVEN_PID" 2>/dev/null || true
	wait "$HAVEN_PID" 2>/dev/null || true
}

# api METHOD PATH [curl args...]: authenticated call, fails on HTTP errors.
api() {
	local method=$1 path=$2
	shift 2
	curl -fsS -X "$method" -H "Authorization: Bearer $TOKEN" "$@" "$HAVEN_URL$path"
}

create_repo() {
	api POST /api/repos/create -H 'Content-Type: application/json' -d "{\"name\":\"$1\"}" >/dev/null
}

# make_file PATH MIB: a file of random bytes (fast: openssl keystream when present).
make_file() {
	local path=$1 mib=$2
	if command -v openssl >/dev/null 2>&1; then
		head -c $((mib << 20)) /dev/zero |
			openssl enc -aes-128-ctr -nosalt -pass pass:haven-bench -pbkdf2 2>/dev/null >"$path"
	else
		head -c $((mib << 20)) /dev/urandom >"$path"
	fi
	[[ $(stat -c %s "$path") -eq $((mib << 20)) ]] || die "could not make $path"
}

# lfs_upload_href REPO OID SIZE: the signed PUT URL for an object, or empty
# when the server already holds it.
lfs_upload_href() {
	api POST "/bench/$1.git/info/lfs/objects/batch" \
		-H 'Content-Type: application/vnd.git-lfs+json' -H 'Accept: application/vnd.git-lfs+json' \
		-d "{\"operation\":\"upload\",\"transfers\":[\"basic\"],\"objects\":[{\"oid\":\"$2\",\"size\":$3}]}" |
		python3 -c '
import json, sys
o = json.load(sys.stdin)["objects"][0]
if "error" in o: sys.exit("batch error: %s" % o["error"])
print(o.get("actions", {}).get("upload", {}).get("href", ""))'
}

# lfs_put FILE HREF: PUTs the bytes; prints "seconds http_code".
lfs_put() {
	curl -sS -o "$WORK/put.out" -w '%{time_total} %{http_code}\n' -T "$1" \
		-H 'Content-Type: application/octet-stream' "$2"
}

# upload_lfs REPO FILE PATH-IN-REPO: stores FILE as an LFS object and commits it.
upload_lfs() {
	local repo=$1 file=$2 dest=$3 oid size href
	oid=$(sha256sum "$file" | cut -d' ' -f1)
	size=$(stat -c %s "$file")
	href=$(lfs_upload_href "$repo" "$oid" "$size")
	if [[ -n $href ]]; then
		read -r _ code < <(lfs_put "$file" "$href")
		[[ $code == 200 ]] || die "PUT answered $code: $(cat "$WORK/put.out")"
	fi
	commit "$repo" \
		"{\"key\":\"lfsFile\",\"value\":{\"path\":\"$dest\",\"algo\":\"sha256\",\"oid\":\"$oid\",\"size\":$size}}"
	LFS_OID=$oid
}

# commit REPO LINE...: one commit on main from NDJSON value lines.
commit() {
	local repo=$1
	shift
	{
		printf '{"key":"header","value":{"summary":"bench"}}\n'
		printf '%s\n' "$@"
	} >"$WORK/commit.ndjson"
	api POST "/api/models/bench/$repo/commit/main" -H 'Content-Type: application/x-ndjson' \
		--data-binary @"$WORK/commit.ndjson" >/dev/null
}

# blob_path OID: where the filesystem blob store keeps an LFS object.
blob_path() { echo "$DATA/blobs/lfs/${1:0:2}/${1:2:2}/$1"; }

# start_nginx ROOT [EXTRA-SERVER-DIRECTIVES [EXTRA-HTTP-DIRECTIVES]]: a
# throwaway nginx serving ROOT on a free port, one worker per core, logging
# off. Sets NGINX_PORT, NGINX_URL.
start_nginx() {
	need_pkg nginx nginx-light
	local root=$1 extra=${2:-} http_extra=${3:-} d=$WORK/nginx
	mkdir -p "$d/tmp"
	NGINX_PORT=$(free_port)
	NGINX_URL=http://127.0.0.1:$NGINX_PORT
	# As root, nginx workers would switch to "nobody", who cannot read $WORK.
	local user=""
	[[ $(id -u) -ne 0 ]] || user="user root root;"
	cat >"$d/nginx.conf" <<EOF
$user
worker_processes ${NGINX_WORKERS:-auto};
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	keepalive_requests 100000;
	default_type application/octet-stream;
	client_body_temp_path $d/tmp/body;
	proxy_temp_path $d/tmp/proxy;
	fastcgi_temp_path $d/tmp/fastcgi;
	uwsgi_temp_path $d/tmp/uwsgi;
	scgi_temp_path $d/tmp/scgi;
	$http_extra
	server {
		listen 127.0.0.1:$NGINX_PORT;
		root $root;
		$extra
	}
}
EOF
	nginx -c "$d/nginx.conf" -p "$d" -g 'daemon on;' 2>>"$d/error.log" || {
		cat "$d/error.log" >&2
		die "nginx did not start"
	}
	local i
	for i in $(seq 1 50); do
		[[ -s $d/nginx.pid ]] && break
		sleep 0.1
	done
	NGINX_PID=$(cat "$d/nginx.pid")
}

stop_nginx() {
	[[ -f $WORK/nginx/nginx.pid ]] || return 0
	local pid
	pid=$(cat "$WORK/nginx/nginx.pid")
	kill -QUIT "$pid" 2>/dev/null || true
	while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
	rm -f "$WORK/nginx/nginx.pid"
}

# nginx_pids: master and workers.
nginx_pids() {
	local master
	master=$(cat "$WORK/nginx/nginx.pid")
	echo "$master"
	pgrep -P "$master" || true
}

# median: median of the numbers on stdin.
median() {
	sort -g | awk '{a[NR]=$1} END {if (NR==0) exit 1; if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}

# mbps BYTES SECONDS: MB/s (10^6 bytes).
mbps() { awk -v b="$1" -v s="$2" 'BEGIN {printf "%.0f", b/s/1e6}'; }

# ratio A B: A/B with two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }

# verdict OK-EXPRESSION: PASS or FAIL from an awk condition.
verdict() { awk "BEGIN {exit !($1)}" && echo PASS || echo FAIL; }

machine_line() {
	printf '%s, %s cores, %s, load avg %s, haven %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(nproc)" \
		"$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)" "$(cut -d' ' -f1-3 /proc/loadavg)" "${HAVEN_LABEL:-?}"
}

# cpu_ticks PIDS...: user+system CPU time used so far by the processes, in clock ticks.
cpu_ticks() {
	local pid total=0 v
	for pid in "$@"; do
		# Fields after the ")" that ends the command name: utime is the 12th, stime the 13th.
		v=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $12 + $13}')
		total=$((total + ${v:-0}))
	done
	echo "$total"
}
CLK_TCK=$(getconf CLK_TCK)

# median_ratio FILE-A FILE-B: median of the line-by-line ratios A/B.
median_ratio() { paste "$1" "$2" | awk '{print $1/$2}' | median; }
