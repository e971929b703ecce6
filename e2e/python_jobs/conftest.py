"""Fixtures for the Jobs suite (run by the Go test TestPythonJobs).

The server runs jobs as local processes with --jobs-concurrency 2. The suite
drives it with the hf CLI (as a subprocess) and with HfApi.
"""

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from huggingface_hub import HfApi

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "pyshared"))
from haven_env import endpoint, env as _env, other_token, token  # noqa: E402,F401  (shared fixtures)

HF = str(Path(sys.executable).parent / "hf")
TERMINAL = {"COMPLETED", "ERROR", "CANCELED", "DELETED"}


@pytest.fixture(scope="session", autouse=True)
def _module_level_identity(token):
    # list_jobs() and friends without a namespace ask the module-level
    # whoami, which reads HF_ENDPOINT (set by the harness) and HF_TOKEN.
    os.environ["HF_TOKEN"] = token
    os.environ.setdefault("HF_HUB_DISABLE_EXPERIMENTAL_WARNING", "1")


@pytest.fixture(scope="session")
def user():
    return os.environ.get("HAVEN_USER", "alice")


@pytest.fixture(scope="session")
def other_user():
    return os.environ.get("HAVEN_OTHER_USER", "bob")


@pytest.fixture(scope="session")
def org():
    return _env("HAVEN_ORG")


@pytest.fixture(scope="session")
def api(endpoint, token):
    return HfApi(endpoint=endpoint, token=token)


@pytest.fixture(scope="session")
def read_api(endpoint):
    return HfApi(endpoint=endpoint, token=_env("HAVEN_TOKEN_READ"))


@pytest.fixture(scope="session")
def other_api(endpoint, other_token):
    return HfApi(endpoint=endpoint, token=other_token)


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def hf_env(token=None):
    env = dict(os.environ)
    env["HF_TOKEN"] = token or os.environ["HAVEN_TOKEN"]
    env["HF_HUB_DISABLE_EXPERIMENTAL_WARNING"] = "1"
    return env


def hf(*args, token=None, check=True, timeout=120, cwd=None):
    """Runs the hf CLI with HF_TOKEN set to token (alice's by default)."""
    proc = subprocess.run([HF, *args], env=hf_env(token), capture_output=True, text=True, timeout=timeout, cwd=cwd)
    if check and proc.returncode != 0:
        pytest.fail(f"hf {' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def hf_json(*args, **kwargs):
    return json.loads(hf(*args, "--format", "json", **kwargs).stdout)


def wait_job(api, job_id, stages=TERMINAL, timeout=90, namespace=None):
    """Polls a job until its stage is one of stages; returns its JobInfo."""
    deadline = time.monotonic() + timeout
    while True:
        job = api.inspect_job(job_id=job_id, namespace=namespace)
        if job.status.stage in stages:
            return job
        if time.monotonic() > deadline:
            logs = "\n".join(api.fetch_job_logs(job_id=job_id, namespace=namespace))
            pytest.fail(f"job {job_id} is {job.status.stage} after {timeout}s, want {stages}\n{logs}")
        time.sleep(0.3)


def logs_of(api, job_id, namespace=None):
    return list(api.fetch_job_logs(job_id=job_id, namespace=namespace))


@pytest.fixture
def cleanup_jobs(api):
    """Cancels the jobs (and deletes the schedules) a test registers, so that
    a failing test does not hold one of the two slots for the rest."""
    jobs, schedules = [], []
    yield jobs, schedules
    for sid, ns in schedules:
        try:
            api.delete_scheduled_job(scheduled_job_id=sid, namespace=ns)
        except Exception:
            pass
    for jid, ns in jobs:
        try:
            if api.inspect_job(job_id=jid, namespace=ns).status.stage not in TERMINAL:
                api.cancel_job(job_id=jid, namespace=ns)
        except Exception:
            pass


def raw(method, path, token=None, **kwargs):
    """One request to the server's API as it comes, for what the clients hide
    (token "" sends none)."""
    from huggingface_hub.utils import get_session

    if token is None:
        token = os.environ["HAVEN_TOKEN"]
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return get_session().request(method, os.environ["HF_ENDPOINT"].rstrip("/") + path, headers=headers, **kwargs)
