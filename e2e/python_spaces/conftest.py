"""Fixtures for the Spaces suite (run by the Go test TestPythonSpaces)."""

import sys
from pathlib import Path

import pytest
from huggingface_hub import HfApi

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "pyshared"))
from haven_env import endpoint, env as _env, other_token, token  # noqa: E402,F401  (shared fixtures)


@pytest.fixture(scope="session")
def api(endpoint, token):
    return HfApi(endpoint=endpoint, token=token)


@pytest.fixture(scope="session")
def other_api(endpoint, other_token):
    return HfApi(endpoint=endpoint, token=other_token)


@pytest.fixture(scope="session")
def anon_api(endpoint):
    return HfApi(endpoint=endpoint, token=False)
