#!/usr/bin/env bash
# Spaces: static files, the proxy in front of a running app, waking from
# sleep, redeploying with unchanged requirements, and memory with many Spaces.
#
# 1. Static Space: wrk on its index page and on a ~100 KB file through Haven
#    against nginx serving the same files from a folder; a 10 MB file with
#    curl, interleaved as in download.sh. Target: >= 0.9x nginx.
# 2. A running Gradio app (process runner): wrk -c1 and -c20 on GET /config
#    through Haven's proxy against the app's own port. Target: p50 added < 1 ms.
# 3. Wake from sleep (environment cached): sleep time 1 s, wait for SLEEPING,
#    then the time to the first byte of GET /config. Target < 5 s. Baselines:
#    the same app started by hand from the same environment, until /config
#    answers, and the app's own start in its run log (the startup banner to
#    "Running on local URL"). Then a push that only changes app.py (a
#    comment): time from the push to RUNNING. Target: < 3 s beyond the app's
#    own start in the same deploy's run log; the build log must say "Reusing
#    the cached environment".
# 4. Memory: 20 Gradio Spaces with the same requirements (one environment),
#    all asleep, then 5 of them awake. Haven's own VmRSS against the same
#    server just after its start; the apps' RSS (each app's processes
#    summed) reported separately. Target: Haven < 150 MB with 5 running; no
#    app process left while they sleep.
#
# Needs the Python test environment (.venv with huggingface_hub and uv:
# scripts/setup-test-deps.sh) and PyPI for the first build of Gradio.
#
#   bench/spaces.sh
#   REPS=5 DURATION=15s SPACES=20 WAKE=5 bench/spaces.sh
#   PROFILE=1 bench/spaces.sh    # CPU profiles of the server during the Haven wrk runs

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
REPS=${REPS:-3}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-200}
THREADS=${THREADS:-2}
SPACES=${SPACES:-20}
WAKE=${WAKE:-5}
GRADIO_VERSION=${GRADIO_VERSION:-6.31.0}
BUILD_TIMEOUT=${BUILD_TIMEOUT:-900}
PY=$REPO_ROOT/.venv/bin/python
[[ -x $PY ]] && "$PY" -c 'import huggingface_hub' 2>/dev/null || die "needs .venv with huggingface_hub (scripts/setup-test-deps.sh)"
# The process runner builds the apps' environments with uv, found on PATH.
[[ -x $REPO_ROOT/.venv/bin/uv ]] && export PATH=$REPO_ROOT/.venv/bin:$PATH
command -v uv >/dev/null 2>&1 || die "needs uv on PATH (scripts/setup-test-deps.sh, or pip install uv)"
need_tools
need_pkg wrk wrk
need_pkg nginx nginx-light
build_haven
setup_haven
start_haven
export HF_ENDPOINT=$HAVEN_URL HF_TOKEN=$TOKEN HF_HOME=$WORK/hf HF_HUB_DISABLE_TELEMETRY=1 HF_HUB_DISABLE_PROGRESS_BARS=1
# Plain LFS for the static Space's large file, as download.sh serves it.
export HF_HUB_DISABLE_XET=1

# hub COMMAND ARGS...: the Hugging Face client against Haven.
hub() {
	PYTHONWARNINGS=ignore "$PY" - "$@" <<'PY'
import sys
from huggingface_hub import HfApi, CommitOperationAdd
api = HfApi()
cmd, args = sys.argv[1], sys.argv[2:]
card = lambda v: f"---\ntitle: B\nsdk: gradio\nsdk_version: {v}\napp_file: app.py\n---\n".encode()
app = b'import gradio as gr\ndemo = gr.Interface(fn=lambda s: s, inputs="text", outputs="text")\ndemo.launch()\n'
if cmd == "static":  # static NAME FOLDER
    api.create_repo(f"bench/{args[0]}", repo_type="space", space_sdk="static")
    api.upload_folder(repo_id=f"bench/{args[0]}", repo_type="space", folder_path=args[1])
elif cmd == "gradio":  # gradio NAME VERSION SLEEP-SECONDS
    repo = f"bench/{args[0]}"
    api.create_repo(repo, repo_type="space", space_sdk="gradio", space_sleep_time=int(args[2]))
    api.create_commit(repo, repo_type="space", commit_message="app", operations=[
        CommitOperationAdd("README.md", card(args[1])), CommitOperationAdd("app.py", app)])
elif cmd == "touch":  # touch NAME N: app.py with a comment added
    api.upload_file(repo_id=f"bench/{args[0]}", repo_type="space", path_in_repo="app.py",
                    path_or_fileobj=app + f"# change {args[1]}\n".encode())
elif cmd == "sleeptime":  # sleeptime NAME SECONDS
    api.set_space_sleep_time(f"bench/{args[0]}", int(args[1]))
else:
    sys.exit("unknown command " + cmd)
PY
}

