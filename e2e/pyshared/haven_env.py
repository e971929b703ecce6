"""What the Go end-to-end tests hand every Python suite: the server and its tokens.

Each suite's conftest.py imports the fixtures it needs from here, so the way a
suite finds its server is written once.
"""

import os

import pytest


def env(name):
    """The value of an environment variable the Go driver must have set."""
    value = os.environ.get(name)
    if not value:
        pytest.exit(f"{name} is not set: run this suite through `go test ./e2e` (see e2e/*_test.go)", 2)
    return value


@pytest.fixture(scope="session")
def endpoint():
    return env("HF_ENDPOINT").rstrip("/")


@pytest.fixture(scope="session")
def token():
    return env("HAVEN_TOKEN")


@pytest.fixture(scope="session")
def other_token():
    return env("HAVEN_OTHER_TOKEN")
