"""Fixtures for the end-to-end suite of Haven with the official Python client.

The Go test TestPython starts the server and passes, through the environment:
HF_ENDPOINT, HAVEN_TOKEN (alice, write), HAVEN_TOKEN_READ (alice, read),
HAVEN_OTHER_TOKEN (bob, write) and HAVEN_ORG (an organisation owned by alice).
"""

import os
import re

import pytest
from huggingface_hub import HfApi

from helpers import unique

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "pyshared"))
from haven_env import endpoint, env as _env, other_token, token  # noqa: E402,F401  (shared fixtures)


@pytest.fixture(scope="session")
def read_token():
    return _env("HAVEN_TOKEN_READ")


@pytest.fixture(scope="session")
def org():
    return _env("HAVEN_ORG")


@pytest.fixture(scope="session")
def user():
    return os.environ.get("HAVEN_USER", "alice")


@pytest.fixture(scope="session")
def other_user():
    return os.environ.get("HAVEN_OTHER_USER", "bob")


@pytest.fixture(scope="session")
def api(endpoint, token):
    return HfApi(endpoint=endpoint, token=token)


@pytest.fixture(scope="session")
def read_api(endpoint, read_token):
    return HfApi(endpoint=endpoint, token=read_token)


@pytest.fixture(scope="session")
def other_api(endpoint, other_token):
    return HfApi(endpoint=endpoint, token=other_token)


@pytest.fixture(scope="session")
def anon_api(endpoint):
    return HfApi(endpoint=endpoint, token=False)


@pytest.fixture
def repo_name(request):
    """A fresh repository name derived from the test name."""
    base = re.sub(r"[^A-Za-z0-9]+", "-", request.node.originalname.removeprefix("test_"))[:40].strip("-")
    return unique(base)


@pytest.fixture
def new_repo(api, user, repo_name):
    """A fresh public model repository of alice; returns its id."""
    repo_id = f"{user}/{repo_name}"
    api.create_repo(repo_id)
    return repo_id


README = """---
license: mit
library_name: transformers
pipeline_tag: text-classification
language: en
tags:
- {tag}
---

# A test model

Uploaded by the Haven end-to-end suite.
"""

MODEL_SIZE = 50 * 1000 * 1000


@pytest.fixture(scope="session")
def model_folder(tmp_path_factory):
    """A local model folder: a 50 MB safetensors file (LFS), small files, nested folders."""
    root = tmp_path_factory.mktemp("model")
    tag = unique("haven-tag")
    files = {
        "model.safetensors": os.urandom(MODEL_SIZE),
        "config.json": b'{"architectures": ["BertModel"], "hidden_size": 8}\n',
        "README.md": README.format(tag=tag).encode(),
        "nested/tokenizer.json": b'{"version": "1.0"}\n',
        "nested/deeper/notes.txt": b"some notes\n",
    }
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return {"path": root, "files": files, "tag": tag}


@pytest.fixture(scope="session")
def model_repo(api, user, model_folder):
    """alice's repository with model_folder uploaded by upload_folder; read-only for tests."""
    repo_id = f"{user}/{unique('uploaded-model')}"
    api.create_repo(repo_id)
    info = api.upload_folder(repo_id=repo_id, folder_path=model_folder["path"], commit_message="Upload the model")
    return {"id": repo_id, "commit": info.oid, "commit_info": info, **model_folder}