# stage NAME: the Space's runtime stage.
stage() {
	api GET "/api/spaces/bench/$1/runtime" | python3 -c 'import json,sys; print(json.load(sys.stdin)["stage"])'
}

# wait_stage NAME STAGE SECONDS: polls every 0.1 s; dies with the build log on a failure stage.
wait_stage() {
	local name=$1 want=$2 deadline=$((SECONDS + $3)) s
	while :; do
		s=$(stage "$name")
		[[ $s == "$want" ]] && return 0
		case $s in
		*ERROR | NO_APP_FILE)
			logtext "$name" build | tail -n 30 >&2
			logtext "$name" run | tail -n 30 >&2
			die "$name: $s"
			;;
		esac
		((SECONDS < deadline)) || die "$name: still $s after $3 s (waiting for $want)"
		sleep 0.1
	done
}

# logsse NAME build|run: the log's server-sent events so far ("data: {...}" lines).
logsse() {
	curl -sSN --max-time 2 -H "Authorization: Bearer $TOKEN" "$HAVEN_URL/api/spaces/bench/$1/logs/$2" 2>/dev/null || true
}
logtext() { logsse "$1" "$2" | sed -n 's/^data: //p' | "$PY" -c 'import json,sys; [print(json.loads(l)["data"], end="") for l in sys.stdin]'; }

# logspan NAME build|run FROM TO: seconds between the log line with FROM and
# the next with TO, from the log's timestamps ("nan" when missing).
logspan() {
	logsse "$1" "$2" | sed -n 's/^data: //p' | "$PY" -c '
import json, sys
from datetime import datetime
a, b = sys.argv[1], sys.argv[2]
t0 = t1 = None
for l in sys.stdin:
    e = json.loads(l)
    t = datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00"))
    if a in e["data"]: t0, t1 = t, None
    if b in e["data"] and t0 and not t1: t1 = t
print("%.2f" % (t1 - t0).total_seconds() if t0 and t1 else "nan")' "$3" "$4"
}

# app_pid NAME: the process Haven started for the Space (its process group leader).
app_pid() {
	local p
	for p in $(pgrep -P "$HAVEN_PID"); do
		tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "SPACE_ID=bench/$1" && { echo "$p"; return 0; }
	done
	return 1
}
# app_count: processes Haven started for apps (children running an app, and theirs).
app_count() {
	local n=0 p
	for p in $(pgrep -P "$HAVEN_PID"); do
		tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -q '^SPACE_ID=' && n=$((n + $(pgrep -g "$p" | wc -l)))
	done
	echo "$n"
}
# group_kb PGID FIELD: a field of /proc/PID/status (or smaps_rollup for Pss) summed over a process group, in kB.
group_kb() {
	local p total=0 v file=status
	[[ $2 == Pss ]] && file=smaps_rollup
	for p in $(pgrep -g "$1"); do
		v=$(awk -v f="$2:" '$1 == f {print $2}' "/proc/$p/$file" 2>/dev/null)
		total=$((total + ${v:-0}))
	done
	echo "$total"
}
status_kb() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
mb() { awk -v k="$1" 'BEGIN {printf "%.1f", k*1024/1e6}'; }

# to_ms VALUE-WITH-UNIT: wrk's 812.00us / 3.21ms / 1.02s / 2.00m in ms.
to_ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
		printf "%.3f", n }'
}

