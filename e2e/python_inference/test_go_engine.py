"""ONNX encoders served by Haven's Go engine, called with the official clients.

Run by the Go test TestGoEngine, which builds the models with build_onnx.py
into HAVEN_ONNX_MODELS (with reference.json: sentence-transformers'
embeddings and transformers' scores for a few texts) and says which backend
the engine must use (HAVEN_GO_BACKEND: onnxruntime or go). The repositories
carry no PyTorch weights that matter here: the answers must come from the
ONNX graphs, to 1e-4 of the reference.
"""

import json
import os
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from huggingface_hub import HfApi, InferenceClient

from haven_env import env

if not os.environ.get("HAVEN_ONNX_MODELS"):
    # The directory's own suite (TestPythonInference) runs without these models.
    pytest.skip("HAVEN_ONNX_MODELS is not set: TestGoEngine runs this file", allow_module_level=True)

TOL = 1e-4


@pytest.fixture(scope="module")
def onnx_models(endpoint, token):
    root = Path(env("HAVEN_ONNX_MODELS"))
    ref = json.loads((root / "reference.json").read_text())
    api = HfApi(endpoint=endpoint, token=token)
    repos = {}
    for role in ("embedder", "classifier", "nli", "tokens", "ranker"):
        repo = f"{env('HAVEN_USER')}/go-{role}"
        api.create_repo(repo, exist_ok=True)
        # Only what the Go engine reads: the Python engine could not load these.
        api.upload_folder(repo_id=repo, folder_path=str(root / role), commit_message="ONNX fixture",
                          allow_patterns=["*.onnx", "*.json", "README.md", "1_Pooling/*"],
                          ignore_patterns=["model.safetensors"])
        repos[role] = repo
    return repos, ref


def url(endpoint, repo):
    return f"{endpoint}/inference/hf-inference/models/{repo}"


def test_feature_extraction(endpoint, token, onnx_models):
    repos, ref = onnx_models
    client = InferenceClient(model=url(endpoint, repos["embedder"]), token=token)
    start = time.monotonic()
    first = client.feature_extraction(ref["texts"][0])
    print(f"go engine cold feature_extraction: {time.monotonic() - start:.2f}s")
    assert first.shape == (1, len(ref["embeddings"][0]))
    for text, want in zip(ref["texts"], ref["embeddings"]):
        got = client.feature_extraction(text)
        assert np.abs(got[0] - np.asarray(want)).max() < TOL, text
    info = httpx.get(f"{endpoint}/inference/models/{repos['embedder']}/info",
                     headers={"Authorization": f"Bearer {token}"}, timeout=60).json()
    assert info["engine"] == "go" and info["backend"] == env("HAVEN_GO_BACKEND"), info
    assert info["model_type"] == {"embedding": {"pooling": "mean"}}


def test_sentence_similarity(endpoint, token, onnx_models):
    repos, ref = onnx_models
    client = InferenceClient(model=url(endpoint, repos["embedder"]), token=token)
    emb = np.asarray(ref["embeddings"])
    scores = client.sentence_similarity(ref["texts"][0], other_sentences=ref["texts"][1:])
    assert np.abs(np.asarray(scores) - emb[1:] @ emb[0]).max() < TOL


def test_openai_embeddings(endpoint, token, onnx_models):
    repos, ref = onnx_models
    r = httpx.post(f"{endpoint}/inference/v1/embeddings", json={"model": repos["embedder"], "input": ref["texts"]},
                   headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "list" and body["usage"]["prompt_tokens"] > 0
    got = np.asarray([d["embedding"] for d in sorted(body["data"], key=lambda d: d["index"])])
    assert np.abs(got - np.asarray(ref["embeddings"])).max() < TOL


def test_text_classification(endpoint, token, onnx_models):
    repos, ref = onnx_models
    client = InferenceClient(model=url(endpoint, repos["classifier"]), token=token)
    for text, want in zip(ref["texts"], ref["scores"]):
        out = client.text_classification(text)
        got = {o.label: o.score for o in out}
        assert set(got) == set(ref["labels"])
        for label, score in zip(ref["labels"], want):
            assert abs(got[label] - score) < TOL, (text, label)


def test_wrong_task(endpoint, token, onnx_models):
    repos, _ = onnx_models
    r = httpx.post(f"{url(endpoint, repos['classifier'])}/v1/embeddings", json={"input": "a"},
                   headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert r.status_code == 422 and r.json()["error"]


def test_zero_shot_classification(endpoint, token, onnx_models):
    repos, ref = onnx_models
    client = InferenceClient(model=url(endpoint, repos["nli"]), token=token)
    for zs in ref["zero_shot"]:
        out = client.zero_shot_classification(zs["text"], zs["candidate_labels"], multi_label=zs["multi_label"])
        want = dict(zip(zs["labels"], zs["scores"]))
        assert {o.label for o in out} == set(want)
        for o in out:
            assert abs(o.score - want[o.label]) < TOL, (zs, out)
        assert [o.score for o in out] == sorted((o.score for o in out), reverse=True)


def test_token_classification(endpoint, token, onnx_models):
    repos, ref = onnx_models
    client = InferenceClient(model=url(endpoint, repos["tokens"]), token=token)
    for text, want in zip(ref["tokens"]["texts"], ref["tokens"]["simple"]):
        out = client.token_classification(text)  # the default aggregation: simple
        assert [(o.entity_group, o.word, o.start, o.end) for o in out] == \
            [(w["entity_group"], w["word"], w["start"], w["end"]) for w in want], text
        for o, w in zip(out, want):
            assert abs(o.score - w["score"]) < TOL


def test_rerank(endpoint, token, onnx_models):
    repos, ref = onnx_models
    rr = ref["rerank"]
    # TEI's /rerank body at the model's own URL (dispatched by its pipeline tag) and at /rerank.
    for path in ("", "/rerank"):
        r = httpx.post(url(endpoint, repos["ranker"]) + path, json={"query": rr["query"], "texts": rr["texts"]},
                       headers={"Authorization": f"Bearer {token}"}, timeout=60)
        assert r.status_code == 200, r.text
        got = r.json()
        assert sorted(g["index"] for g in got) == list(range(len(rr["texts"])))
        for g in got:
            assert abs(g["score"] - rr["scores"][g["index"]]) < TOL
        assert [g["score"] for g in got] == sorted((g["score"] for g in got), reverse=True)
