"""Fixtures for the Xet end-to-end suite: the default huggingface_hub client
with hf_xet installed and HF_HUB_DISABLE_XET unset, against Haven.

The Go test TestXetPython starts the server and passes HF_ENDPOINT,
HAVEN_TOKEN (alice, write), HAVEN_USER and HAVEN_XORBS_DIR (the folder in
which the server's blob store keeps xorbs, to measure what the server stores;
"-" when the store is not a local folder). TestXetPythonS3 runs the same suite
against a server that keeps its blobs in S3.
"""

import os
import uuid

import pytest
from huggingface_hub import HfApi

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "pyshared"))
from haven_env import endpoint, env as _env, other_token, token  # noqa: E402,F401  (shared fixtures)

# Haven serves /v2/reconstructions; forcing version 2 turns a broken answer
# into a failure instead of a silent fallback to /v1.
os.environ["HF_XET_CLIENT_RECONSTRUCTION_API_VERSION"] = "2"


@pytest.fixture(scope="session", autouse=True)
def xet_enabled():
    # The point of this suite is the default client: Xet must be active.
    if os.environ.get("HF_HUB_DISABLE_XET"):
        pytest.exit("HF_HUB_DISABLE_XET is set; this suite tests the client with Xet on", 2)
    import hf_xet  # noqa: F401  (the suite requires it)


@pytest.fixture(scope="session")
def user():
    return os.environ.get("HAVEN_USER", "alice")


@pytest.fixture(scope="session")
def xorbs_dir():
    """The local folder holding the server's xorbs, or None if there is none."""
    value = _env("HAVEN_XORBS_DIR")
    return None if value == "-" else value


@pytest.fixture(scope="session")
def api(endpoint, token):
    return HfApi(endpoint=endpoint, token=token)


@pytest.fixture
def repo_id(api, user):
    rid = f"{user}/xet-{uuid.uuid4().hex[:10]}"
    api.create_repo(rid)
    return rid
