"""Points huggingface_hub's own test suite at a Haven server.

run.sh copies this file next to the suite's test files as tests/conftest.py. It
is read before any test module, so the accounts the suite expects on its staging
hub are replaced here by those run.sh created on Haven; the test modules then
import the patched values. It also gives the fixtures the test modules take
(api, api_prod, repo_factory, xet_mode) and drops the tests listed in
deselect.txt.
"""

import fnmatch
import ipaddress
import os
import socket
from pathlib import Path
from typing import Protocol

import pytest

import huggingface_hub
from huggingface_hub import HfApi, RepoUrl, constants
from huggingface_hub.utils import SoftTemporaryDirectory
from huggingface_hub.utils._runtime import is_package_available

from . import testing_constants


def _env(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: run this suite through e2e/clientsuite/run.sh")
    return value


ENDPOINT = _env("HAVEN_CS_ENDPOINT").rstrip("/")
constants.ENDPOINT = ENDPOINT
constants.HUGGINGFACE_CO_URL_TEMPLATE = ENDPOINT + "/{repo_id}/resolve/{revision}/{filename}"

# The suite's staging endpoint and accounts become Haven's.
testing_constants.ENDPOINT_STAGING = ENDPOINT
testing_constants.USER = _env("HAVEN_CS_USER")
testing_constants.TOKEN = _env("HAVEN_CS_TOKEN")
testing_constants.OTHER_USER = _env("HAVEN_CS_OTHER_USER")
testing_constants.OTHER_TOKEN = _env("HAVEN_CS_OTHER_TOKEN")
testing_constants.ENTERPRISE_USER = _env("HAVEN_CS_ENTERPRISE_USER")
testing_constants.ENTERPRISE_ORG = _env("HAVEN_CS_ENTERPRISE_ORG")
testing_constants.ENTERPRISE_TOKEN = _env("HAVEN_CS_ENTERPRISE_TOKEN")

_SUITE_MARKERS = {
    "api": "repository, discussion and utility tests",
    "transfer": "upload and download tests",
    "inference": "inference tests",
    "xet": "needs hf_xet; Xet is forced on",
    "no_xet": "must run without hf_xet",
    "production": "reads the production hub",
    "deprecated": "expects a FutureWarning naming the given functions",
    "git_lfs": "needs git-lfs",
    "vcr": "replays recorded answers of the production hub",
}

PRODUCTION = "https://huggingface.co"
_XET_OFF = os.environ.get("HF_HUB_DISABLE_XET", "").lower() in ("1", "true", "yes", "on")


class ProductionHubNeeded(RuntimeError):
    """A test tried to reach a host other than the local server."""


_getaddrinfo = socket.getaddrinfo


def _local_getaddrinfo(host, *args, **kwargs):
    # The suite runs without a network: a test that reaches for the production
    # hub (or any other host) fails at once, naming the host, instead of going
    # through the client's retries on a name that never resolves.
    name = host.decode() if isinstance(host, bytes) else str(host)
    if name != "localhost" and not _is_address(name):
        raise ProductionHubNeeded(f"this test reaches {name}, which is not the server under test")
    return _getaddrinfo(host, *args, **kwargs)


def _is_address(name):
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


socket.getaddrinfo = _local_getaddrinfo


def pytest_configure(config):
    for name, text in _SUITE_MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")


def _deselect_patterns():
    path = Path(os.environ.get("HAVEN_CS_DESELECT", Path(__file__).with_name("deselect.txt")))
    patterns = []
    for line in path.read_text().splitlines():
        pattern = line.split("#", 1)[0].strip()
        if pattern:
            patterns.append(pattern)
    return patterns


# Tests upstream skips for reasons of its staging hub only; Haven runs them.
UNSKIP = {
    # Staging's test user may create any ref; Haven's users may not.
    "test_hf_api.py::TestHfApiBranchEndpoint::test_create_branch_forbidden_ref_branch_fails",
    # Staging lets a title be used twice; Haven, like the Hub, does not.
    "test_hf_api.py::TestCollectionAPI::test_create_collection_exists_ok",
}


def pytest_collection_modifyitems(config, items):
    patterns = _deselect_patterns()
    for item in items:
        if item.nodeid.split("tests/", 1)[-1] in UNSKIP:
            item.own_markers[:] = [m for m in item.own_markers if m.name != "skip"]
    keep, drop = [], []
    for item in items:
        nodeid = item.nodeid.split("tests/", 1)[-1]
        if any(fnmatch.fnmatchcase(nodeid, p) for p in patterns):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(autouse=True)
def _isolated_cache(monkeypatch):
    """Each test gets an empty cache and token folder."""
    with SoftTemporaryDirectory() as home:
        for name, sub in (
            ("HF_HOME", ""),
            ("HF_HUB_CACHE", "hub"),
            ("HUGGINGFACE_HUB_CACHE", "hub"),
            ("HF_XET_CACHE", "xet"),
            ("HF_ASSETS_CACHE", "assets"),
            ("HF_TOKEN_PATH", "token"),
            ("HF_STORED_TOKENS_PATH", "stored_tokens"),
        ):
            monkeypatch.setattr(constants, name, os.path.join(home, sub) if sub else home)
        monkeypatch.setattr(constants, "HF_HUB_DISABLE_EXPERIMENTAL_WARNING", True)
        monkeypatch.setenv("NO_COLOR", "1")
        yield


@pytest.fixture(autouse=True)
def _production_marker(request, monkeypatch):
    """As upstream: tests marked production talk to huggingface.co. Those that
    really do are in deselect.txt; the others only build URLs or read the cache."""
    if request.node.get_closest_marker("production"):
        monkeypatch.setattr(constants, "ENDPOINT", PRODUCTION)
        monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", PRODUCTION + "/{repo_id}/resolve/{revision}/{filename}")


@pytest.fixture(autouse=True)
def xet_mode(request, monkeypatch):
    """Tests marked xet run with Xet forced on; no_xet ones only without hf_xet."""
    if request.node.get_closest_marker("xet"):
        if not is_package_available("hf_xet"):
            pytest.skip("needs hf_xet")
        if _XET_OFF:
            # The run covers the plain LFS path: files were uploaded without Xet.
            pytest.skip("needs Xet, which HF_HUB_DISABLE_XET turns off for this run")
        monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", False)
        monkeypatch.delenv("HF_HUB_DISABLE_XET", raising=False)
    elif request.node.get_closest_marker("no_xet") and is_package_available("hf_xet"):
        pytest.skip("must run without hf_xet, which is installed")


@pytest.fixture(autouse=True)
def _git_lfs_marker(request):
    if request.node.get_closest_marker("git_lfs") and os.environ.get("RUN_GIT_LFS_TESTS") != "1":
        pytest.skip("git-lfs test (RUN_GIT_LFS_TESTS=1 runs it)")


@pytest.fixture(autouse=True)
def _deprecated_marker(request):
    names = [n for m in request.node.iter_markers("deprecated") for n in m.args]
    if not names:
        yield
        return
    with pytest.warns(FutureWarning) as caught:
        yield
    text = " ".join(str(w.message) for w in caught)
    for name in names:
        assert f"'{name}'" in text, f"no FutureWarning about {name!r}"


@pytest.fixture(scope="session")
def api():
    return HfApi(endpoint=ENDPOINT, token=testing_constants.TOKEN)


@pytest.fixture(scope="session")
def api_prod():
    return HfApi(endpoint=PRODUCTION)


class RepoFactory(Protocol):
    """Creates a repository on the server, deleted when the test ends."""

    def __call__(self, repo_type: str = "model", **kwargs) -> RepoUrl: ...


@pytest.fixture
def repo_factory(api):
    made = []

    def make(repo_type="model", **kwargs):
        if repo_type == "space":
            kwargs.setdefault("space_sdk", "gradio")
        kwargs.setdefault("repo_id", testing_utils.repo_name(prefix=repo_type))
        url = api.create_repo(repo_type=repo_type, **kwargs)
        made.append((url.repo_id, repo_type, kwargs.get("token")))
        return url

    yield make
    for repo_id, repo_type, token in made:
        try:
            api.delete_repo(repo_id=repo_id, repo_type=repo_type, token=token)
        except Exception:
            pass


from . import testing_utils  # noqa: E402  (after the constants are patched)

__all__ = ["RepoFactory", "huggingface_hub"]
