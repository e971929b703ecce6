"""Fixtures for the pull-through cache suite: two Haven servers, an upstream
and a hub started with --upstream pointing at it.

The Go test TestUpstream starts both and passes HAVEN_UPSTREAM_URL,
HAVEN_UPSTREAM_TOKEN (alice at the upstream, write), HAVEN_UPSTREAM_OTHER_TOKEN
(bob at the upstream), HF_ENDPOINT (the hub with the cache), HAVEN_LOCAL_TOKEN
(alice at the hub itself) and HAVEN_UPSTREAM_STATE, a file in which the
online tests leave what the offline ones check. It runs the tests marked
"online", stops the upstream, then runs those marked "offline".
"""

import json
import os

import pytest

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "pyshared"))
from haven_env import endpoint, env as _env  # noqa: E402,F401  (shared fixtures)


@pytest.fixture(scope="session")
def upstream():
    return _env("HAVEN_UPSTREAM_URL").rstrip("/")


@pytest.fixture(scope="session")
def upstream_token():
    return _env("HAVEN_UPSTREAM_TOKEN")


@pytest.fixture(scope="session")
def upstream_other_token():
    return _env("HAVEN_UPSTREAM_OTHER_TOKEN")


@pytest.fixture(scope="session")
def local_token():
    return _env("HAVEN_LOCAL_TOKEN")


class State:
    """What the online tests hand the offline ones, kept in a JSON file."""

    def __init__(self, path):
        self.path = Path(path)

    def load(self):
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def update(self, **kv):
        d = self.load()
        d.update(kv)
        self.path.write_text(json.dumps(d))


@pytest.fixture(scope="session")
def state():
    return State(_env("HAVEN_UPSTREAM_STATE"))
