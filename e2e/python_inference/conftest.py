"""Fixtures for the inference suite (run by the Go test TestPythonInference).

The models are built and pushed once per session by build_models.py, run with
the training environment's python (HAVEN_TRAIN_PYTHON); all-MiniLM-L6-v2
comes from the folder the Go test unpacked (HAVEN_MINILM). Every call goes
through Haven's /inference routes with the official clients, which start an
engine per model on first use.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "pyshared"))
from haven_env import endpoint, env, other_token, token  # noqa: E402,F401  (shared fixtures)


@pytest.fixture(scope="session")
def models(endpoint, token):
    run = subprocess.run(
        [env("HAVEN_TRAIN_PYTHON"), str(HERE / "build_models.py"), env("HAVEN_USER"), env("HAVEN_MINILM")],
        env={**os.environ, "HF_ENDPOINT": endpoint, "HF_TOKEN": token},
        capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        pytest.fail(f"build_models.py failed ({run.returncode}):\n{run.stdout}\n{run.stderr}")
    return json.loads(run.stdout.strip().splitlines()[-1])
