"""Client side of bench/jobs.sh: the Jobs API driven over HTTP, with baselines.

Only the standard library, except `fixtures`, which needs the training
environment (torch, transformers, datasets) and runs with its python.

    jobs.py first-line  N PYTHON        submit -> first output line, N runs; baseline: PYTHON -c ...
    jobs.py lag         SECONDS PYTHON  log lag of a job printing time.time() every 50 ms
    jobs.py queue       N               N ubuntu jobs at once; RUNNING sampled; every log checked
    jobs.py env-of                      the python of a job's environment (prints sys.executable)
    jobs.py finetune    REQUEST-JSON    POST /api/finetune, follow the log; prints the job id and last progress
    jobs.py fixtures    NS PREFIX       the tiny BERT and the sentiment set pushed to Haven
    jobs.py direct      PYTHON ARGS...  a program run directly; its last progress line

HAVEN_URL, TOKEN and NS (the namespace) come from the environment. Each
measurement writes one JSON object to stdout; progress goes to stderr.
"""

import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.client import HTTPConnection
from urllib.parse import urlsplit

URL = os.environ.get("HAVEN_URL", "")
TOKEN = os.environ.get("TOKEN", "")
NS = os.environ.get("NS", "bench")
STARTED = "===== Job started"


def log(*a):
    print(">>", *a, file=sys.stderr, flush=True)


def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(URL + path, data=data, method=method,
                                 headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        raise SystemExit(f"{method} {path}: HTTP {e.code}: {e.read()[:500]!r}")


def submit(command, image="python:3.12"):
    return call("POST", f"/api/jobs/{NS}", {"dockerImage": image, "command": command, "flavor": "cpu-basic"})["id"]


def stream(job_id):
    """Yields (receive time, line, server timestamp) for each log line of the job's SSE stream."""
    u = urlsplit(URL)
    c = HTTPConnection(u.hostname, u.port, timeout=900)
    c.request("GET", f"/api/jobs/{NS}/{job_id}/logs", headers={"Authorization": "Bearer " + TOKEN})
    r = c.getresponse()
    if r.status != 200:
        raise SystemExit(f"logs of {job_id}: HTTP {r.status}")
    try:
        while True:
            raw = r.readline()
            if not raw:
                return
            if raw.startswith(b"data:"):
                t = time.time()
                ev = json.loads(raw[5:])
                if "data" in ev:
                    yield t, ev["data"], ev.get("timestamp")
    finally:
        c.close()


def wait_end(job_id, timeout=600):
    t_end = time.time() + timeout
    while time.time() < t_end:
        j = call("GET", f"/api/jobs/{NS}/{job_id}")
        if j["status"]["stage"] not in ("SCHEDULING", "RUNNING"):
            return j
        time.sleep(0.05)
    raise SystemExit(f"job {job_id} did not end within {timeout} s")


def parse_ts(ts):
    """Seconds since the epoch of an RFC 3339 UTC timestamp with up to nanoseconds."""
    from datetime import datetime, timezone

    whole, _, frac = ts.rstrip("Z").partition(".")
    t = datetime.fromisoformat(whole).replace(tzinfo=timezone.utc).timestamp()
    return t + (float("0." + frac) if frac else 0.0)


def q(values, p):
    """The p-quantile (nearest rank) of values."""
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(p * len(s) + 0.5)) - 1))]


def summary(values):
    return {"median": statistics.median(values), "p90": q(values, 0.9), "p95": q(values, 0.95),
            "min": min(values), "max": max(values), "n": len(values)}


def first_line_direct(argv):
    t0 = time.time()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    line = p.stdout.readline()
    t = time.time() - t0
    p.stdout.close()
    p.wait()
    if line.strip() != b"hi":
        raise SystemExit(f"baseline printed {line!r}")
    return t


def first_line_job(command):
    t0 = time.time()
    job_id = submit(command)
    t_post = time.time() - t0
    started = None
    for t, line, _ in stream(job_id):
        if line.startswith(STARTED):
            started = t - t0
        elif line == "hi":
            return t - t0, t_post, started, job_id
    raise SystemExit(f"job {job_id}: the log ended without its output line")


