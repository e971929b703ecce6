"""Requests that are wrong, and models that cannot be loaded."""

import subprocess

import httpx

from conftest import ENGINE, engine_python, free_port


def test_bad_payloads(classifier):
    r = httpx.post(classifier.url + "/", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/json")
    assert r.json()["error_type"] == "validation"
    r = httpx.post(classifier.url + "/", content=b"[1, 2]")
    assert r.status_code == 400 and "object" in r.json()["error"]
    r = classifier.post("/no/such/route", {"inputs": "x"})
    assert r.status_code == 404 and "error" in r.json()
    r = classifier.get("/nothing")
    assert r.status_code == 404
    r = classifier.post("/pipeline/summarization", {"inputs": "x"})
    assert r.status_code == 422 and "Traceback" not in r.text


def test_folder_without_weights_exits_non_zero(models):
    r = subprocess.run([engine_python(), str(ENGINE), "--model", str(models["noweights"]), "--port", str(free_port())],
                       capture_output=True, text=True, timeout=120, env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    assert r.returncode != 0
    assert "no model weights in" in r.stderr and "model.safetensors" in r.stderr, r.stderr


def test_unknown_task_exits_non_zero(models):
    r = subprocess.run([engine_python(), str(ENGINE), "--model", str(models["classifier"]), "--task", "image-to-3d",
                        "--port", str(free_port())], capture_output=True, text=True, timeout=120,
                       env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    assert r.returncode != 0 and "image-to-3d" in r.stderr, r.stderr
