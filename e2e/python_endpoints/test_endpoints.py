"""One dedicated endpoint's life, in order, through huggingface_hub and the hf CLI.

The tests share the endpoint and run in file order (the Go driver passes -x):
create and wait, call, pause and resume, scale to zero and wake, roll out a
good commit, fail a corrupt one while the old revision serves, split traffic
against a larger (slower) model and read the statistics; then, once the Go
driver has restarted Haven (tests marked after_restart), find it restored, roll
back, delete.
"""

import subprocess
import sys
import time

import pytest
import httpx
from huggingface_hub import InferenceClient
from huggingface_hub.errors import InferenceEndpointError

NAME = "sentiment"
TEXT = "i like this movie a lot it was great " * 6
state = {}


def raw(api, endpoint, token, method="GET", path="", **kw):
    url = f"{endpoint}/api/endpoints/v2/endpoint/{api.whoami()['name']}/{NAME}{path}"
    r = httpx.request(method, url, headers={"Authorization": f"Bearer {token}"}, timeout=60, **kw)
    return r


def classify(url, token, session=None, timeout=120):
    headers = {"Authorization": f"Bearer {token}"}
    if session:
        headers["X-Haven-Session"] = session
    r = httpx.post(url, json={"inputs": TEXT}, headers=headers, timeout=timeout)
    assert r.status_code == 200, r.text
    out = r.json()
    assert isinstance(out, list) and {x["label"] for x in out[0]} == {"negative", "positive"}, out
    return r.headers.get("X-Haven-Revision")


def hf_cli(endpoint, token, *args):
    """Runs the hf CLI in a python whose endpoints base URL points at Haven."""
    code = ("import sys, huggingface_hub.constants as c; "
            f"c.INFERENCE_ENDPOINTS_ENDPOINT = {endpoint + '/api/endpoints/v2'!r}; "
            "from huggingface_hub.cli.hf import main; sys.argv = ['hf'] + sys.argv[1:]; main()")
    run = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60,
                         env={**__import__("os").environ, "HF_TOKEN": token})
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def test_create_and_wait(api, models, endpoint, token):
    start = time.time()
    ep = api.create_inference_endpoint(
        NAME, repository=models["classifier"], revision=models["first"], framework="pytorch",
        accelerator="cpu", instance_size="x1", instance_type="intel-icl", region="us-east-1", vendor="aws",
        min_replica=0, max_replica=2, scale_to_zero_timeout=30, tags=["e2e"])
    assert ep.status in ("pending", "initializing"), ep.raw["status"]
    assert ep.revision == models["first"] and ep.task == "text-classification"
    assert ep.raw["compute"]["id"].startswith("haven-local-cpu-"), ep.raw["compute"]
    assert ep.raw["status"]["url"] == f"{endpoint}/e/{api.whoami()['name']}/{NAME}"
    ep.wait(timeout=300, refresh_every=1)
    assert ep.status == "running"
    print(f"endpoint ready in {time.time() - start:.1f}s")
    state["ep"] = ep


def test_client_and_auth(token, endpoint):
    ep = state["ep"]
    out = ep.client.text_classification(TEXT)
    assert isinstance(out, list) and out[0].label in ("negative", "positive"), out
    # An authenticated endpoint refuses callers without a token.
    r = httpx.post(ep.url, json={"inputs": "hi"}, timeout=30)
    assert r.status_code == 401, r.text


def test_pause_and_resume(api):
    ep = state["ep"].pause()
    assert ep.status == "paused" and ep.url is None
    ep = ep.resume()
    ep.wait(timeout=300, refresh_every=1)
    # Resuming a running endpoint is fine (the API answers "already running").
    ep = ep.resume(running_ok=True)
    assert ep.status == "running"
    with pytest.raises(Exception, match="already running"):
        api.resume_inference_endpoint(NAME, running_ok=False)
    state["ep"] = ep


