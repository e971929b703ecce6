"""Gradio and Streamlit Spaces built and run by the process runner.

The apps install their SDK from PyPI into an environment built by uv; every
Gradio Space here asks for the same requirements, so they share one
environment and only the first build downloads anything.
"""

import hashlib
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from gradio_client import Client
from huggingface_hub import SpaceStage
from huggingface_hub.utils import get_session

GRADIO_VERSION = "6.31.0"
BUILD_TIMEOUT = 420  # the first build downloads Gradio and its dependencies

GRADIO_APP = b"""
import hashlib
import os
import gradio as gr

print("secret in the app:", os.environ.get("API_KEY"), flush=True)


def describe(name):
    return "|".join([
        "hello " + name,
        os.environ.get("GREETING", "-"),
        os.environ.get("API_KEY", "-"),
        os.environ.get("SPACE_ID", "-"),
        os.environ.get("VERSION_MARK", "v1"),
    ])


demo = gr.Interface(fn=describe, inputs="text", outputs="text", api_name="describe")
demo.launch()
"""


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def gradio_card(extra=""):
    return f"---\ntitle: Demo\nsdk: gradio\nsdk_version: {GRADIO_VERSION}\napp_file: app.py\n{extra}---\n".encode()


def make_gradio_space(api, repo_id, app=GRADIO_APP, private=False, **kwargs):
    api.create_repo(repo_id, repo_type="space", space_sdk="gradio", private=private, **kwargs)
    api.upload_file(repo_id=repo_id, repo_type="space", path_or_fileobj=app, path_in_repo="app.py")
    api.upload_file(repo_id=repo_id, repo_type="space", path_or_fileobj=gradio_card(), path_in_repo="README.md")


def wait_stage(api, repo_id, want, timeout=BUILD_TIMEOUT):
    rt = api.wait_for_space(repo_id, timeout=timeout, poll_interval=1)
    assert rt.stage == want, (rt.stage, rt.raw.get("errorMessage"), "".join(api.fetch_space_logs(repo_id, build=True))[-3000:])
    return rt


def call(api, repo_id, text):
    client = Client(repo_id, token=api.token, verbose=False)
    return client.predict(text, api_name="/describe").split("|")


@pytest.fixture(scope="module")
def gradio_space(api):
    repo_id = f"alice/{unique('demo')}"
    make_gradio_space(
        api,
        repo_id,
        space_variables=[{"key": "GREETING", "value": "good morning"}],
        space_secrets=[{"key": "API_KEY", "value": "sk-never-shown-4711"}],
    )
    wait_stage(api, repo_id, SpaceStage.RUNNING)
    return repo_id


def test_gradio_space_runs(api, gradio_space):
    rt = api.get_space_runtime(gradio_space)
    assert rt.hardware == "cpu-basic" and rt.requested_hardware == "cpu-basic"
    assert rt.raw["replicas"]["current"] == 1
    # gradio_client finds the app through space_info().host and calls it through the proxy.
    hello, greeting, secret, space_id, version = call(api, gradio_space, "bob")
    assert hello == "hello bob"
    assert greeting == "good morning"  # a variable set at creation
    assert secret == "sk-never-shown-4711"  # a secret reaches the app
    assert space_id == gradio_space

    build = "\n".join(api.fetch_space_logs(gradio_space, build=True))
    # The environment is built, or reused from another Space's (or server's) build of the same recipe.
    assert ("gradio" in build or "Reusing the cached environment" in build) and "Build done" in build
    run = "\n".join(api.fetch_space_logs(gradio_space))
    assert "secret in the app:" in run
    # Secrets are masked in the logs and never in API answers.
    assert "sk-never-shown-4711" not in run and "sk-never-shown-4711" not in build
    assert "sk-never-shown-4711" not in str(api.get_space_secrets(gradio_space))
    assert "sk-never-shown-4711" not in str(api.space_info(gradio_space))


