"""Client side of bench/inference.sh: Haven's inference routes driven over HTTP, with baselines.

Only the standard library, except `push` (huggingface_hub) and the baselines
`st` and `ort` (run with the engine's own ML environment's python: torch,
transformers, sentence-transformers; `ort` also onnxruntime and onnx from a
folder added to sys.path).

    inference.py push        FOLDER REPO                  the model folder pushed as REPO (feature-extraction card); prints its commit
    inference.py call        PATH [BODY]                  one POST (GET without BODY), held until answered; prints the seconds
    inference.py engine      NAME                         the engine process serving NAME: {"pid", "port", "python", "dir"}
    inference.py throughput  URL SECONDS BATCH [openai]   sequential requests of BATCH sentences to URL; sentences/s
    inference.py st          MODEL SECONDS BATCH THREADS  sentence-transformers directly, same loop
    inference.py ort         MODEL SECONDS BATCH THREADS LIB  ONNX Runtime (the model exported once with torch.onnx)
    inference.py latency     N NAME=URL...                N rounds, one request to each URL per round (GET for .../v1/models)
    inference.py clients     N SECONDS URL METRICS-URL    N concurrent clients, single-sentence requests (with
                                                          HAVEN_PIDS set, the CPU seconds of those processes too)
    inference.py endpoint    NAME REPO COMMIT [MIN [IMAGE]]  a dedicated endpoint (minReplica MIN, default 0; maxReplica 1;
                                                          IMAGE the JSON of image.huggingface) created and waited for
    inference.py cold-endpoint NAME REPS PYTHON DIR [PID...]  scaled to zero, then the first request; alternated with the engine by hand
    inference.py cold-serverless REPO REPS PYTHON DIR     unloaded when idle, then the first request; alternated with the engine by hand
    inference.py imports     PYTHON REPS                  `import torch, transformers, sentence_transformers` in PYTHON
    inference.py export      MODEL OUT                    MODEL exported with torch.onnx into OUT for the Go engine (ML python)
    inference.py cold        REPS REPO...                 each REPO unloaded when idle, then its first request; in turn

HAVEN_URL, TOKEN and NS (the namespace) come from the environment. Each
measurement writes one JSON object to stdout; progress goes to stderr.
"""

import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.client import HTTPConnection
from urllib.parse import urlsplit

URL = os.environ.get("HAVEN_URL", "")
TOKEN = os.environ.get("TOKEN", "")
NS = os.environ.get("NS", "bench")
EP_API = "/api/endpoints/v2/endpoint/"


def log(*a):
    print(">>", *a, file=sys.stderr, flush=True)


def q(values, p):
    """The p-quantile (nearest rank) of values."""
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(p * len(s) + 0.5)) - 1))]


def summary(values):
    return {"median": statistics.median(values), "p90": q(values, 0.9), "p95": q(values, 0.95),
            "min": min(values), "max": max(values), "n": len(values)}


WORDS = ("the a one every this that small large quick slow red green old new bright quiet city river model "
         "server request answer cat dog house street market engine garden window teacher student music "
         "morning evening train bridge ocean mountain story picture letter question reason number "
         "runs walks reads writes sings builds opens closes finds keeps holds brings leaves meets sees "
         "near under over beside through across after before with without and but because while").split()