def test_scale_to_zero_and_wake(token):
    ep = state["ep"].scale_to_zero()
    assert ep.status == "scaledToZero" and ep.url
    # Health checks do not wake it.
    r = httpx.get(ep.url + "/health", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 503
    assert ep.fetch().status == "scaledToZero"
    start = time.time()
    assert classify(ep.url, token) == "r1"  # held until a replica is up
    print(f"woke from zero in {time.time() - start:.1f}s")
    assert ep.fetch().status == "running"


def test_update_rolls_out(models, token):
    ep = state["ep"].update(revision=models["second"])
    assert ep.status in ("updating", "running"), ep.raw["status"]
    ep.wait(timeout=300, refresh_every=1)
    assert ep.revision == models["second"]
    assert classify(ep.url, token) == "r2"
    assert ep.raw["traffic"] == [{"revision": "r2", "percent": 100}], ep.raw["traffic"]


def test_broken_update_keeps_old(models, token, api, endpoint):
    ep = state["ep"].update(revision=models["broken"])
    with pytest.raises(InferenceEndpointError):
        ep.wait(timeout=300, refresh_every=1)
    ep = ep.fetch()
    assert ep.status == "updateFailed", ep.raw["status"]
    assert ep.revision == models["second"]  # the revision that serves
    revs = {r["id"]: r for r in ep.raw["revisions"]}
    assert revs["r3"]["state"] == "failed" and revs["r3"]["commit"] == models["broken"]
    for _ in range(3):
        assert classify(ep.url, token) == "r2"
    logs = raw(api, endpoint, token, path="/logs").text
    assert "r3" in logs and "failed" in logs, logs[-2000:]
    state["ep"] = ep


def test_split_detects_slower_arm(models, token, api, endpoint):
    # The larger model as a canary taking half the traffic.
    r = raw(api, endpoint, token, "PUT", json={"model": {"repository": models["large"]},
                                               "rollout": {"strategy": "canary", "canaryPercent": 50}})
    assert r.status_code == 200, r.text
    ep = state["ep"].fetch()
    ep.wait(timeout=300, refresh_every=1)
    assert sorted((t["revision"], t["percent"]) for t in ep.raw["traffic"]) == [("r2", 50), ("r4", 50)], ep.raw["traffic"]
    # Callers stick to one arm per session; sessions spread over both.
    seen = {}
    for i in range(120):
        rev = classify(ep.url, token, session=f"user-{i}")
        seen[rev] = seen.get(rev, 0) + 1
    assert classify(ep.url, token, session="user-7") == classify(ep.url, token, session="user-7")
    assert seen.get("r2", 0) >= 30 and seen.get("r4", 0) >= 30, seen
    httpx.post(f"{endpoint}/api/endpoints/v2/endpoint/{api.whoami()['name']}/{NAME}/feedback",
                  json={"revision": "r4", "score": 1}, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    ep = ep.fetch()
    stats = ep.raw["stats"]
    assert stats["revisions"]["r2"]["requests"] >= seen["r2"] and stats["revisions"]["r4"]["requests"] >= seen["r4"], stats
    cmp = stats["comparison"]
    print("comparison:", cmp, "latency:", stats["revisions"]["r2"]["latencyMs"], stats["revisions"]["r4"]["latencyMs"])
    assert cmp["a"] == "r2" and cmp["b"] == "r4"
    assert cmp["verdict"].startswith("r4 is slower than r2, p"), cmp
    metrics = raw(api, endpoint, token, path="/open-metrics").text
    assert 'http_requests_total{revision="r4",status_code="2xx"}' in metrics and metrics.endswith("# EOF\n"), metrics


def test_custom_command(api, models, token):
    """image.custom: a command of the endpoint's own, run by the process runner in the model's environment on
    the model's files (at /repository), ready once its health route answers."""
    common = dict(repository=models["classifier"], framework="pytorch", accelerator="cpu", instance_size="x1",
                  instance_type="intel-icl", region="us-east-1", vendor="aws", min_replica=1, max_replica=1)
    # An image without a command cannot run here: a 400 that says so.
    with pytest.raises(Exception, match="cannot run the image"):
        api.create_inference_endpoint("custom-image", custom_image={"url": "ghcr.io/example/server:1"}, **common)
    ep = api.create_inference_endpoint(
        "custom", custom_image={"url": "ghcr.io/example/server:1", "health_route": "/config.json"},
        container_command=["python", "-m", "http.server"],
        container_args=["${PORT}", "--bind", "127.0.0.1", "--directory", "/repository"], **common)
    assert ep.raw["healthRoute"] == "/config.json"
    ep.wait(timeout=300, refresh_every=1)
    headers = {"Authorization": f"Bearer {token}"}
    r = httpx.get(ep.url + "/config.json", headers=headers, timeout=60)
    assert r.status_code == 200 and r.json()["id2label"] == {"0": "negative", "1": "positive"}, r.text
    assert httpx.get(ep.url + "/health", headers=headers, timeout=60).status_code == 200
    ep.delete()


@pytest.mark.after_restart
def test_restored_after_restart(api, token):
    ep = api.get_inference_endpoint(NAME)
    start = time.time()
    ep.wait(timeout=300, refresh_every=1)
    print(f"running again {time.time() - start:.1f}s after the restart")
    assert sorted((t["revision"], t["percent"]) for t in ep.raw["traffic"]) == [("r2", 50), ("r4", 50)], ep.raw["traffic"]
    stats = ep.raw["stats"]
    assert stats["revisions"]["r2"]["requests"] >= 30 and stats["revisions"]["r4"]["requests"] >= 30, stats
    assert stats["comparison"]["verdict"].startswith("r4 is slower than r2"), stats["comparison"]
    assert {classify(ep.url, token, session=f"user-{i}") for i in range(20)} == {"r2", "r4"}
    state["ep"] = ep


@pytest.mark.after_restart
def test_rollback(models, token, api, endpoint):
    r = raw(api, endpoint, token, "POST", path="/rollback")
    assert r.status_code == 200, r.text
    assert r.json()["traffic"] == [{"revision": "r2", "percent": 100}]
    ep = state["ep"].fetch()
    assert ep.revision == models["second"] and ep.repository == models["classifier"]
    for i in range(5):
        assert classify(ep.url, token, session=f"user-{i}") == "r2"


@pytest.mark.after_restart
def test_cli_and_delete(api, endpoint, token):
    listing = hf_cli(endpoint, token, "endpoints", "ls")
    assert NAME in listing, listing
    described = hf_cli(endpoint, token, "endpoints", "describe", NAME)
    assert "ep-classifier" in described, described
    assert [e.name for e in api.list_inference_endpoints()] == [NAME]
    state["ep"].delete()
    assert api.list_inference_endpoints() == []
    r = httpx.post(state["ep"].url, json={"inputs": "hi"}, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 404
