"""Fixtures for the fine-tuning suite (run by the Go test TestPythonFinetune).

The task runs go through Haven: POST /api/finetune starts each as a job, and
its log is read back with the Jobs API (fetch_job_logs). The resume and
bad-config runs call finetune/train/train.py directly, to check the program
itself.

This process runs with the repository's .venv (pytest, huggingface_hub); torch
and transformers live only in the training environment, whose python the Go
test passes as HAVEN_TRAIN_PYTHON. Everything that needs them runs as a
subprocess of that python: the fixture builder (e2e/pyshared/tiny_models.py),
finetune/train/train.py itself, and check_model.py, which loads pushed models
back. The runs start together on a pool of two workers (the machine has two
cores and most of a run is single-threaded Python start-up), and each test
waits for the runs it asserts on.
"""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from huggingface_hub import HfApi
from huggingface_hub.utils import get_session

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent / "pyshared"))
from haven_env import endpoint, env as _env, token  # noqa: E402,F401  (shared fixtures)

TRAIN_PY = ROOT / "finetune" / "train" / "train.py"
TINY_MODELS = HERE.parent / "pyshared" / "tiny_models.py"
CHECK_MODEL = HERE / "check_model.py"
RUN_TIMEOUT = 300
TIMINGS = {}  # name: seconds, for the summary


@dataclass
class Run:
    """One finished subprocess: its exit status, output, parsed log lines and wall time."""

    name: str
    rc: int
    stdout: str
    stderr: str
    seconds: float
    lines: list = field(default_factory=list)  # (kind, {key: value}) for every key=value line

    def kinds(self, kind):
        return [kv for k, kv in self.lines if k == kind]

    def last(self, kind):
        found = self.kinds(kind)
        assert found, f"{self.name}: no {kind!r} line\n{self}"
        return found[-1]

    def stages(self):
        return [kv["name"] for kv in self.kinds("stage")]

    def __str__(self):
        return (f"--- {self.name}: exit {self.rc} after {self.seconds:.1f}s\n--- stdout\n{self.stdout[-6000:]}"
                f"\n--- stderr\n{self.stderr[-6000:]}")


LINE = re.compile(r"^([a-z]+)((?: [a-z0-9_]+=\S+)+)$")


def parse(stdout):
    out = []
    for line in stdout.splitlines():
        m = LINE.match(line)
        if m:
            out.append((m.group(1), dict(kv.split("=", 1) for kv in m.group(2).split())))
    return out


def run_process(name, argv, env, kill_on=None):
    """Runs argv; with kill_on, SIGKILLs it as soon as a stdout line starts with kill_on."""
    t0 = time.time()
    with tempfile.TemporaryFile("w+") as err:
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, text=True, env=env, bufsize=1)
        timer = threading.Timer(RUN_TIMEOUT, p.kill)
        timer.start()
        lines = []
        try:
            for line in p.stdout:
                lines.append(line)
                if kill_on and line.startswith(kill_on):
                    p.send_signal(signal.SIGKILL)
                    break
            lines.extend(p.stdout.read().splitlines(keepends=True))
        finally:
            timer.cancel()
            p.stdout.close()
            rc = p.wait()
        err.seek(0)
        stderr = err.read()
    stdout = "".join(lines)
    return Run(name, rc, stdout, stderr, time.time() - t0, parse(stdout))


@pytest.fixture(scope="session")
def train_python():
    return _env("HAVEN_TRAIN_PYTHON")


@pytest.fixture(scope="session")
def user():
    return _env("HAVEN_USER")


@pytest.fixture(scope="session")
def api(endpoint, token):
    return HfApi(endpoint=endpoint, token=token)