def test_bad_push_keeps_old_version(api, gradio_space):
    api.upload_file(
        repo_id=gradio_space, repo_type="space", path_or_fileobj=b"no-such-package-haven-e2e==9.9.9\n", path_in_repo="requirements.txt"
    )
    rt = wait_stage(api, gradio_space, SpaceStage.RUNNING)
    assert "not deployed" in rt.raw["errorMessage"]
    assert call(api, gradio_space, "still")[0] == "hello still"
    build = "\n".join(api.fetch_space_logs(gradio_space, build=True))
    assert "no-such-package-haven-e2e" in build

    # A good push replaces it, and the environment is reused (same requirements).
    api.delete_file("requirements.txt", repo_id=gradio_space, repo_type="space")
    api.add_space_variable(gradio_space, "VERSION_MARK", "v2")
    wait_stage(api, gradio_space, SpaceStage.RUNNING)
    deadline = time.time() + 120
    while call(api, gradio_space, "x")[4] != "v2":
        assert time.time() < deadline, "the new version never served"
        time.sleep(1)
    assert "Reusing the cached environment" in "\n".join(api.fetch_space_logs(gradio_space, build=True))


def test_pause_and_restart(api, gradio_space):
    assert api.pause_space(gradio_space).stage == SpaceStage.PAUSED
    host = api.space_info(gradio_space).host
    r = get_session().get(host, headers={"Authorization": f"Bearer {api.token}"})
    assert r.status_code == 503
    api.restart_space(gradio_space)
    wait_stage(api, gradio_space, SpaceStage.RUNNING)
    assert call(api, gradio_space, "back")[0] == "hello back"


def test_sleep_and_wake(api, gradio_space):
    api.set_space_sleep_time(gradio_space, 2)
    deadline = time.time() + 60
    while api.get_space_runtime(gradio_space).stage != "SLEEPING":
        assert time.time() < deadline, "the Space never slept"
        time.sleep(1)
    assert api.get_space_runtime(gradio_space).hardware is None
    # An API caller is held while the app wakes, then answered.
    api.set_space_sleep_time(gradio_space, 3600)
    host = api.space_info(gradio_space).host
    r = get_session().get(host + "config", headers={"Authorization": f"Bearer {api.token}"}, timeout=120)
    assert r.status_code == 200, r.text
    assert api.get_space_runtime(gradio_space).stage == SpaceStage.RUNNING
    # A browser gets a page that waits for it.
    api.set_space_sleep_time(gradio_space, 2)
    deadline = time.time() + 60
    while api.get_space_runtime(gradio_space).stage != "SLEEPING":
        assert time.time() < deadline, "the Space never slept"
        time.sleep(1)
    page = get_session().get(host, headers={"Authorization": f"Bearer {api.token}", "Accept": "text/html"})
    assert page.status_code == 503 and "is starting up" in page.text and "runtime" in page.text
    api.set_space_sleep_time(gradio_space, 3600)
    wait_stage(api, gradio_space, SpaceStage.RUNNING)


def test_crash_is_a_runtime_error(api):
    repo_id = f"alice/{unique('crash')}"
    make_gradio_space(api, repo_id, app=b"import gradio\nraise RuntimeError('the model file is corrupt')\n")
    rt = wait_stage(api, repo_id, SpaceStage.RUNTIME_ERROR)
    assert "the model file is corrupt" in rt.raw["errorMessage"]
    run = "\n".join(api.fetch_space_logs(repo_id))
    assert "Traceback" in run and "RuntimeError: the model file is corrupt" in run


def test_private_app(api, other_api):
    repo_id = f"alice/{unique('secret-app')}"
    make_gradio_space(api, repo_id, private=True)
    wait_stage(api, repo_id, SpaceStage.RUNNING)
    assert call(api, repo_id, "me")[0] == "hello me"
    host = api.space_info(repo_id).host
    s = get_session()
    assert s.get(host + "config").status_code in (401, 404)
    assert s.get(host + "config", headers={"Authorization": f"Bearer {other_api.token}"}).status_code == 404
    assert s.get(host + "config", headers={"Authorization": f"Bearer {api.token}"}).status_code == 200


def test_duplicate_space(api, other_api, gradio_space):
    target = f"bob/{unique('copy')}"
    url = other_api.duplicate_repo(gradio_space, target, repo_type="space", space_secrets=[{"key": "API_KEY", "value": "sk-copy"}])
    assert url.repo_id == target
    info = other_api.space_info(target)
    assert info.card_data.get("duplicated_from") == gradio_space
    assert {f.rfilename for f in info.siblings} >= {"app.py", "README.md"}
    # Variables are copied, secrets only when given.
    assert {k: v.value for k, v in other_api.get_space_variables(target).items()}["GREETING"] == "good morning"
    assert set(other_api.get_space_secrets(target)) == {"API_KEY"}
    wait_stage(other_api, target, SpaceStage.RUNNING)
    assert call(other_api, target, "twin")[2] == "sk-copy"
    other_api.delete_repo(target, repo_type="space")


