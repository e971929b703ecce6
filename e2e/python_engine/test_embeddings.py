"""Embedding models: the real all-MiniLM-L6-v2 (sentence-transformers) and a tiny plain BERT (mean pooled)."""

import json
import re
import threading

import httpx
import numpy as np
import pytest
from huggingface_hub import InferenceClient


def test_feature_extraction_shapes(minilm):
    r = minilm.post("/", {"inputs": "A man is eating food."})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    emb = np.array(r.json(), dtype=np.float32)
    assert emb.shape == (1, 384)
    assert abs(np.linalg.norm(emb[0]) - 1.0) < 1e-3  # normalize defaults to true

    r = minilm.post("/", {"inputs": ["one", "two", "three"], "normalize": False})
    assert r.status_code == 200, r.text
    emb = np.array(r.json(), dtype=np.float32)
    assert emb.shape == (3, 384)

    r = minilm.post("/pipeline/feature-extraction", {"inputs": "x"})
    assert np.array(r.json()).shape == (1, 384)
    r = minilm.post("/embed", {"inputs": "x"})
    assert np.array(r.json()).shape == (1, 384)


def test_similarity(minilm):
    body = {"inputs": {"source_sentence": "A dog runs in the park",
                       "sentences": ["A puppy is running outside", "The stock market fell sharply today"]}}
    for path in ("/", "/pipeline/sentence-similarity", "/similarity"):
        r = minilm.post(path, body)
        assert r.status_code == 200, r.text
        related, unrelated = r.json()
        assert related > unrelated + 0.3, (path, related, unrelated)


def test_inference_client(minilm):
    client = InferenceClient(model=minilm.url)
    emb = client.feature_extraction("Today is a sunny day")
    assert np.asarray(emb).shape == (1, 384)
    scores = client.sentence_similarity("Machine learning is so easy.",
                                        other_sentences=["Deep learning is so straightforward.",
                                                         "This is so difficult, like rocket science.",
                                                         "I can't believe how much I struggled with this."])
    assert len(scores) == 3 and scores[0] == max(scores)


def test_openai_embeddings(minilm):
    r = minilm.post("/v1/embeddings", {"input": ["hello", "world"], "model": "whatever"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["object"] == "list" and out["model"] == "whatever"
    assert [d["index"] for d in out["data"]] == [0, 1]
    assert all(d["object"] == "embedding" and len(d["embedding"]) == 384 for d in out["data"])
    assert out["usage"]["prompt_tokens"] > 0

    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=minilm.url + "/v1", api_key="unused")
    res = client.embeddings.create(model="all-MiniLM-L6-v2", input=["a cat", "a kitten", "a tax return"])
    vecs = np.array([d.embedding for d in res.data])
    assert vecs.shape == (3, 384)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2]


def test_limits(minilm):
    r = minilm.post("/", {"inputs": "word " * 600})
    assert r.status_code == 413, r.text
    assert r.json()["error_type"] == "validation" and "256" in r.json()["error"]
    r = minilm.post("/", {"inputs": "word " * 600, "truncate": True})
    assert r.status_code == 200
    r = minilm.post("/", {"inputs": ["x"] * 33})
    assert r.status_code == 413 and "32" in r.json()["error"]
    r = minilm.post("/", {"inputs": 5})
    assert r.status_code == 422 and r.json()["error_type"] == "validation"
    r = minilm.post("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 422 and "text-generation" in r.json()["error"]


def test_concurrent_requests_are_batched(minilm):
    results, errors = [], []
    barrier = threading.Barrier(32)

    def call(i):
        try:
            barrier.wait(10)
            r = httpx.post(minilm.url + "/", json={"inputs": f"sentence number {i} about batching"}, timeout=60)
            results.append((i, r.status_code, r.json()))
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert not errors, errors
    assert len(results) == 32 and all(code == 200 for _, code, _ in results), results
    # each request got its own embedding back
    one = minilm.post("/", {"inputs": "sentence number 7 about batching"}).json()
    got = dict((i, body) for i, _, body in results)[7]
    assert np.allclose(np.array(got), np.array(one), atol=1e-4)

    metrics = minilm.get("/metrics").text
    m = re.search(r"^haven_engine_batch_size_max\{[^}]*\} (\d+)$", metrics, re.M)
    assert m and int(m.group(1)) > 1, metrics
    assert re.search(r'^haven_engine_requests_total\{[^}]*status="200"[^}]*\} \d+$', metrics, re.M), metrics
    assert "haven_engine_requests_in_flight" in metrics and "haven_engine_queue_size" in metrics


def test_info_models_health(minilm):
    info = minilm.get("/info").json()
    assert info["model_id"] == "all-MiniLM-L6-v2"
    assert info["task"] == "feature-extraction"  # inferred: no --task was given
    assert info["dimensions"] == 384 and info["max_client_batch_size"] == 32
    assert info["model_type"]["embedding"]["pooling"] == "mean"
    models = minilm.get("/v1/models").json()
    assert models["object"] == "list" and models["data"][0]["id"] == "all-MiniLM-L6-v2"
    assert minilm.get("/health").json() == {"status": "ok"}
    assert re.search(r"^engine ready task=feature-extraction model=all-MiniLM-L6-v2 load_seconds=",
                     minilm.output(), re.M)
    assert re.search(r"^POST / 200 [\d.]+ms$", minilm.output(), re.M)


def test_health_is_503_while_loading(engines):
    seen = []
    for e in engines.values():
        e.wait()
        seen += [(code, body) for code, body in e.health if code == 503]
    assert seen, "no engine answered 503 while loading"
    body = json.loads(seen[0][1])
    assert body["error_type"] == "unhealthy" and "loading" in body["error"]


def test_plain_transformers_model_is_mean_pooled(bert):
    r = bert.post("/", {"inputs": ["the movie was great", "the food was bad"]})
    assert r.status_code == 200, r.text
    assert np.array(r.json()).shape == (2, 32)
    info = bert.get("/info").json()
    assert info["dimensions"] == 32 and info["model_type"]["embedding"]["pooling"] == "mean"
    r = bert.post("/", {"inputs": {"source_sentence": "the movie was great", "sentences": ["the movie was great"]}})
    assert r.status_code == 200 and abs(r.json()[0] - 1.0) < 1e-4