def cmd_first_line(n, python):
    command = ["python", "-c", "print('hi')"]
    log("warm-up job")
    first_line_job(command)
    first_line_direct([python, "-c", "print('hi')"])
    jobs, posts, starts, direct = [], [], [], []
    for i in range(n):
        t, tp, ts, _ = first_line_job(command)
        jobs.append(t)
        posts.append(tp)
        if ts is not None:
            starts.append(ts)
        direct.append(first_line_direct([python, "-c", "print('hi')"]))
        log(f"run {i + 1}/{n}: job {t:.3f} s (POST answered {tp * 1000:.0f} ms), direct {direct[-1]:.3f} s")
    print(json.dumps({"job": summary(jobs), "post": summary(posts), "started": summary(starts) if starts else None,
                      "direct": summary(direct)}))


LAG_PROGRAM = """
import sys, time
end = time.time() + float(sys.argv[1])
while time.time() < end:
    print(repr(time.time()), flush=True)
    time.sleep(0.05)
"""


def cmd_lag(seconds, python):
    log(f"a job printing time.time() every 50 ms for {seconds} s")
    job_id = submit(["python", "-c", LAG_PROGRAM, str(seconds)])
    lags, server = [], []
    for t, line, ts in stream(job_id):
        try:
            printed = float(line)
        except ValueError:
            continue  # Haven's own lines
        lags.append((t - printed) * 1000)
        if ts:
            # The line's own timestamp (when Haven read it from the job): where the lag arises.
            server.append((parse_ts(ts) - printed) * 1000)
    j = wait_end(job_id)
    if j["status"]["stage"] != "COMPLETED" or not lags:
        raise SystemExit(f"lag job {job_id} ended {j['status']['stage']} with {len(lags)} lines")
    log("the same program through a local pipe")
    direct = []
    p = subprocess.Popen([python, "-c", LAG_PROGRAM, str(seconds)], stdout=subprocess.PIPE)
    for raw in p.stdout:
        direct.append((time.time() - float(raw)) * 1000)
    p.wait()
    print(json.dumps({"job": summary(lags), "server": summary(server) if server else None, "direct": summary(direct)}))


def cmd_queue(n):
    command = ["sh", "-c", "echo $JOB_ID"]
    running_max, samples, stop = [0], [0], threading.Event()

    def sample():
        while not stop.is_set():
            r = call("GET", f"/api/jobs/{NS}?stage=RUNNING")
            running_max[0] = max(running_max[0], len(r))
            samples[0] += 1
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    t0 = time.time()
    sampler.start()
    ids = []
    for _ in range(n):
        ids.append(submit(command, image="ubuntu"))
    t_submitted = time.time() - t0
    log(f"{n} jobs submitted in {t_submitted:.2f} s")
    pending = set(ids)
    stages = {}
    while pending:
        for job_id in list(pending):
            j = call("GET", f"/api/jobs/{NS}/{job_id}")
            st = j["status"]["stage"]
            if st not in ("SCHEDULING", "RUNNING"):
                stages[job_id] = st
                pending.discard(job_id)
        if time.time() - t0 > 600:
            raise SystemExit(f"{len(pending)} jobs still not ended after 600 s")
        if pending:
            time.sleep(0.05)
    wall = time.time() - t0
    stop.set()
    sampler.join()
    # Each job's log: exactly one start line, and its own id echoed.
    starts_ok, echo_ok = 0, 0
    for job_id in ids:
        lines = [line for _, line, _ in stream(job_id)]
        starts_ok += sum(1 for line in lines if line.startswith(STARTED)) == 1
        echo_ok += lines.count(job_id) == 1
    # The jobs' own times: start of the first to end of the last, as Haven recorded them.
    print(json.dumps({
        "n": n, "wall": wall, "submitted": t_submitted,
        "completed": sum(1 for s in stages.values() if s == "COMPLETED"),
        "stages": sorted(set(stages.values())), "one_start": starts_ok, "echo": echo_ok,
        "running_max": running_max[0], "samples": samples[0],
    }))


