"""Fixtures for the endpoints suite (run by the Go test TestPythonEndpoints).

The models are built and pushed once per session by build_models.py, run with
the training environment's python (HAVEN_TRAIN_PYTHON). huggingface_hub's
Inference Endpoints methods use a base URL that no setting changes, so it is
patched to Haven's /api/endpoints/v2, as users pointing the client at Haven do,
and the token is in HF_TOKEN, where the endpoint objects' own clients find it.
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


@pytest.fixture(scope="session", autouse=True)
def endpoints_api(endpoint, token):
    import huggingface_hub.constants as c

    c.INFERENCE_ENDPOINTS_ENDPOINT = f"{endpoint}/api/endpoints/v2"
    # InferenceEndpoint objects make their own HfApi() for fetch(), wait()…
    os.environ["HF_TOKEN"] = token
    return c.INFERENCE_ENDPOINTS_ENDPOINT


@pytest.fixture(scope="session")
def models(endpoint, token):
    """The pushed models; built once, kept in HAVEN_ENDPOINTS_MODELS for the part after the restart."""
    saved = Path(env("HAVEN_ENDPOINTS_MODELS"))
    if saved.exists():
        return json.loads(saved.read_text())
    run = subprocess.run(
        [env("HAVEN_TRAIN_PYTHON"), str(HERE / "build_models.py"), env("HAVEN_USER")],
        env={**os.environ, "HF_ENDPOINT": endpoint, "HF_TOKEN": token},
        capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        pytest.fail(f"build_models.py failed ({run.returncode}):\n{run.stdout}\n{run.stderr}")
    out = json.loads(run.stdout.strip().splitlines()[-1])
    saved.write_text(json.dumps(out))
    return out


@pytest.fixture(scope="session")
def api(endpoint, token):
    from huggingface_hub import HfApi

    return HfApi(endpoint=endpoint, token=token)