# wrk_row NAME URL CONNS THREADS: runs wrk for DURATION; appends
# "NAME p50 p99 req/s MB/s errors non2xx" to $WORK/rows.
wrk_row() {
	local name=$1 url=$2 c=$3 t=$4 out p50 p99 rps mbs err non2xx
	log "wrk -c$c -t$t -d$DURATION $name"
	local prof=""
	if [[ ${PROFILE:-0} == 1 && $name == haven-* ]]; then
		(sleep 1 && profile_cpu "${PROFILE_SECONDS:-5}" "spaces-$name") &
		prof=$!
	fi
	out=$(wrk -c"$c" -t"$t" -d"$DURATION" --latency "$url")
	[[ -z $prof ]] || wait "$prof"
	echo "$out" >"$WORK/wrk-$name.txt"
	p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
	p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
	rps=$(awk '$1 == "Requests/sec:" {printf "%.0f", $2}' <<<"$out")
	mbs=$(awk '$1 == "Transfer/sec:" {v = $2 + 0; u = $2; sub(/^[0-9.]+/, "", u)
		if (u == "KB") v /= 1024; else if (u == "GB") v *= 1024; else if (u == "B") v /= 1048576
		printf "%.0f", v * 1.048576}' <<<"$out")
	err=$(awk '/Socket errors/ {gsub(/,/, ""); print $4 + $6 + $8 + $10}' <<<"$out")
	non2xx=$(awk '/Non-2xx or 3xx responses/ {print $NF}' <<<"$out")
	echo "$name ${p50:-?} ${p99:-?} ${rps:-?} ${mbs:-?} ${err:-0} ${non2xx:-0}" >>"$WORK/rows"
}
row() { awk -v n="$1" -v f="$2" '$1 == n {print $f}' "$WORK/rows"; }

# ---------------------------------------------------------------- 1. static
log "1. static Space: index.html, a 100 KB script, a 10 MiB file"
S=$WORK/static
mkdir -p "$S"
"$PY" - "$S" <<'PY'
import random, sys
d = sys.argv[1]
random.seed(1)
words = ["const", "let", "function", "return", "value", "render", "state", "props", "=>", "{", "}", "(", ")", ";"]
with open(f"{d}/index.html", "w") as f:
    f.write("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Bench</title>"
            "<link rel=\"stylesheet\" href=\"style.css\"></head>\n<body>\n<div id=\"app\"></div>\n")
    for i in range(40):
        f.write(f"<p class=\"row\">Paragraph {i}: " + " ".join(random.choice(words) for _ in range(12)) + "</p>\n")
    f.write("<script src=\"app.js\"></script>\n</body></html>\n")
with open(f"{d}/app.js", "w") as f:
    n = 0
    while n < 100 * 1024:
        line = " ".join(random.choice(words) for _ in range(random.randint(4, 16))) + f" // {n}\n"
        f.write(line)
        n += len(line)
PY
make_file "$S/big.bin" 10
hub static site "$S"
SITE=$HAVEN_URL/-/spaces/bench/site
for f in index.html app.js big.bin; do
	cmp -s "$S/$f" <(curl -fsS "$SITE/$f") || die "$SITE/$f does not serve the uploaded bytes"
done
cmp -s "$S/index.html" <(curl -fsS "$SITE/") || die "$SITE/ does not serve index.html"
start_nginx "$S"
curl -fsS -o /dev/null "$NGINX_URL/app.js"

: >"$WORK/rows"
wrk_row haven-index "$SITE/" "$CONNS" "$THREADS"
wrk_row nginx-index "$NGINX_URL/" "$CONNS" "$THREADS"
wrk_row haven-js "$SITE/app.js" "$CONNS" "$THREADS"
wrk_row nginx-js "$NGINX_URL/app.js" "$CONNS" "$THREADS"

# The 10 MiB file with curl, interleaved as in download.sh.
BIG_BYTES=$(stat -c %s "$S/big.bin")
BIGREPS=$((REPS * 5))
speed() {
	local out code size sp
	out=$(curl -sS -o /dev/null -w '%{http_code} %{size_download} %{speed_download}' "$1")
	read -r code size sp <<<"$out"
	[[ $code == 200 && $size == "$BIG_BYTES" ]] || die "GET $1: HTTP $code, $size of $BIG_BYTES bytes"
	echo "$sp"
}
log "10 MiB file with curl, $BIGREPS runs each"
speed "$SITE/big.bin" >/dev/null
speed "$NGINX_URL/big.bin" >/dev/null
: >"$WORK/big.haven"
: >"$WORK/big.nginx"
for i in $(seq 1 "$BIGREPS"); do
	speed "$SITE/big.bin" >>"$WORK/big.haven"
	speed "$NGINX_URL/big.bin" >>"$WORK/big.nginx"