def cmd_env_of():
    job_id = submit(["python", "-c", "import sys; print('EXE=' + sys.executable)"])
    for _, line, _ in stream(job_id):
        if line.startswith("EXE="):
            print(line[4:])
            return
    raise SystemExit("the job printed no interpreter")


def progress(line):
    if not line.startswith("progress "):
        return None
    return dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)


def venv_of_job(job_id):
    """VIRTUAL_ENV of the running job's process, found by its JOB_ID (needs to read /proc/PID/environ)."""
    want = f"JOB_ID={job_id}".encode()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if want in env:
            for kv in env:
                if kv.startswith(b"VIRTUAL_ENV="):
                    return kv[12:].decode()
    return None


def cmd_finetune(request):
    body = json.loads(request)
    deadline = time.time() + 120
    while True:
        # The dataset viewer reads a new dataset in the background: the request is refused until it has.
        data = json.dumps(body).encode()
        req = urllib.request.Request(URL + "/api/finetune", data=data, method="POST",
                                     headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                job = json.load(r)
            break
        except urllib.error.HTTPError as e:
            msg = e.read().decode(errors="replace")
            if "has not read" in msg and time.time() < deadline:
                time.sleep(0.5)
                continue
            raise SystemExit(f"POST /api/finetune: HTTP {e.code}: {msg[:500]}")
    job_id = job["id"]
    t0 = time.time()
    last, lines, venv = None, [], None
    for _, line, _ in stream(job_id):
        lines.append(line)
        if venv is None and line.startswith("stage name="):
            venv = venv_of_job(job_id)
        kv = progress(line)
        if kv:
            last = kv
            log("job: " + line)
    j = wait_end(job_id)
    if j["status"]["stage"] != "COMPLETED" or not last:
        sys.stderr.write("\n".join(lines[-40:]) + "\n")
        raise SystemExit(f"fine-tune {job_id} ended {j['status']['stage']}")
    print(json.dumps({"id": job_id, "seconds": time.time() - t0, "progress": last, "venv": venv}))


def cmd_direct(argv):
    t0 = time.time()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    last, lines = None, []
    for line in p.stdout:
        line = line.rstrip("\n")
        lines.append(line)
        kv = progress(line)
        if kv:
            last = kv
            log("direct: " + line)
    if p.wait() != 0 or not last:
        sys.stderr.write("\n".join(lines[-40:]) + "\n")
        raise SystemExit(f"{argv[1]} exited {p.returncode}")
    print(json.dumps({"seconds": time.time() - t0, "progress": last}))


def cmd_fixtures(ns, prefix):
    """Only what the benchmark needs from e2e/pyshared/tiny_models.py: the BERT and the sentiment set."""
    import tempfile

    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "..", "e2e", "pyshared"))
    import tiny_models as tm
    from datasets import ClassLabel, Features, Value
    from huggingface_hub import HfApi

    api = HfApi(endpoint=URL, token=TOKEN)
    with tempfile.TemporaryDirectory() as tmp:
        bert = os.path.join(tmp, "bert")
        tm.build_bert(bert)
        tm.push_folder(api, f"{ns}/{prefix}-bert", bert)
        data = os.path.join(tmp, "sentiment")
        tm.write_parquet(data, "train", tm.sentiment_rows(),
                         Features({"text": Value("string"), "label": ClassLabel(names=["negative", "positive"]),
                                   "rating": Value("float32")}))
        tm.push_folder(api, f"{ns}/{prefix}-sentiment", data, repo_type="dataset")
    print(json.dumps({"bert": f"{ns}/{prefix}-bert", "sentiment": f"{ns}/{prefix}-sentiment"}))


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "first-line":
        cmd_first_line(int(args[0]), args[1])
    elif cmd == "lag":
        cmd_lag(float(args[0]), args[1])
    elif cmd == "queue":
        cmd_queue(int(args[0]))
    elif cmd == "env-of":
        cmd_env_of()
    elif cmd == "finetune":
        cmd_finetune(args[0])
    elif cmd == "direct":
        cmd_direct(args)
    elif cmd == "fixtures":
        cmd_fixtures(args[0], args[1])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