def sentences(n, seed=0):
    """n distinct English-like sentences of 6 to 16 words (the same for every run and baseline)."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        k = rnd.randint(6, 16)
        out.append(" ".join(rnd.choice(WORDS) for _ in range(k)).capitalize() + f" {i}.")
    return out


def call(method, path, body=None, timeout=60, expect=(200,)):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(URL + path, data=data, method=method,
                                 headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        if e.code in expect:
            return e.code, None
        raise SystemExit(f"{method} {path}: HTTP {e.code}: {e.read()[:500]!r}")


class Client:
    """One keep-alive HTTP connection; post() and get() return (status, body bytes)."""

    def __init__(self, url, token=TOKEN, timeout=300):
        u = urlsplit(url)
        self.host, self.port, self.path = u.hostname, u.port, u.path or "/"
        self.timeout = timeout
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = "Bearer " + token
        self.c = None
        self.incomplete = 0

    def request(self, method, body=None, path=None):
        data = json.dumps(body).encode() if body is not None else None
        for attempt in (0, 1):
            if self.c is None:
                self.c = HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.c.request(method, path or self.path, body=data, headers=self.headers)
                r = self.c.getresponse()
            except (ConnectionError, OSError, http.client.HTTPException):
                # A keep-alive connection the server had closed: one new try.
                self.c.close()
                self.c = None
                if attempt:
                    raise
                continue
            try:
                return r.status, r.read()
            except http.client.IncompleteRead as e:
                # The answer's head came, its body did not (the server closed the connection).
                self.c.close()
                self.c = None
                self.incomplete += 1
                return r.status, b"(body cut short: " + e.partial + b")"

    def post(self, body, path=None):
        return self.request("POST", body, path)

    def get(self, path=None):
        return self.request("GET", None, path)


# ---------------------------------------------------------------- fixtures and discovery


def cmd_push(folder, repo):
    from huggingface_hub import HfApi

    api = HfApi(endpoint=URL, token=TOKEN)
    with tempfile.TemporaryDirectory() as tmp:
        f = os.path.join(tmp, "model")
        shutil.copytree(folder, f, ignore=shutil.ignore_patterns(".gitattributes"))
        card = os.path.join(f, "README.md")
        body = ""
        if os.path.exists(card):
            with open(card, encoding="utf-8") as fh:
                body = re.sub(r"\A---\n.*?\n---\n", "", fh.read(), flags=re.S)
        with open(card, "w", encoding="utf-8") as fh:
            fh.write("---\npipeline_tag: feature-extraction\nlibrary_name: sentence-transformers\ntags:\n"
                     "- sentence-transformers\n---\n" + body)
        api.create_repo(repo, exist_ok=True)
        info = api.upload_folder(repo_id=repo, folder_path=f, commit_message="bench model")
    print(json.dumps({"repo": repo, "commit": info.oid}))


def cmd_call(path, body=None):
    """One request, answered 200 (a model's first request waits for its load)."""
    c = Client(URL + path)
    t0 = time.time()
    st, raw = c.post(json.loads(body)) if body else c.get()
    t = time.time() - t0
    if st != 200:
        raise SystemExit(f"{path}: HTTP {st}: {raw[:300]!r}")
    print(json.dumps({"seconds": t}))


def engines(name=None):
    """Engine processes on this machine: [{"pid", "port", "name", "python", "dir"}]."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if not any(a.endswith("engine/engine.py") for a in argv) or "--port" not in argv:
            continue
        model = argv[argv.index("--model") + 1] if "--model" in argv else os.path.join(cwd, "model")
        e = {"pid": int(pid), "port": int(argv[argv.index("--port") + 1]),
             "dir": os.path.dirname(os.path.join(cwd, model)), "cwd": cwd,
             "name": argv[argv.index("--name") + 1] if "--name" in argv else "", "python": None}
        if name is not None and e["name"] != name:
            continue
        # The interpreter as started: a venv's bin/python (its exe link resolves to the base python).
        exe = argv[0]
        if not os.path.isabs(exe):
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
                for d in env.get(b"PATH", b"").decode().split(":"):
                    if d and os.access(os.path.join(d, exe), os.X_OK):
                        exe = os.path.join(d, exe)
                        break
            except OSError:
                pass
        e["python"] = exe
        out.append(e)
    return out


def cmd_engine(name):
    found = engines(name)
    if len(found) != 1:
        raise SystemExit(f"{len(found)} engine processes serve {name}: {found}")
    print(json.dumps(found[0]))


# ---------------------------------------------------------------- 1. throughput


def throughput(fn, texts, seconds, batch, warmup=1.0):
    """Runs fn(list of batch texts) in a loop: warm-up, then seconds; sentences/s."""
    i = 0

    def nxt():
        nonlocal i
        chunk = [texts[(i + k) % len(texts)] for k in range(batch)]
        i += batch
        return chunk

    t_end = time.monotonic() + warmup
    while time.monotonic() < t_end:
        fn(nxt())
    n, lat = 0, []
    t0 = time.monotonic()
    t_end = t0 + seconds
    while True:
        t1 = time.monotonic()
        if t1 >= t_end:
            break
        fn(nxt())
        lat.append(time.monotonic() - t1)
        n += batch
    wall = time.monotonic() - t0
    return {"sentences_per_s": n / wall, "requests": len(lat), "batch": batch, "seconds": wall,
            "latency_ms": {k: v * 1000 for k, v in summary(lat).items() if k != "n"}}


def cmd_throughput(url, seconds, batch, openai=False):
    texts = sentences(4096)
    c = Client(url)
    dims = set()

    def fn(chunk):
        if openai:
            body = {"model": "x", "input": chunk}
        else:
            body = {"inputs": chunk[0] if batch == 1 else chunk}
        st, raw = c.post(body)
        if st != 200:
            raise SystemExit(f"{url}: HTTP {st}: {raw[:300]!r}")
        if not dims:
            out = json.loads(raw)
            rows = [d["embedding"] for d in out["data"]] if openai else (out if batch > 1 else [out])
            if len(rows) != batch:
                raise SystemExit(f"{url}: {len(rows)} embeddings for {batch} inputs")
            dims.add(len(rows[0]))

    r = throughput(fn, texts, seconds, batch)
    r["dimensions"] = dims.pop()
    print(json.dumps(r))


def set_threads(n):
    import torch

    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(max(1, min(n, 4)))
    except RuntimeError:
        pass


def cmd_st(model, seconds, batch, threads):
    """The same model in sentence-transformers, as the engine runs it (encode, then L2-normalised)."""
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    set_threads(threads)
    st = SentenceTransformer(model, device="cpu", local_files_only=True).eval()
    texts = sentences(4096)

    def fn(chunk):
        with torch.inference_mode():
            emb = st.encode(chunk, batch_size=len(chunk), convert_to_numpy=True, show_progress_bar=False)
        emb = emb / np.linalg.norm(emb, axis=1, keepdims=True)
        return emb

    r = throughput(fn, texts, seconds, batch)
    r["dimensions"] = int(fn(texts[:1]).shape[1])
    r["threads"] = torch.get_num_threads()
    print(json.dumps(r))


def cmd_ort(model, seconds, batch, threads, lib):
    """ONNX Runtime: the encoder exported once with torch.onnx, the tokenizer of tokenizers, mean pooling."""
    sys.path.append(lib)  # onnx and onnxruntime only; the ML environment's own packages come first
    import numpy as np
    import onnxruntime as ort
    from tokenizers import Tokenizer

    path = os.path.join(lib, "minilm.onnx")
    if not os.path.exists(path):
        import torch
        from transformers import AutoModel

        log("exporting the encoder to ONNX")
        m = AutoModel.from_pretrained(model, attn_implementation="eager", local_files_only=True).eval()

        class Encoder(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.m(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

        ids = torch.ones(2, 8, dtype=torch.long)
        mask = torch.ones(2, 8, dtype=torch.long)
        mask[1, 5:] = 0
        names = ["input_ids", "attention_mask", "token_type_ids"]
        with torch.no_grad():
            torch.onnx.export(Encoder(m), (ids, mask, torch.zeros_like(ids)), path, input_names=names,
                              output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                              dynamic_axes={k: {0: "batch", 1: "seq"} for k in names + ["last_hidden_state"]})
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    tok = Tokenizer.from_file(os.path.join(model, "tokenizer.json"))
    tok.enable_truncation(256)  # the model's max_seq_length
    tok.enable_padding()
    texts = sentences(4096)

    def fn(chunk):
        enc = tok.encode_batch(chunk)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        h = sess.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
        m = mask[..., None].astype(np.float32)
        emb = (h * m).sum(1) / np.clip(m.sum(1), 1e-9, None)
        return emb / np.linalg.norm(emb, axis=1, keepdims=True)

    r = throughput(fn, texts, seconds, batch)
    r["dimensions"] = int(fn(texts[:1]).shape[1])
    r["threads"] = threads
    r["onnxruntime"] = ort.__version__
    print(json.dumps(r))


# ---------------------------------------------------------------- 2. latency


def cmd_latency(n, targets):
    """targets NAME=URL: n rounds, each one request to every target in turn (interleaved, so drift is shared)."""
    clients = []
    for t in targets:
        name, url = t.split("=", 1)
        get = url.endswith("/v1/models") or url.endswith("/health")
        clients.append((name, Client(url), get))
    lat = {name: [] for name, _, _ in clients}
    body = {"inputs": "hi"}
    for i in range(n + 20):
        for name, c, get in clients:
            t0 = time.perf_counter()
            st, raw = c.get() if get else c.post(body)
            t = time.perf_counter() - t0
            if st != 200:
                raise SystemExit(f"{name}: HTTP {st}: {raw[:300]!r}")
            if i >= 20:  # 20 rounds of warm-up
                lat[name].append(t * 1000)
    print(json.dumps({name: summary(v) for name, v in lat.items()}))


# ---------------------------------------------------------------- 4. concurrent clients


def engine_metrics(url):
    """The batch-size histogram and the answers by status from an engine's /metrics (through Haven's
    endpoint proxy too: the token goes along)."""
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + TOKEN} if TOKEN else {})
    with urllib.request.urlopen(req, timeout=30) as r:
        text = r.read().decode()
    m = {"buckets": {}, "sum": 0.0, "count": 0, "max": 0, "status": {}}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        key, _, val = line.rpartition(" ")
        name = key.split("{", 1)[0]
        if name == "haven_engine_batch_size_bucket":
            le = re.search(r'le="([^"]+)"', key).group(1)
            m["buckets"][le] = float(val)
        elif name == "haven_engine_batch_size_sum":
            m["sum"] = float(val)
        elif name == "haven_engine_batch_size_count":
            m["count"] = float(val)
        elif name == "haven_engine_batch_size_max":
            m["max"] = float(val)
        elif name == "haven_engine_requests_total":
            s = re.search(r'status="([^"]+)"', key)
            if s:
                m["status"][s.group(1)] = float(val)
    return m


def metrics_delta(a, b):
    count = b["count"] - a["count"]
    buckets, prev = {}, 0.0
    for le in b["buckets"]:
        cum = b["buckets"][le] - a["buckets"].get(le, 0.0)
        if cum - prev:
            buckets[le] = int(cum - prev)
        prev = cum
    status = {s: int(v - a["status"].get(s, 0.0)) for s, v in b["status"].items() if v - a["status"].get(s, 0.0)}
    return {"forward_passes": int(count), "inputs": int(b["sum"] - a["sum"]),
            "mean_batch": (b["sum"] - a["sum"]) / count if count else 0.0, "max_batch_ever": int(b["max"]),
            "batch_sizes": buckets, "engine_answers": status}


def cpu_seconds(pids):
    """The user and system CPU seconds so far of the processes pids (HAVEN_PIDS: Haven, with the Go engine in it),
    of this client process, and of the whole machine, from /proc; {} where /proc has none of it."""
    tick = os.sysconf("SC_CLK_TCK")
    try:
        out = {}
        for p in pids:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out[str(p)] = (int(fields[11]) + int(fields[12])) / tick
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        out["clients"] = (int(fields[11]) + int(fields[12])) / tick
        with open("/proc/stat") as f:
            cpu = [int(x) for x in f.readline().split()[1:]]
        out["machine"] = (sum(cpu) - cpu[3] - cpu[4]) / tick  # all but idle and iowait
        return out
    except (OSError, ValueError, IndexError):
        return {}


def cmd_clients(n, seconds, url, metrics_url):
    """n threads, each with its own connection, sending one sentence per request for seconds.

    An error answer (429 included) is counted and the client waits 100 ms before its next request."""
    texts = sentences(4096, seed=n)
    ok, errors, lat, kinds = [0], [0], [], {}
    lock = threading.Lock()
    start = threading.Barrier(n + 1)
    t_end = [0.0]

    def worker(k):
        c = Client(url)
        j = k
        mine, my_lat, my_err, my_kinds = 0, [], 0, {}
        start.wait()
        while time.monotonic() < t_end[0]:
            t0 = time.monotonic()
            try:
                st, raw = c.post({"inputs": texts[j % len(texts)]})
            except (OSError, http.client.HTTPException) as e:
                st, raw = 0, repr(e).encode()
            j += n
            if st == 200 and time.monotonic() <= t_end[0]:
                mine += 1
                my_lat.append(time.monotonic() - t0)
            elif st != 200:
                my_err += 1
                try:
                    msg = json.loads(raw).get("error", "")
                except (ValueError, AttributeError, UnicodeDecodeError):
                    msg = raw[:80].decode(errors="replace")
                kind = f"{st} " + re.sub(r"\d+", "N", str(msg))[:90]
                my_kinds[kind] = my_kinds.get(kind, 0) + 1
                time.sleep(0.1)
        with lock:
            ok[0] += mine
            errors[0] += my_err
            lat.extend(my_lat)
            for kk, v in my_kinds.items():
                kinds[kk] = kinds.get(kk, 0) + v

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(n)]
    for t in threads:
        t.start()
    before = engine_metrics(metrics_url)
    pids = [int(p) for p in os.environ.get("HAVEN_PIDS", "").split()]
    cpu0 = cpu_seconds(pids)
    t0 = time.monotonic()
    t_end[0] = t0 + seconds
    start.wait()
    # The CPU time is read at the window's end, not after the requests in flight then have finished, so that it
    # covers about the answers counted.
    time.sleep(max(0.0, t_end[0] - time.monotonic()))
    cpu1 = cpu_seconds(pids)
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    after = engine_metrics(metrics_url)
    out = {"clients": n, "seconds": wall, "ok": ok[0], "errors": errors[0], "error_kinds": kinds,
           "per_s": ok[0] / seconds, "metrics": metrics_delta(before, after)}
    if cpu0 and cpu1:
        used = {k: cpu1[k] - cpu0[k] for k in cpu1}
        out["cpu_s"] = used
        out["per_cpu_s"] = {k: ok[0] / v if v > 0 else 0.0 for k, v in used.items()}
    if lat:
        out["latency_ms"] = {k: v * 1000 for k, v in summary(lat).items() if k != "n"}
    print(json.dumps(out))


# ---------------------------------------------------------------- 3. cold starts


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def engine_by_hand(python, folder):
    """The engine started directly from the same checkout and environment, with the same threads,
    until its /health answers 200 and one embedding is answered: (seconds, load_seconds, ready_line)."""
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1", "TOKENIZERS_PARALLELISM": "false",
           "PYTHONUNBUFFERED": "1", "CPU_CORES": "2", "OMP_NUM_THREADS": "2"}
    t0 = time.time()
    p = subprocess.Popen([python, "engine/engine.py", "--model", os.path.join(folder, "model"), "--port", str(port),
                          "--host", "127.0.0.1", "--name", "by-hand", "--task", "feature-extraction"],
                         cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         start_new_session=True)
    lines, ready_line = [], [None]

    def read():
        for line in p.stdout:
            lines.append((time.time() - t0, line.rstrip()))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    c = Client(f"http://127.0.0.1:{port}/", token="", timeout=30)
    try:
        while True:
            if p.poll() is not None:
                raise SystemExit("the engine started by hand exited:\n" + "\n".join(l for _, l in lines[-20:]))
            try:
                st, raw = c.post({"inputs": "A first sentence."})
                if st == 200:
                    break
            except OSError:
                pass
            if time.time() - t0 > 300:
                raise SystemExit("the engine started by hand did not answer within 300 s")
            time.sleep(0.05)
        took = time.time() - t0
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        reader.join(5)
    load, listening = None, None
    for t, line in lines:
        if line.startswith("engine listening"):
            listening = t
        m = re.search(r"engine ready .*load_seconds=([0-9.]+)", line)
        if m:
            load = float(m.group(1))
            ready_line[0] = t
    return {"seconds": took, "load_seconds": load, "listening": listening, "ready": ready_line[0]}


def ep_state(name):
    _, e = call("GET", EP_API + f"{NS}/{name}")
    return e["status"]["state"], e


def wait_state(name, want, timeout=300):
    t_end = time.time() + timeout
    while time.time() < t_end:
        st, e = ep_state(name)
        if st == want:
            return e
        if st in ("failed", "updateFailed"):
            raise SystemExit(f"endpoint {name} is {st}: {e['status'].get('message')}")
        time.sleep(0.1)
    raise SystemExit(f"endpoint {name} did not reach {want} within {timeout} s (last {st})")


def wait_no_engine(name, timeout=60, exclude=()):
    t_end = time.time() + timeout
    while [e for e in engines(name) if e["pid"] not in exclude]:
        if time.time() > t_end:
            raise SystemExit(f"the engine of {name} is still running {timeout} s later")
        time.sleep(0.1)


def cmd_endpoint(name, repo, commit, min_replica=0, image=None):
    body = {"name": name, "type": "protected", "accountId": None,
            "provider": {"vendor": "aws", "region": "us-east-1"},
            "compute": {"accelerator": "cpu", "instanceType": "cpu", "instanceSize": "x2",
                        "scaling": {"minReplica": min_replica, "maxReplica": 1, "scaleToZeroTimeout": 15}},
            "model": {"repository": repo, "revision": commit, "task": "feature-extraction", "framework": "pytorch",
                      "image": {"huggingface": image or {}}}}
    t0 = time.time()
    call("POST", EP_API + NS, body)
    e = wait_state(name, "running")
    ready = time.time() - t0
    print(json.dumps({"ready": ready, "url": e["status"]["url"], "compute": e["compute"]["id"]}))


def first_request(url, timeout=300):
    c = Client(url, timeout=timeout)
    t0 = time.time()
    st, raw = c.post({"inputs": "A first sentence after a cold start."})
    t = time.time() - t0
    if st != 200:
        raise SystemExit(f"{url}: HTTP {st}: {raw[:300]!r}")
    return t


def cmd_cold_endpoint(name, reps, python, folder, exclude):
    _, e = ep_state(name)
    url = e["status"]["url"]
    first_request(url)  # warm
    haven, by_hand, logs = [], [], []
    for i in range(reps):
        _, e = call("POST", EP_API + f"{NS}/{name}/scale-to-zero")
        wait_state(name, "scaledToZero")
        wait_no_engine(e["model"]["repository"], exclude=exclude)
        t = first_request(url)
        haven.append(t)
        _, e = ep_state(name)
        # The engine's own account of its start, from the endpoint's log.
        try:
            req = urllib.request.Request(URL + EP_API + f"{NS}/{name}/logs",
                                         headers={"Authorization": "Bearer " + TOKEN})
            with urllib.request.urlopen(req, timeout=30) as r:
                text = r.read().decode(errors="replace")
            loads = re.findall(r"load_seconds=([0-9.]+)", text)
            logs.append(float(loads[-1]) if loads else None)
        except urllib.error.URLError:
            logs.append(None)
        h = engine_by_hand(python, folder)
        by_hand.append(h)
        log(f"endpoint wake {i + 1}/{reps}: first answer {t:.2f} s (state {e['status']['state']}); "
            f"engine by hand {h['seconds']:.2f} s (load_seconds {h['load_seconds']})")
    print(json.dumps({"haven": summary(haven), "engine_load_seconds": logs,
                      "by_hand": summary([h["seconds"] for h in by_hand]),
                      "by_hand_load_seconds": summary([h["load_seconds"] for h in by_hand if h["load_seconds"]]),
                      "by_hand_listening": summary([h["listening"] for h in by_hand if h["listening"]])}))


def cmd_cold_serverless(repo, reps, python, folder):
    url = URL + f"/inference/models/{repo}"
    first_request(url)
    last = time.time()  # the end of the model's last request
    haven, by_hand, idle = [], [], []
    for i in range(reps):
        wait_no_engine(repo, timeout=120)
        idle.append(time.time() - last)
        t = first_request(url)
        last = time.time()
        haven.append(t)
        h = engine_by_hand(python, folder)
        by_hand.append(h)
        log(f"serverless {i + 1}/{reps}: gone {idle[-1]:.1f} s after its last request; first answer {t:.2f} s; "
            f"engine by hand {h['seconds']:.2f} s")
    print(json.dumps({"haven": summary(haven), "unloaded_after": summary(idle),
                      "by_hand": summary([h["seconds"] for h in by_hand])}))


def cmd_export(model, out):
    """The encoder exported with torch.onnx for Haven's Go engine: OUT is the model folder without its PyTorch
    weights, with onnx/model.onnx (last_hidden_state; the additive attention mask made in the wrapper, so
    that the graph has the plain ops of classic exports)."""
    import torch
    from torch.onnx._internal.torchscript_exporter import onnx_proto_utils
    from transformers import AutoModel

    # The exporter imports the onnx package only to splice in onnxscript functions, which this graph has
    # none of; the ML stack carries no onnx.
    onnx_proto_utils._add_onnxscript_fn = lambda proto, opsets: proto
    shutil.copytree(model, out, ignore=shutil.ignore_patterns(".gitattributes", "*.safetensors", "pytorch_model*.bin"))
    m = AutoModel.from_pretrained(model, attn_implementation="eager", local_files_only=True).eval()

    class Encoder(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            mask = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min
            return self.m(input_ids=input_ids, attention_mask=mask, token_type_ids=token_type_ids).last_hidden_state

    ids = torch.ones(2, 8, dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(Encoder(m), (ids, torch.ones_like(ids), torch.zeros_like(ids)),
                          os.path.join(out, "onnx", "model.onnx"), input_names=names,
                          output_names=["last_hidden_state"], opset_version=14, dynamo=False,
                          dynamic_axes={k: {0: "batch", 1: "seq"} for k in names + ["last_hidden_state"]})


def warm(repo):
    _, info = call("GET", f"/api/models/{repo}?expand[]=inference")
    return info.get("inference") == "warm"


def cmd_cold(reps, repos):
    """Cold starts of serverless models, in turn: for each, wait until Haven has unloaded it (idle), then time
    its first request. Works for every engine (the Go engine has no process to watch)."""
    out = {r: [] for r in repos}
    for i in range(reps):
        for repo in repos:
            t_end = time.time() + 300
            while warm(repo):
                if time.time() > t_end:
                    raise SystemExit(f"{repo} is still loaded 300 s later")
                time.sleep(0.1)
            t = first_request(URL + f"/inference/models/{repo}")
            out[repo].append(t)
            log(f"cold {i + 1}/{reps} {repo}: first answer {t:.2f} s")
    print(json.dumps({r: summary(v) for r, v in out.items()}))


def cmd_imports(python, reps):
    code = "import time; t=time.time(); import torch, transformers, sentence_transformers; print(time.time()-t)"
    ts = []
    for _ in range(reps):
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True,
                             env={**os.environ, "TRANSFORMERS_VERBOSITY": "error"})
        ts.append(float(out.stdout.strip().splitlines()[-1]))
    code = "import time; t=time.time(); import torch; print(time.time()-t)"
    tt = []
    for _ in range(reps):
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
        tt.append(float(out.stdout.strip().splitlines()[-1]))
    print(json.dumps({"all": summary(ts), "torch": summary(tt)}))


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    cmd, a = argv[1], argv[2:]
    if cmd == "push":
        cmd_push(a[0], a[1])
    elif cmd == "call":
        cmd_call(a[0], a[1] if len(a) > 1 else None)
    elif cmd == "engine":
        cmd_engine(a[0])
    elif cmd == "throughput":
        cmd_throughput(a[0], float(a[1]), int(a[2]), len(a) > 3 and a[3] == "openai")
    elif cmd == "st":
        cmd_st(a[0], float(a[1]), int(a[2]), int(a[3]))
    elif cmd == "ort":
        cmd_ort(a[0], float(a[1]), int(a[2]), int(a[3]), a[4])
    elif cmd == "latency":
        cmd_latency(int(a[0]), a[1:])
    elif cmd == "clients":
        cmd_clients(int(a[0]), float(a[1]), a[2], a[3])
    elif cmd == "endpoint":
        cmd_endpoint(a[0], a[1], a[2], int(a[3]) if len(a) > 3 else 0, json.loads(a[4]) if len(a) > 4 else None)
    elif cmd == "cold-endpoint":
        cmd_cold_endpoint(a[0], int(a[1]), a[2], a[3], {int(x) for x in a[4:]})
    elif cmd == "cold-serverless":
        cmd_cold_serverless(a[0], int(a[1]), a[2], a[3])
    elif cmd == "export":
        cmd_export(a[0], a[1])
    elif cmd == "cold":
        cmd_cold(int(a[0]), a[1:])
    elif cmd == "imports":
        cmd_imports(a[0], int(a[1]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
