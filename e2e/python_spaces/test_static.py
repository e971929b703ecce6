"""Static Spaces, the Spaces API and what needs no runner."""

import uuid

import pytest
from huggingface_hub import SpaceStage
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError
from huggingface_hub.utils import get_session


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_static_space_served(api, anon_api, endpoint):
    repo_id = f"alice/{unique('site')}"
    api.create_repo(repo_id, repo_type="space", space_sdk="static")
    files = {f.rfilename for f in api.space_info(repo_id, files_metadata=False).siblings}
    assert {"README.md", "index.html", "style.css", ".gitattributes"} <= files

    runtime = api.get_space_runtime(repo_id)
    assert runtime.stage == SpaceStage.RUNNING
    assert runtime.raw["hardware"] == {"current": None, "requested": None}

    api.upload_file(repo_id=repo_id, repo_type="space", path_or_fileobj=b"<html><head></head><body>v2</body></html>", path_in_repo="index.html")
    api.upload_file(repo_id=repo_id, repo_type="space", path_or_fileobj=b"body{}", path_in_repo="css/site.css")
    api.add_space_variable(repo_id, "GREETING", "</script><b>hi</b>")
    api.add_space_secret(repo_id, "HIDDEN", "never-shown-4711")

    info = anon_api.space_info(repo_id)
    assert info.host.startswith(endpoint)
    assert info.subdomain == repo_id.replace("/", "-").lower()
    s = get_session()
    r = s.get(info.host + "/")
    assert r.status_code == 200
    assert "v2" in r.text
    # Variables reach the page, inert; secrets never do.
    assert "window.huggingface" in r.text and "\\u003c/script\\u003e" in r.text
    assert "never-shown-4711" not in r.text
    css = s.get(info.host + "/css/site.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert s.get(info.host + "/missing.js").status_code == 404

    # Static Spaces cannot be paused or restarted.
    with pytest.raises(HfHubHTTPError) as e:
        api.pause_space(repo_id)
    assert e.value.response.status_code == 400


def test_private_static_space(api, other_api, anon_api):
    repo_id = f"alice/{unique('private-site')}"
    api.create_repo(repo_id, repo_type="space", space_sdk="static", private=True)
    host = api.space_info(repo_id).host
    for client in (other_api, anon_api):
        with pytest.raises(RepositoryNotFoundError):
            client.get_space_runtime(repo_id)
        with pytest.raises(RepositoryNotFoundError):
            client.get_space_variables(repo_id)
    s = get_session()
    assert s.get(host + "/").status_code in (401, 404)
    assert s.get(host + "/", headers={"Authorization": f"Bearer {other_api.token}"}).status_code == 404
    owner = s.get(host + "/", headers={"Authorization": f"Bearer {api.token}"})
    assert owner.status_code == 200 and "static Space" in owner.text


def test_secrets_and_variables(api, other_api):
    repo_id = f"alice/{unique('env')}"
    api.create_repo(repo_id, repo_type="space", space_sdk="gradio")
    api.add_space_secret(repo_id, "API_KEY", "abc123", description="for the demo")
    api.add_space_secret(repo_id, "API_KEY", "def456")
    api.delete_space_secret(repo_id, "NOT_THERE")  # a missing key is fine, as on the Hub
    secrets = api.get_space_secrets(repo_id)
    assert set(secrets) == {"API_KEY"}
    assert secrets["API_KEY"].description == "for the demo"
    assert "abc123" not in str(secrets) and "def456" not in str(secrets)

    api.add_space_variable(repo_id, "MODEL", "alice/tiny", description="which model")
    api.add_space_variable(repo_id, "TEMP", "0.5")
    variables = api.get_space_variables(repo_id)
    assert {k: v.value for k, v in variables.items()} == {"MODEL": "alice/tiny", "TEMP": "0.5"}
    assert variables["MODEL"].description == "which model"
    api.delete_space_variable(repo_id, "TEMP")
    api.delete_space_variable(repo_id, "TEMP")
    assert set(api.get_space_variables(repo_id)) == {"MODEL"}

    # Others may read a public Space's variables but not change anything or list secrets.
    assert set(other_api.get_space_variables(repo_id)) == {"MODEL"}
    for call in (
        lambda: other_api.add_space_secret(repo_id, "X", "y"),
        lambda: other_api.get_space_secrets(repo_id),
        lambda: other_api.add_space_variable(repo_id, "X", "y"),
        lambda: other_api.pause_space(repo_id),
        lambda: other_api.restart_space(repo_id),
    ):
        with pytest.raises(HfHubHTTPError) as e:
            call()
        assert e.value.response.status_code == 403

    with pytest.raises(HfHubHTTPError) as e:
        api.add_space_variable(repo_id, "bad key", "v")
    assert e.value.response.status_code == 400


def test_hardware_and_sleep_time(api):
    repo_id = f"alice/{unique('hw')}"
    api.create_repo(repo_id, repo_type="space", space_sdk="gradio")
    names = [h.name for h in api.list_spaces_hardware()]
    assert "cpu-basic" in names
    runtime = api.request_space_hardware(repo_id, "cpu-upgrade")
    assert runtime.requested_hardware == "cpu-upgrade"
    assert runtime.sleep_time is None  # upgraded hardware never sleeps unless asked
    runtime = api.set_space_sleep_time(repo_id, 3600)
    assert runtime.sleep_time == 3600
    with pytest.raises(HfHubHTTPError) as e:
        api.request_space_hardware(repo_id, "quantum-xl")
    assert e.value.response.status_code == 400
    assert "cpu-basic" in e.value.response.headers["X-Error-Message"]


def test_config_errors(api):
    gradio = f"alice/{unique('noapp')}"
    api.create_repo(gradio, repo_type="space", space_sdk="gradio")
    assert api.wait_for_space(gradio, timeout=60).stage == "NO_APP_FILE"

    docker = f"alice/{unique('docker')}"
    api.create_repo(docker, repo_type="space", space_sdk="docker")
    api.upload_file(repo_id=docker, repo_type="space", path_or_fileobj=b"FROM python:3.12\nCMD python -m http.server 7860\n", path_in_repo="Dockerfile")
    rt = api.wait_for_space(docker, timeout=60)
    assert rt.stage == "CONFIG_ERROR"
    assert "container engine" in rt.raw["errorMessage"]

    bad = f"alice/{unique('badcard')}"
    api.create_repo(bad, repo_type="space", space_sdk="gradio")
    api.upload_file(repo_id=bad, repo_type="space", path_or_fileobj=b"print(1)\n", path_in_repo="app.py")
    api.upload_file(repo_id=bad, repo_type="space", path_or_fileobj=b"---\nsdk: gradio\npython_version: '2.7'\n---\n", path_in_repo="README.md")
    rt = api.wait_for_space(bad, timeout=60)
    assert rt.stage == "CONFIG_ERROR"
    assert "python_version" in rt.raw["errorMessage"]


def test_missing_space(api):
    with pytest.raises(RepositoryNotFoundError):
        api.get_space_runtime("alice/does-not-exist")
    r = get_session().get(api.endpoint + "/-/spaces/alice/does-not-exist/", headers={"Authorization": f"Bearer {api.token}"})
    assert r.status_code == 404
