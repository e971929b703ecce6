#!/usr/bin/env bash
# Jobs: start latency, log lag, a queue of 100 jobs on 2 slots, and the
# throughput of a fine-tune, each against a baseline in the same run. Haven
# runs with --jobs-concurrency 2 and --runner-envs (shared Python
# environments), pinned to two cores with the baselines.
#
# 1. Submit -> first output line: POST /api/jobs/bench a python:3.12 job
#    `python -c "print('hi')"` (environment cached: a warm-up job first), then
#    follow its logs (SSE) until the line "hi"; median and p90 of RUNS (10).
#    Baseline: the same command started directly with the same environment's
#    python, until its first line. Target: < 2 s.
# 2. Log lag: a job printing time.time() every 50 ms for 3 s; each line's
#    receive time on the SSE stream less the printed time: median, p95, max.
#    Baseline: the same program's stdout read through a local pipe.
#    Target: median < 200 ms.
# 3. Queue: 100 `ubuntu` jobs `sh -c 'echo $JOB_ID'` submitted at once: wall
#    time until all have ended; all COMPLETED, none lost, none run twice (one
#    "===== Job started" line and the job's own id in each log), never more
#    than 2 RUNNING in the listing (sampled every ~20 ms). Baseline: the same
#    100 commands with `xargs -P 2`.
# 4. Fine-tune: POST /api/finetune, text classification of the tiny BERT on
#    the sentiment set of e2e/pyshared/tiny_models.py (max_steps FT_STEPS,
#    one eval and checkpoint at the end); the job's last samples_per_second.
#    Baseline: the same train.py and config.json (output_repo changed) run
#    directly with the job's own environment against the same Haven, right
#    after each job; FT_REPS pairs. Target: median ratio >= 0.9x.
#
# Needs uv (.venv/bin, or on PATH) and the uv cache of the end-to-end tests
# (UV_CACHE_DIR, default /tmp/haven-e2e-uv-cache); the first build of the
# training environment (torch, transformers, ...) into RUNNER_ENVS takes
# about a minute from a warm cache and is kept for later runs.
#
#   bench/jobs.sh
#   RUNS=20 FT_STEPS=2000 FT_REPS=3 bench/jobs.sh

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
RUNS=${RUNS:-10}
LAG_SECONDS=${LAG_SECONDS:-3}
QUEUE=${QUEUE:-100}
FT_STEPS=${FT_STEPS:-1000}
FT_REPS=${FT_REPS:-3}
RUNNER_ENVS=${RUNNER_ENVS:-/tmp/haven-e2e-envs}
export UV_CACHE_DIR=${UV_CACHE_DIR:-/tmp/haven-e2e-uv-cache}
[[ -x $REPO_ROOT/.venv/bin/uv ]] && export PATH=$REPO_ROOT/.venv/bin:$PATH
command -v uv >/dev/null 2>&1 || die "needs uv on PATH (scripts/setup-test-deps.sh, or pip install uv)"
need_tools
pin=()
if command -v taskset >/dev/null && [[ $(nproc) -ge 2 ]]; then
	pin=(taskset -c 0,1)
fi
JPY=("${pin[@]}" python3 "$BENCH_DIR/jobs.py")
build_haven
setup_haven
mkdir -p "$RUNNER_ENVS"
# start_haven with the jobs' settings.
HAVEN_PORT=$(free_port)
HAVEN_URL=http://127.0.0.1:$HAVEN_PORT
"${pin[@]}" "$HAVEN" serve --addr "127.0.0.1:$HAVEN_PORT" --data "$DATA" --public-url "$HAVEN_URL" \
	--runner-envs "$RUNNER_ENVS" --jobs-concurrency 2 >>"$WORK/haven.log" 2>&1 &
HAVEN_PID=$!
PIDS+=("$HAVEN_PID")
wait_http "$HAVEN_URL/api/health"
export HAVEN_URL TOKEN NS=bench