done
BIG_H=$(median <"$WORK/big.haven")
BIG_N=$(median <"$WORK/big.nginx")
BIG_RP=$(printf '%.2f' "$(median_ratio "$WORK/big.haven" "$WORK/big.nginx")")
stop_nginx
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- 2. proxy
log "2. a Gradio Space (gradio $GRADIO_VERSION; the first build installs it from PyPI)"
T0=$SECONDS
hub gradio g0 "$GRADIO_VERSION" 3600
wait_stage g0 RUNNING "$BUILD_TIMEOUT"
FIRST_BUILD=$((SECONDS - T0))
log "g0 running after $FIRST_BUILD s"
APP_PORT=$(logtext g0 run | grep -o 'Running on local URL: *http://127.0.0.1:[0-9]*' | tail -n1 | grep -o '[0-9]*$') ||
	die "no app port in the run log"
APP=$HAVEN_URL/-/spaces/bench/g0
DIRECT=http://127.0.0.1:$APP_PORT
curl -fsS -o /dev/null "$DIRECT/config" || die "the app does not answer /config on its port $APP_PORT"
curl -fsS -o "$WORK/config.json" "$APP/config" || die "no /config through Haven"
CONFIG_BYTES=$(stat -c %s "$WORK/config.json")
# Connections from Haven to the app that Haven closed (TIME_WAIT on its side,
# 60 s): how many upstream connections the proxy opened during a run.
time_wait() {
	awk -v p=":$(printf '%04X' "$APP_PORT")" '$3 ~ p"$" && $4 == "06" {n++} END {print n + 0}' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
tw0=$(time_wait)
wrk_row haven-c1 "$APP/config" 1 1
TW_C1=$(($(time_wait) - tw0))
wrk_row direct-c1 "$DIRECT/config" 1 1
tw0=$(time_wait)
wrk_row haven-c20 "$APP/config" 20 2
TW_C20=$(($(time_wait) - tw0))
wrk_row direct-c20 "$DIRECT/config" 20 2
LOAD2=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- 3. wake, redeploy
log "3. the app started by hand from its environment (baseline), $REPS times"
G0_PID=$(app_pid g0) || die "no process for g0"
VENV=$(tr '\0' '\n' <"/proc/$G0_PID/environ" | sed -n 's/^VIRTUAL_ENV=//p')
[[ -x $VENV/bin/python ]] || die "no environment found for g0 ($VENV)"
mkdir -p "$WORK/byhand"
logtext g0 run >/dev/null
printf 'import gradio as gr\ndemo = gr.Interface(fn=lambda s: s, inputs="text", outputs="text")\ndemo.launch()\n' >"$WORK/byhand/app.py"
: >"$WORK/byhand.times"
for i in $(seq 1 "$REPS"); do
	port=$(free_port)
	rm -rf "$WORK/byhand/home"
	mkdir -p "$WORK/byhand/home"
	t0=$(date +%s.%N)
	(cd "$WORK/byhand" && exec env -i HOME="$WORK/byhand/home" PATH="$VENV/bin:/usr/bin:/bin" VIRTUAL_ENV="$VENV" LANG=C.UTF-8 \
		GRADIO_SERVER_NAME=127.0.0.1 GRADIO_SERVER_PORT="$port" GRADIO_ANALYTICS_ENABLED=False GRADIO_SSR_MODE=False \
		PYTHONUNBUFFERED=1 HF_HUB_DISABLE_TELEMETRY=1 "$VENV/bin/python" app.py >"$WORK/byhand/out.$i" 2>&1) &
	bp=$!
	PIDS+=("$bp")
	until curl -fsS -o /dev/null "http://127.0.0.1:$port/config" 2>/dev/null; do
		kill -0 "$bp" 2>/dev/null || { cat "$WORK/byhand/out.$i" >&2; die "the app started by hand exited"; }
		sleep 0.05
	done
	t1=$(date +%s.%N)
	kill "$bp"
	wait "$bp" 2>/dev/null || true
	awk -v a="$t0" -v b="$t1" 'BEGIN {print b-a}' >>"$WORK/byhand.times"
	log "by hand $i/$REPS: $(tail -n1 "$WORK/byhand.times") s"
done
BYHAND=$(median <"$WORK/byhand.times")

log "wake from sleep, $REPS times (sleep time 1 s)"
hub sleeptime g0 1
: >"$WORK/wake.times"
: >"$WORK/wake.logstart"
for i in $(seq 1 "$REPS"); do
	wait_stage g0 SLEEPING 60
	left=$(app_count)
	((left == 0)) || die "g0 sleeps but $left app processes remain"
	out=$(curl -sS -o /dev/null -w '%{http_code} %{time_starttransfer}' "$APP/config")
	read -r code ttfb <<<"$out"
	[[ $code == 200 ]] || die "waking GET /config answered $code"
	echo "$ttfb" >>"$WORK/wake.times"
	# The app's own start in the run log: the startup banner to "Running on local URL".
	logspan g0 run "Application Startup" "Running on local URL" >>"$WORK/wake.logstart"
	log "wake $i/$REPS: first byte after $ttfb s (the run log: app up $(tail -n1 "$WORK/wake.logstart") s after its start)"
done
WAKE_T=$(median <"$WORK/wake.times")
WAKE_LOG=$(grep -v nan "$WORK/wake.logstart" | median || echo '?')

log "redeploy after a change to app.py, $REPS times"
hub sleeptime g0 3600
curl -fsS -o /dev/null "$APP/config"
wait_stage g0 RUNNING 60
: >"$WORK/push.times"
: >"$WORK/push.build"
: >"$WORK/push.start"
REUSED=0
for i in $(seq 1 "$REPS"); do
	hub touch g0 "$i"
	t0=$(date +%s.%N)
	wait_stage g0 RUNNING 300
	t1=$(date +%s.%N)
	! api GET /api/spaces/bench/g0/runtime | grep -q errorMessage || die "push $i was not deployed: $(api GET /api/spaces/bench/g0/runtime)"
	awk -v a="$t0" -v b="$t1" 'BEGIN {print b-a}' >>"$WORK/push.times"
	curl -fsS -o /dev/null "$APP/config" || die "the redeployed app does not answer"
	logtext g0 build >"$WORK/build.$i.log"
	logspan g0 build "Build Queued" "Build done" >>"$WORK/push.build"
	logspan g0 run "Application Startup" "Running on local URL" >>"$WORK/push.start"
	grep -q "Reusing the cached environment" "$WORK/build.$i.log" && REUSED=$((REUSED + 1))
	log "push $i/$REPS: RUNNING $(tail -n1 "$WORK/push.times") s after the push"
done
PUSH_T=$(median <"$WORK/push.times")
PUSH_BUILD=$(grep -v nan "$WORK/push.build" | median || echo '?')
PUSH_START=$(grep -v nan "$WORK/push.start" | median || echo '?')
# Each push against the app's own start in the same deploy (run-log timestamps):
# what Haven adds (queue, checkout, environment check, readiness polling).
PUSH_OVER=$(paste "$WORK/push.times" "$WORK/push.start" | awk '$2 != "nan" {printf "%.2f\n", $1 - $2}' | median || echo 99)
WAKE_OVER=$(paste "$WORK/wake.times" "$WORK/wake.logstart" | awk '$2 != "nan" {printf "%.2f\n", $1 - $2}' | median || echo '?')
LOAD3=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- 4. memory
log "4. memory: $SPACES Gradio Spaces asleep, then $WAKE awake"
hub sleeptime g0 1
wait_stage g0 SLEEPING 60
# A fresh server for this part: its RSS right after start is the baseline.
stop_haven
start_haven
export HF_ENDPOINT=$HAVEN_URL
sleep 2
H_FRESH=$(status_kb "$HAVEN_PID" VmRSS)
H_FRESH_ANON=$(status_kb "$HAVEN_PID" RssAnon)
for i in $(seq 1 "$SPACES"); do
	hub gradio "m$i" "$GRADIO_VERSION" 1
done
for i in $(seq 1 "$SPACES"); do
	wait_stage "m$i" SLEEPING "$BUILD_TIMEOUT"
done
NENVS=$(find "$DATA" -maxdepth 6 -name pyvenv.cfg 2>/dev/null | wc -l)
sleep 3
ASLEEP_PROCS=$(app_count)
H_SLEEP=$(status_kb "$HAVEN_PID" VmRSS)
H_SLEEP_ANON=$(status_kb "$HAVEN_PID" RssAnon)
REUSED_M=0
for i in $(seq 1 "$SPACES"); do
	logtext "m$i" build >"$WORK/build.m$i.log"
	grep -q "Reusing the cached environment" "$WORK/build.m$i.log" && REUSED_M=$((REUSED_M + 1))
done

for i in $(seq 1 "$WAKE"); do
	hub sleeptime "m$i" 3600
done
WAKERS=()
for i in $(seq 1 "$WAKE"); do
	curl -fsS -o /dev/null "$HAVEN_URL/-/spaces/bench/m$i/config" &
	WAKERS+=("$!")
done
for p in "${WAKERS[@]}"; do wait "$p" || die "a woken app did not answer"; done
for i in $(seq 1 "$WAKE"); do
	wait_stage "m$i" RUNNING 300
done
# Some traffic through each, then the readings.
for i in $(seq 1 "$WAKE"); do
	wrk -c4 -t1 -d2s "$HAVEN_URL/-/spaces/bench/m$i/config" >/dev/null
done
sleep 1
H_RUN=$(status_kb "$HAVEN_PID" VmRSS)
H_RUN_ANON=$(status_kb "$HAVEN_PID" RssAnon)
H_HWM=$(status_kb "$HAVEN_PID" VmHWM)
RUN_PROCS=$(app_count)
: >"$WORK/apps"
for i in $(seq 1 "$WAKE"); do
	p=$(app_pid "m$i") || die "no process for m$i"
	echo "m$i $(pgrep -g "$p" | wc -l) $(group_kb "$p" VmRSS) $(group_kb "$p" Pss)" >>"$WORK/apps"
done
APPS_RSS=$(awk '{s += $3} END {print s}' "$WORK/apps")
APPS_PSS=$(awk '{s += $4} END {print s}' "$WORK/apps")
LOAD4=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- results
ms2() { awk -v v="$1" 'BEGIN {printf "%.2f", v}'; }
echo
echo "== spaces: static files, proxy, wake, redeploy, memory (process runner, gradio $GRADIO_VERSION)"
echo "   $(machine_line)"
echo
echo "-- static Space vs nginx (same files): wrk -c$CONNS -t$THREADS -d$DURATION; 10 MiB file: curl, median of $BIGREPS interleaved (load avg $LOAD1)"
printf '%-22s %9s %9s %9s %9s %8s %8s  %s\n' file "p50 ms" "p99 ms" "req/s" "MB/s" "sockerr" "non-2xx" "target >= 0.9x nginx req/s"
for f in index js; do
	for s in haven nginx; do
		v=""
		if [[ $s == haven ]]; then
			r=$(ratio "$(row haven-$f 4)" "$(row nginx-$f 4)")
			v="${r}x  $(verdict "$r >= 0.9 && $(row haven-$f 6) == 0 && $(row haven-$f 7) == 0")"
		fi
		label="$s $([[ $f == index ]] && echo "/ ($(stat -c %s "$S/index.html") B)" || echo "app.js ($(($(stat -c %s "$S/app.js") / 1024)) KiB)")"
		printf '%-22s %9s %9s %9s %9s %8s %8s  %s\n' "$label" "$(row $s-$f 2)" "$(row $s-$f 3)" "$(row $s-$f 4)" "$(row $s-$f 5)" "$(row $s-$f 6)" "$(row $s-$f 7)" "$v"
	done
done
printf '%-22s %9s MB/s (%s-%s)\n' "haven big.bin 10 MiB" "$(mbps "$BIG_H" 1)" "$(mbps "$(sort -g "$WORK/big.haven" | head -n1)" 1)" "$(mbps "$(sort -g "$WORK/big.haven" | tail -n1)" 1)"
printf '%-22s %9s MB/s (%s-%s)\n' "nginx big.bin 10 MiB" "$(mbps "$BIG_N" 1)" "$(mbps "$(sort -g "$WORK/big.nginx" | head -n1)" 1)" "$(mbps "$(sort -g "$WORK/big.nginx" | tail -n1)" 1)"
printf '%-22s %9s  target >= 0.90   %s\n' "median paired ratio" "$BIG_RP" "$(verdict "$BIG_RP >= 0.9")"
echo
echo "-- proxy: GET /config ($CONFIG_BYTES B) of a running Gradio app, wrk -d$DURATION, through Haven vs the app's port (load avg $LOAD2)"
printf '%-22s %9s %9s %9s %8s %8s %9s  %s\n' route "p50 ms" "p99 ms" "req/s" "sockerr" "non-2xx" "upstream" "target p50 added < 1 ms"
for c in c1 c20; do
	for s in haven direct; do
		v=""
		up=""
		if [[ $s == haven ]]; then
			up=$([[ $c == c1 ]] && echo "$TW_C1" || echo "$TW_C20")
			d=$(awk -v a="$(row haven-$c 2)" -v b="$(row direct-$c 2)" 'BEGIN {printf "%.3f", a-b}')
			v="+${d} ms  $(verdict "$d < 1 && $(row haven-$c 6) == 0 && $(row haven-$c 7) == 0")"
		fi
		printf '%-22s %9s %9s %9s %8s %8s %9s  %s\n' "$s -$c" "$(row $s-$c 2)" "$(row $s-$c 3)" "$(row $s-$c 4)" "$(row $s-$c 6)" "$(row $s-$c 7)" "$up" "$v"
	done
done
echo "(upstream: connections to the app that Haven opened and closed during the run, counted in TIME_WAIT)"
echo
echo "-- wake and redeploy, medians of $REPS (first build of the environment: $FIRST_BUILD s; load avg $LOAD3)"
printf '%-44s %8s s  (%s)\n' "app started by hand, until /config answers" "$(ms2 "$BYHAND")" "$(paste -sd' ' "$WORK/byhand.times" | awk '{for (i = 1; i <= NF; i++) printf "%s%.2f", (i > 1 ? " " : ""), $i}')"
printf '%-44s %8s s\n' "app's own start in the run log (on wake)" "$WAKE_LOG"
printf '%-44s %8s s  (%s)  target < 5 s   %s\n' "wake: first byte of GET /config" "$(ms2 "$WAKE_T")" \
	"$(paste -sd' ' "$WORK/wake.times" | awk '{for (i = 1; i <= NF; i++) printf "%s%.2f", (i > 1 ? " " : ""), $i}')" "$(verdict "$WAKE_T < 5")"
printf '%-44s %8s s  (each wake less its own start in the run log)\n' "  beyond the app's own start" "$(ms2 "$WAKE_OVER")"
printf '%-44s %8s s  (%s)  %+.2f s over by hand\n' "push app.py change to RUNNING" "$(ms2 "$PUSH_T")" \
	"$(paste -sd' ' "$WORK/push.times" | awk '{for (i = 1; i <= NF; i++) printf "%s%.2f", (i > 1 ? " " : ""), $i}')" "$(awk -v a="$PUSH_T" -v b="$BYHAND" 'BEGIN {print a-b}')"
printf '%-44s %8s s  (each push less its own start in the run log)  target < 3 s   %s\n' "  beyond the app's own start" "$(ms2 "$PUSH_OVER")" "$(verdict "$PUSH_OVER < 3")"
printf '%-44s %s\n' "  of it, in the logs" "build queued to done $PUSH_BUILD s; app up $PUSH_START s after its start (run log)"
printf '%-44s %8s    target all   %s\n' "build log \"Reusing the cached environment\"" "$REUSED/$REPS" "$(verdict "$REUSED == $REPS")"
echo
echo "-- memory: $SPACES Gradio Spaces (same requirements; $NENVS environment(s) built, $REUSED_M of $SPACES builds reused one), load avg $LOAD4"
printf '%-44s %8s MB  (anon %s MB)\n' "haven VmRSS after start (baseline)" "$(mb "$H_FRESH")" "$(mb "$H_FRESH_ANON")"
printf '%-44s %8s MB  (anon %s MB); app processes left: %s   %s\n' "haven VmRSS, $SPACES Spaces asleep" "$(mb "$H_SLEEP")" "$(mb "$H_SLEEP_ANON")" \
	"$ASLEEP_PROCS" "$(verdict "$ASLEEP_PROCS == 0")"
printf '%-44s %8s MB  (anon %s MB; peak VmHWM %s MB)  target < 150 MB   %s\n' "haven VmRSS, $WAKE awake" "$(mb "$H_RUN")" "$(mb "$H_RUN_ANON")" \
	"$(mb "$H_HWM")" "$(verdict "$H_RUN * 1024 < 150e6")"
while read -r n np rss pss; do
	printf '%-44s %8s MB  (%s processes, PSS %s MB)\n' "  app $n" "$(mb "$rss")" "$np" "$(mb "$pss")"
done <"$WORK/apps"
printf '%-44s %8s MB  (PSS %s MB; %s app processes)\n' "  apps, all $WAKE" "$(mb "$APPS_RSS")" "$(mb "$APPS_PSS")" "$RUN_PROCS"