@pytest.fixture(scope="session")
def child_env(endpoint, token):
    env = dict(os.environ)
    env.update(HF_ENDPOINT=endpoint, HF_TOKEN=token, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    return env


@pytest.fixture(scope="session")
def repos(train_python, child_env, user):
    """The tiny models and data sets, built and pushed once: {role: repo id}."""
    run = run_process("tiny_models", [train_python, str(TINY_MODELS), user, "ft"], child_env)
    TIMINGS["tiny_models"] = run.seconds
    assert run.rc == 0, str(run)
    return json.loads(run.stdout.strip().splitlines()[-1])


class Runner:
    """Starts fine-tunes through the API, train.py runs and follow-up checks on a pool of two workers."""

    def __init__(self, python, env, workdir, api):
        self.python, self.env, self.workdir, self.api = python, env, Path(workdir), api
        self.pool = ThreadPoolExecutor(max_workers=2)
        self.futures = {}
        self.timings = {}

    def train(self, name, config, kill_on=None):
        path = self.workdir / f"{name}.json"
        path.write_text(json.dumps(config))
        run = run_process(name, [self.python, str(TRAIN_PY), str(path)], self.env, kill_on=kill_on)
        self.timings[name] = run.seconds
        return run

    def finetune(self, name, request):
        """Starts a fine-tune with POST /api/finetune and follows its job to the end: a Run of its log."""
        t0 = time.time()
        url = f"{self.api.endpoint}/api/finetune"
        headers = {"Authorization": f"Bearer {self.api.token}"}
        while True:
            r = get_session().post(url, json=request, headers=headers)
            # The dataset viewer reads new datasets in the background.
            if r.status_code == 400 and "has not read" in r.text and time.time() - t0 < 120:
                time.sleep(1)
                continue
            break
        assert r.status_code == 200, f"{name}: {r.status_code} {r.text}"
        job = r.json()
        ns = job["owner"]["name"]
        lines = list(self.api.fetch_job_logs(job_id=job["id"], namespace=ns, follow=True))
        info = self.api.inspect_job(job_id=job["id"], namespace=ns)
        for _ in range(50):  # the stream ends as the stage is written
            if info.status.stage not in ("RUNNING", "SCHEDULING"):
                break
            time.sleep(0.2)
            info = self.api.inspect_job(job_id=job["id"], namespace=ns)
        stdout = "\n".join(lines) + "\n"
        run = Run(name, 0 if info.status.stage == "COMPLETED" else 1, stdout, info.status.message or "",
                  time.time() - t0, parse(stdout))
        run.job = info
        self.timings[name] = run.seconds
        return run

    def check(self, name, *args):
        run = run_process(name, [self.python, str(CHECK_MODEL), *args], self.env)
        self.timings[name] = run.seconds
        assert run.rc == 0, str(run)
        result = [line for line in run.stdout.splitlines() if line.startswith("RESULT ")]
        assert result, str(run)
        return json.loads(result[-1][len("RESULT "):])

    def submit(self, name, fn):
        self.futures[name] = self.pool.submit(fn)

    def result(self, name):
        return self.futures[name].result(timeout=2 * RUN_TIMEOUT)


def config(task, base, dataset, columns, output, **kw):
    cfg = {"task": task, "base_model": base, "base_revision": "main", "dataset": dataset, "dataset_config": None,
           "train_split": "train", "eval_split": None, "columns": columns, "hyperparameters": {},
           "output_repo": output, "private": False, "checkpoint_dir": None}
    cfg.update(kw)
    return cfg


def request(task, base, dataset, columns, output, **kw):
    """A POST /api/finetune body."""
    req = {"task": task, "base_model": base, "dataset": dataset, "columns": columns, "output_repo": output}
    req.update(kw)
    return req


@pytest.fixture(scope="session")
def runs(repos, train_python, child_env, api, user, tmp_path_factory):
    """Every run of the suite, started at once; runs.result(name) waits for one."""
    work = tmp_path_factory.mktemp("finetune")
    r = Runner(train_python, child_env, work, api)
    bert_sha = api.model_info(repos["bert"]).sha

    def classifier():
        req = request("text-classification", repos["bert"], repos["sentiment"], {"text": "text", "label": "label"},
                      "ft-sentiment", base_revision=bert_sha,
                      hyperparameters={"epochs": 5, "learning_rate": 3e-3, "batch_size": 8})
        run = r.finetune("classifier", req)
        check = None
        if run.rc == 0:
            check = r.check("classifier-check", "classify", f"{user}/ft-sentiment",
                            "the movie was really excellent", "the food was truly awful")
        return run, check

    def lora():
        req = request("causal-lm-lora", repos["causal"], repos["sft"], {"prompt": "prompt", "completion": "completion"},
                      "ft-lora", private=True,
                      hyperparameters={"epochs": 2, "learning_rate": 5e-3, "max_length": 64, "lora_r": 4})
        run = r.finetune("lora", req)
        check = r.check("lora-check", "adapter", f"{user}/ft-lora") if run.rc == 0 else None
        return run, check

    def resume():
        cfg = config("text-classification", repos["bert"], repos["sentiment"], {"text": "text", "label": "label"},
                     f"{user}/ft-resumed", checkpoint_dir=str(work / "ckpt-resume"),
                     hyperparameters={"max_steps": 40, "eval_steps": 5, "learning_rate": 3e-3})
        first = r.train("resume-killed", cfg, kill_on="checkpoint ")
        second = r.train("resume-again", cfg)
        return first, second

    def tokens():
        return r.finetune("tokens", request(
            "token-classification", repos["bert"], repos["tokens"], {"tokens": "tokens", "tags": "tags"},
            "ft-tokens", eval_split="validation", hyperparameters={"epochs": 3, "learning_rate": 3e-3}))

    def embedding():
        return r.finetune("embedding", request(
            "sentence-embedding", repos["sentence_transformer"], repos["pairs"], {"anchor": "anchor", "positive": "positive"},
            "ft-embedding", hyperparameters={"epochs": 2, "learning_rate": 1e-3}))

    def bad():
        base = dict(task="text-classification", base=repos["bert"], dataset=repos["sentiment"])
        return {
            "unknown-column": r.train("bad-unknown-column", config(
                base["task"], base["base"], base["dataset"], {"text": "text", "label": "sentiment"}, f"{user}/ft-bad")),
            "float-label": r.train("bad-float-label", config(
                base["task"], base["base"], base["dataset"], {"text": "text", "label": "rating"}, f"{user}/ft-bad")),
            "unknown-hyperparameter": r.train("bad-hyperparameter", config(
                base["task"], base["base"], base["dataset"], {"text": "text", "label": "label"}, f"{user}/ft-bad",
                hyperparameters={"epoch": 3})),
        }

    # Longest chains first, so the two workers finish together.
    for name, fn in [("classifier", classifier), ("lora", lora), ("resume", resume), ("embedding", embedding),
                     ("tokens", tokens), ("bad", bad)]:
        r.submit(name, fn)
    TIMINGS.update(r.timings)
    yield r
    r.pool.shutdown(wait=True, cancel_futures=True)
    TIMINGS.update(r.timings)


def pytest_terminal_summary(terminalreporter):
    if TIMINGS:
        terminalreporter.write_line("subprocess wall times (s): " +
                                    ", ".join(f"{k}={v:.1f}" for k, v in TIMINGS.items()))