# ---------------------------------------------------------------- 1. first line
log "1. submit -> first log line, $RUNS runs (python:3.12 environment; the first job builds it)"
PY312=$("${JPY[@]}" env-of) || die "no python:3.12 environment"
[[ -x $PY312 ]] || die "the job's python $PY312 is not reachable here"
log "the job's python: $PY312"
"${JPY[@]}" first-line "$RUNS" "$PY312" >"$WORK/first.json"
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- 2. log lag
log "2. log lag"
"${JPY[@]}" lag "$LAG_SECONDS" "$PY312" >"$WORK/lag.json"
LOAD2=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- 3. queue
log "3. $QUEUE queued ubuntu jobs, 2 slots"
c0=$(cpu_ticks "$HAVEN_PID")
"${JPY[@]}" queue "$QUEUE" >"$WORK/queue.json"
QUEUE_CPU=$(awk -v t=$(($(cpu_ticks "$HAVEN_PID") - c0)) -v hz="$CLK_TCK" 'BEGIN {printf "%.1f", t / hz}')
log "the same $QUEUE commands with xargs -P 2"
t0=$(date +%s.%N)
XARGS_LINES=$(seq 1 "$QUEUE" | "${pin[@]}" xargs -P 2 -I{} env JOB_ID={} sh -c 'echo $JOB_ID' | wc -l)
XARGS_T=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.3f", b - a}')
[[ $XARGS_LINES == "$QUEUE" ]] || die "xargs printed $XARGS_LINES lines"
LOAD3=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- 4. fine-tune
# A python with torch, transformers and datasets for the fixtures: TRAIN_PYTHON,
# else an environment built from finetune/train/requirements.txt (Haven's
# shared ones, the end-to-end tests'), else one built here once.
train_python() {
	local reqs d
	[[ -n ${TRAIN_PYTHON:-} ]] && { echo "$TRAIN_PYTHON"; return; }
	reqs=$(grep -v '^\s*#' "$REPO_ROOT/finetune/train/requirements.txt" | sed '/^\s*$/d')
	for d in "$RUNNER_ENVS"/*/; do
		[[ -f $d.haven-ready && -f $d.haven-requirements.txt ]] || continue
		[[ $(sed '/^\s*$/d' "$d.haven-requirements.txt") == "$reqs" ]] && { echo "${d}bin/python"; return; }
	done
	for d in "${TMPDIR:-/tmp}"/haven-e2e-train-*/; do
		[[ -f $d.haven-e2e-complete ]] && { echo "${d}bin/python"; return; }
	done
	d=${TMPDIR:-/tmp}/haven-bench-train-$(sha256sum "$REPO_ROOT/finetune/train/requirements.txt" | cut -c1-16)
	if [[ ! -f $d/.ready ]]; then
		log "building a training environment in $d (once)"
		rm -rf "$d"
		UV_PYTHON_DOWNLOADS=never uv venv --quiet --python python3 "$d" >&2
		UV_PYTHON_DOWNLOADS=never uv pip install --quiet --python "$d/bin/python" --compile-bytecode \
			-r "$REPO_ROOT/finetune/train/requirements.txt" >&2
		touch "$d/.ready"
	fi
	echo "$d/bin/python"
}
log "4. fine-tune: the tiny BERT and the sentiment set"
TPY=$(train_python)
HF_HOME=$WORK/hf-fixtures HF_HUB_DISABLE_PROGRESS_BARS=1 HF_HUB_DISABLE_XET=1 TQDM_DISABLE=1 \
	"$TPY" "$BENCH_DIR/jobs.py" fixtures bench tiny >"$WORK/fixtures.json" 2>"$WORK/fixtures.err" ||
	{ cat "$WORK/fixtures.err" >&2; die "could not push the fixtures"; }
