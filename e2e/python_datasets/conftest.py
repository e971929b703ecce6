"""Fixtures for the dataset suite: `datasets` and the dataset viewer against Haven.

The Go test TestDatasets starts the server and passes HF_ENDPOINT, HAVEN_TOKEN
(alice, write), HAVEN_OTHER_TOKEN (bob) and HAVEN_USER through the environment.
"""

import io
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest
from huggingface_hub import CommitOperationAdd, HfApi

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "pyshared"))
from haven_env import endpoint, env as _env, other_token, token  # noqa: E402,F401  (shared fixtures)


@pytest.fixture(scope="session")
def user():
    return _env("HAVEN_USER")


@pytest.fixture(scope="session")
def api(endpoint, token):
    return HfApi(endpoint=endpoint, token=token)


class Viewer:
    """A raw client of the viewer API, to check answers field by field."""

    def __init__(self, endpoint):
        self.base = endpoint + "/datasets-server"

    def call(self, path, token=None, host=None, **params):
        url = self.base + "/" + path + "?" + urllib.parse.urlencode(params)
        req = urllib.request.Request(url)
        if token:
            req.add_header("Authorization", "Bearer " + token)
        if host:
            req.add_header("Host", host)
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                return resp.status, dict(resp.headers), json.loads(resp.read())
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), json.loads(e.read() or b"{}")

    def ok(self, path, token=None, **params):
        status, headers, body = self.call(path, token=token, **params)
        assert status == 200, (path, params, status, headers.get("X-Error-Code"), body)
        return body

    def wait_ready(self, dataset, token, timeout=120):
        """Polls until the conversion of the dataset's head is recorded."""
        deadline = time.monotonic() + timeout
        while True:
            status, headers, body = self.call("is-valid", token=token, dataset=dataset)
            if status == 200:
                return body
            assert headers.get("X-Error-Code") == "ResponseNotReady", (status, headers, body)
            assert time.monotonic() < deadline, f"{dataset} was not converted within {timeout}s"
            time.sleep(0.3)


@pytest.fixture(scope="session")
def viewer(endpoint):
    return Viewer(endpoint)


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def push(api, repo_id, files, private=False):
    """Creates a dataset with files {path: bytes} in one commit."""
    api.create_repo(repo_id, repo_type="dataset", private=private)
    ops = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=io.BytesIO(b)) for p, b in files.items()]
    api.create_commit(repo_id, ops, commit_message="data", repo_type="dataset")