def test_streamlit_in_a_browser(api):
    node = shutil.which("node")
    chromium = os.environ.get("HAVEN_CHROMIUM", "/usr/bin/chromium")
    browser_dir = Path(__file__).resolve().parent.parent / "browser"
    if not node or not os.path.exists(chromium) or not (browser_dir / "node_modules" / "playwright-core").exists():
        pytest.skip("node, chromium or playwright-core is missing (scripts/setup-test-deps.sh installs them)")
    repo_id = f"alice/{unique('streamlit')}"
    api.create_repo(repo_id, repo_type="space", space_sdk="streamlit")
    api.upload_file(
        repo_id=repo_id,
        repo_type="space",
        path_or_fileobj=b"import os\nimport streamlit as st\nst.title('Counting sheep')\nst.write('space', os.environ['SPACE_ID'])\n",
        path_in_repo="app.py",
    )
    api.upload_file(
        repo_id=repo_id, repo_type="space", path_or_fileobj=b"---\ntitle: Sheep\nsdk: streamlit\napp_file: app.py\n---\n", path_in_repo="README.md"
    )
    wait_stage(api, repo_id, SpaceStage.RUNNING)
    host = api.space_info(repo_id).host
    # The page is rendered by Streamlit's script over its websocket, so its
    # text shows only when the websocket works through the proxy.
    out = subprocess.run(
        [node, str(browser_dir / "open-page.mjs"), host, "Counting sheep"],
        env={**os.environ, "HAVEN_CHROMIUM": chromium},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "websocket" in out.stdout


def test_preload_from_hub(api):
    model = f"alice/{unique('tiny-model')}"
    api.create_repo(model)
    api.upload_file(repo_id=model, path_or_fileobj=b'{"hidden_size": 8}', path_in_repo="config.json")
    weights = os.urandom(300_000)  # stored in LFS
    api.upload_file(repo_id=model, path_or_fileobj=weights, path_in_repo="weights/model.bin")
    assert api.model_info(model, files_metadata=True).siblings

    repo_id = f"alice/{unique('preload')}"
    app = b"""
import hashlib, os
import gradio as gr
from huggingface_hub import hf_hub_download

MODEL = os.environ["MODEL"]


def describe(name):
    # Offline: the files must already be in the cache the build filled.
    cfg = open(hf_hub_download(MODEL, "config.json", local_files_only=True)).read()
    w = open(hf_hub_download(MODEL, "weights/model.bin", local_files_only=True), "rb").read()
    return "|".join([cfg, hashlib.sha256(w).hexdigest(), "-", "-", "-"])


gr.Interface(fn=describe, inputs="text", outputs="text", api_name="describe").launch()
"""
    api.create_repo(repo_id, repo_type="space", space_sdk="gradio", space_variables=[{"key": "MODEL", "value": model}])
    api.upload_file(repo_id=repo_id, repo_type="space", path_or_fileobj=app, path_in_repo="app.py")
    card = gradio_card(f"preload_from_hub:\n  - {model} config.json,weights/model.bin\n")
    api.upload_file(repo_id=repo_id, repo_type="space", path_or_fileobj=card, path_in_repo="README.md")
    wait_stage(api, repo_id, SpaceStage.RUNNING)
    cfg, digest, *_ = call(api, repo_id, "x")
    assert cfg == '{"hidden_size": 8}'
    assert digest == hashlib.sha256(weights).hexdigest()
    assert "Preloading " + model in "\n".join(api.fetch_space_logs(repo_id, build=True))

    # A private model cannot be preloaded: the build says so.
    api.update_repo_settings(model, private=True)
    api.upload_file(repo_id=repo_id, repo_type="space", path_or_fileobj=gradio_card(f"preload_from_hub:\n  - {model}\n"), path_in_repo="README.md")
    rt = wait_stage(api, repo_id, SpaceStage.RUNNING)  # the old version keeps serving
    assert "private models cannot be preloaded" in rt.raw["errorMessage"]