: >"$WORK/ft.pairs"
for i in $(seq 1 "$FT_REPS"); do
	REQ=$(printf '{"task":"text-classification","base_model":"bench/tiny-bert","dataset":"bench/tiny-sentiment",
"columns":{"text":"text","label":"label"},"output_repo":"ft-job-%d",
"hyperparameters":{"max_steps":%d,"eval_steps":%d,"learning_rate":0.003,"batch_size":8}}' "$i" "$FT_STEPS" "$FT_STEPS")
	log "POST /api/finetune $i/$FT_REPS, max_steps $FT_STEPS (the first run ever builds the training environment)"
	"${JPY[@]}" finetune "$REQ" >"$WORK/ft-job.$i.json"
	FT_VENV=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["venv"] or "")' "$WORK/ft-job.$i.json")
	[[ -x $FT_VENV/bin/python ]] || die "the fine-tune's environment was not found (VIRTUAL_ENV: $FT_VENV)"
	FT_DIR=$(grep -l "\"bench/ft-job-$i\"" "$DATA"/finetune/ft-*/config.json | head -n1)
	[[ -f $FT_DIR ]] || die "no fine-tune folder for ft-job-$i under $DATA/finetune"
	rm -rf "$WORK/ft-direct"
	mkdir -p "$WORK/ft-direct"
	cp "$(dirname "$FT_DIR")"/* "$WORK/ft-direct/"
	python3 - "$WORK/ft-direct/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["output_repo"] = c["output_repo"] + "-direct"
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
	log "the same train.py and config.json directly with the job's environment ($FT_VENV)"
	(cd "$WORK/ft-direct" && HOME=$WORK/ft-direct HF_HOME=$WORK/ft-direct/hf HF_ENDPOINT=$HAVEN_URL HF_TOKEN=$TOKEN \
		PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_DISABLE_PROGRESS_BARS=1 TQDM_DISABLE=1 HF_HUB_DISABLE_TELEMETRY=1 \
		"${JPY[@]}" direct "$FT_VENV/bin/python" train.py config.json) >"$WORK/ft-direct.$i.json"
	echo "$WORK/ft-job.$i.json $WORK/ft-direct.$i.json" >>"$WORK/ft.pairs"
done
LOAD4=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- results
python3 - "$WORK" "$QUEUE" "$XARGS_T" "$QUEUE_CPU" "$LOAD1" "$LOAD2" "$LOAD3" "$LOAD4" "$FT_STEPS" "$LAG_SECONDS" "$(machine_line)" <<'PY'
import json, os, sys
work, n, xargs_t, qcpu, l1, l2, l3, l4, steps, lag_s, machine = sys.argv[1:]
r = lambda name: json.load(open(os.path.join(work, name)))
first, lag, queue = r("first.json"), r("lag.json"), r("queue.json")
verdict = lambda ok: "PASS" if ok else "FAIL"
print()
print("== jobs: first log line, log lag, 100 queued jobs, fine-tune throughput (process runner, --jobs-concurrency 2)")
print("   " + machine)
print()
j, d = first["job"], first["direct"]
print(f"-- 1. submit -> first output line on the logs stream, {j['n']} runs, python:3.12 environment cached (load avg {l1})")
print(f"{'haven job':<34} median {j['median']:.3f} s  p90 {j['p90']:.3f} s  (min {j['min']:.3f}, max {j['max']:.3f})  "
      f"target p90 < 2 s   {verdict(j['p90'] < 2)}")
if first.get("started"):
    label = '  of it, to "===== Job started"'
    print(f"{label:<34} median {first['started']['median']:.3f} s; POST answered in {first['post']['median'] * 1000:.0f} ms")
print(f"{'direct, same python':<34} median {d['median']:.3f} s  p90 {d['p90']:.3f} s  (+{j['median'] - d['median']:.3f} s by Haven)")
print()
j, d, s = lag["job"], lag["direct"], lag.get("server")
print(f"-- 2. log lag: a line every 50 ms for {float(lag_s):g} s, receive - printed time, {j['n']} lines (load avg {l2})")
print(f"{'haven SSE':<34} median {j['median']:.1f} ms  p95 {j['p95']:.1f} ms  max {j['max']:.1f} ms  "
      f"target median < 200 ms   {verdict(j['median'] < 200)}")
if s:
    print(f"{'  of it, to the line timestamp':<34} median {s['median']:.1f} ms  p95 {s['p95']:.1f} ms  max {s['max']:.1f} ms")
print(f"{'local pipe':<34} median {d['median']:.2f} ms  p95 {d['p95']:.2f} ms  max {d['max']:.2f} ms")
print()
q = queue
ok = (q["completed"] == q["n"] and q["one_start"] == q["n"] and q["echo"] == q["n"] and q["running_max"] <= 2)
print(f"-- 3. {q['n']} ubuntu jobs `sh -c 'echo $JOB_ID'` submitted at once, 2 slots (load avg {l3})")
print(f"{'haven, submit to all ended':<34} {q['wall']:.2f} s ({q['wall'] / q['n'] * 1000:.0f} ms a job; submitting took {q['submitted']:.2f} s); "
      f"Haven CPU {qcpu} s")
print(f"{'  COMPLETED / one start / own id':<34} {q['completed']} / {q['one_start']} / {q['echo']} of {q['n']}; stages {','.join(q['stages'])}")
print(f"{'  max RUNNING in a sample':<34} {q['running_max']} ({q['samples']} samples)   target all completed once, <= 2 running   {verdict(ok)}")
print(f"{'xargs -P 2':<34} {float(xargs_t):.3f} s")
print()
pairs = [line.split() for line in open(os.path.join(work, "ft.pairs"))]
rows = []
for a, b in pairs:
    ja, jb = json.load(open(a)), json.load(open(b))
    rows.append((float(ja["progress"]["samples_per_second"]), float(jb["progress"]["samples_per_second"]), ja["seconds"], jb["seconds"]))
ratios = sorted(pj / pd for pj, pd, _, _ in rows)
mid = ratios[len(ratios) // 2] if len(ratios) % 2 else (ratios[len(ratios) // 2 - 1] + ratios[len(ratios) // 2]) / 2
print(f"-- 4. fine-tune, text classification, tiny BERT, max_steps {steps} (one eval and checkpoint at the end), batch 8, "
      f"{len(rows)} pairs, job then direct (load avg {l4})")
for k, (pj, pd, sj, sd) in enumerate(rows, 1):
    print(f"{'pair %d: haven job / direct' % k:<34} {pj:.1f} / {pd:.1f} samples/s  ({pj / pd:.2f}x; job {sj:.1f} s to its end, direct {sd:.1f} s)")
print(f"{'median ratio job / direct':<34} {mid:.2f}x  target >= 0.9x   {verdict(mid >= 0.9)}")
PY
