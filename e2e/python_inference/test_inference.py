"""Serverless inference through Haven's /inference routes with the official clients."""

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi, InferenceClient
from huggingface_hub.errors import HfHubHTTPError

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = [{"role": "user", "content": "what colour is the red cat ?"}]


def model_url(endpoint, repo):
    return f"{endpoint}/inference/hf-inference/models/{repo}"


def test_feature_extraction(endpoint, token, models):
    start = time.monotonic()
    client = InferenceClient(model=model_url(endpoint, models["minilm"]), token=token)
    out = client.feature_extraction("Haven serves models")
    assert out.shape == (1, 384)
    print(f"cold feature_extraction: {time.monotonic() - start:.1f}s")
    start = time.monotonic()
    assert client.feature_extraction("again").shape == (1, 384)
    print(f"warm feature_extraction: {time.monotonic() - start:.3f}s")


def test_sentence_similarity(endpoint, token, models):
    client = InferenceClient(model=model_url(endpoint, models["minilm"]), token=token)
    scores = client.sentence_similarity("a dog runs in the park",
                                        other_sentences=["a puppy is running outside", "stock prices fell sharply"])
    assert len(scores) == 2 and scores[0] > scores[1]


def test_text_classification(endpoint, token, models):
    client = InferenceClient(model=model_url(endpoint, models["classifier"]), token=token)
    out = client.text_classification("the movie was really great")
    assert isinstance(out, list)
    assert {o.label for o in out} == {"negative", "positive"}
    assert abs(sum(o.score for o in out) - 1) < 1e-3


def test_chat_completion(endpoint, token, models):
    client = InferenceClient(base_url=f"{endpoint}/inference/v1", api_key=token)
    out = client.chat_completion(messages=MESSAGES, model=models["llama"], max_tokens=8)
    assert out.choices[0].message.role == "assistant"
    assert isinstance(out.choices[0].message.content, str)
    chunks = list(client.chat_completion(messages=MESSAGES, model=models["llama"] + ":fastest", max_tokens=8, stream=True))
    assert chunks and chunks[-1].choices[0].finish_reason in ("stop", "length")
    # The model's own URL: Python sends model="dummy", which is ignored.
    per_model = InferenceClient(model=model_url(endpoint, models["llama"]), token=token)
    assert per_model.chat_completion(messages=MESSAGES, max_tokens=4).choices[0].message.role == "assistant"


def test_private_model(endpoint, token, other_token, models):
    url = model_url(endpoint, models["private"])
    assert isinstance(InferenceClient(model=url, token=token).text_classification("lovely"), list)
    with pytest.raises(HfHubHTTPError) as e:
        InferenceClient(model=url, token=other_token).text_classification("lovely")
    assert e.value.response.status_code == 404
    r = httpx.post(url, json={"inputs": "x"}, timeout=60)
    assert r.status_code == 401


def test_refusals(endpoint, token, models):
    r = httpx.post(model_url(endpoint, models["noweights"]), json={"inputs": "x"},
                      headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert r.status_code == 422 and "no weights" in r.json()["error"]
    r = httpx.post(f"{endpoint}/inference/v1/chat/completions", json={"messages": MESSAGES},
                      headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert r.status_code == 400 and "namespace/name" in r.json()["error"]


def test_hub_metadata(endpoint, token, models):
    api = HfApi(endpoint=endpoint, token=token)
    InferenceClient(model=model_url(endpoint, models["minilm"]), token=token).feature_extraction("warm up")
    info = api.model_info(models["minilm"], expand=["inference", "inferenceProviderMapping", "pipeline_tag"])
    assert info.inference == "warm"
    [m] = info.inference_provider_mapping
    assert (m.provider, m.provider_id, m.task, m.status) == ("hf-inference", models["minilm"], "feature-extraction", "live")
    info = api.model_info(models["noweights"], expand=["inference"])
    assert info.inference is None
    listed = list(api.list_models(search="inf-llama", expand=["inferenceProviderMapping"]))
    assert [m.inference_provider_mapping[0].task for m in listed] == ["text-generation"]
    tasks = httpx.get(f"{endpoint}/api/tasks", timeout=60).json()
    assert models["classifier"] in tasks["text-classification"]["widgetModels"]
    assert models["private"] not in tasks["text-classification"]["widgetModels"]
    ids = [d["id"] for d in httpx.get(f"{endpoint}/inference/v1/models",
                                         headers={"Authorization": f"Bearer {token}"}, timeout=60).json()["data"]]
    assert models["llama"] in ids and models["minilm"] in ids


def test_openai_sdk(endpoint, token, models):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=f"{endpoint}/inference/v1", api_key=token)
    out = client.chat.completions.create(model=models["llama"], messages=MESSAGES, max_tokens=8)
    assert out.choices[0].message.role == "assistant"
    stream = client.chat.completions.create(model=models["llama"], messages=MESSAGES, max_tokens=8, stream=True)
    assert len([c for c in stream]) > 0
    emb = client.embeddings.create(model=models["minilm"], input=["a dog", "a cat"])
    assert len(emb.data) == 2 and len(emb.data[0].embedding) == 384


def test_js_client(endpoint, token, models):
    js = ROOT / "e2e" / "js"
    if not (js / "node_modules" / "@huggingface" / "inference").exists() or not shutil.which("node"):
        pytest.skip("@huggingface/inference is not installed in e2e/js (scripts/setup-test-deps.sh)")
    script = (Path(__file__).parent / "js_inference.mjs").read_text()
    # Module code on stdin resolves packages from the working folder.
    run = subprocess.run(["node", "--input-type=module"], input=script, cwd=js, capture_output=True, text=True,
                         timeout=300, env={**os.environ, "HAVEN_URL": endpoint, "HAVEN_TOKEN": token,
                                           "MODELS": json.dumps(models)})
    assert run.returncode == 0, run.stdout + run.stderr
    assert "js ok" in run.stdout
