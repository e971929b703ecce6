"""A tiny randomly initialised BERT classifier: the shapes of text-classification."""

import math

from huggingface_hub import InferenceClient


def test_text_classification_shape(classifier):
    r = classifier.post("/", {"inputs": "the movie was great"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert isinstance(out, list) and len(out) == 1 and isinstance(out[0], list)  # a list in a list
    labels = out[0]
    assert {x["label"] for x in labels} == {"negative", "positive"}
    assert math.isclose(sum(x["score"] for x in labels), 1.0, abs_tol=1e-5)
    assert labels[0]["score"] >= labels[1]["score"]


def test_parameters_and_batch(classifier):
    r = classifier.post("/", {"inputs": ["good", "bad", "so so"], "parameters": {"top_k": 1}})
    assert r.status_code == 200, r.text
    out = r.json()
    assert len(out) == 3 and all(len(x) == 1 for x in out)
    r = classifier.post("/", {"inputs": "good", "parameters": {"function_to_apply": "sigmoid"}})
    scores = [x["score"] for x in r.json()[0]]
    assert all(0 < s < 1 for s in scores) and not math.isclose(sum(scores), 1.0, abs_tol=1e-3)
    r = classifier.post("/pipeline/text-classification", {"inputs": {"text": "the food", "text_pair": "was good"}})
    assert r.status_code == 200 and len(r.json()[0]) == 2
    r = classifier.post("/predict", {"inputs": "good"})  # TEI shape: flat for one input
    assert r.status_code == 200 and isinstance(r.json()[0], dict)


def test_inference_client(classifier):
    client = InferenceClient(model=classifier.url)
    out = client.text_classification("I like you. I love you")
    assert len(out) == 2 and {o.label for o in out} == {"negative", "positive"}
    out = client.text_classification("I like you", top_k=1)
    assert len(out) == 1


def test_info(classifier):
    info = classifier.get("/info").json()
    assert info["task"] == "text-classification"  # inferred from BertForSequenceClassification
    assert info["model_type"]["classifier"]["id2label"] == {"0": "negative", "1": "positive"}


def test_validation_errors(classifier):
    r = classifier.post("/", {})
    assert r.status_code == 422
    assert r.json()["error_type"] == "validation" and "inputs" in r.json()["error"]
    r = classifier.post("/", {"inputs": "x", "parameters": {"function_to_apply": "cube"}})
    assert r.status_code == 422 and "function_to_apply" in r.json()["error"]
    r = classifier.post("/pipeline/text-generation", {"inputs": "x"})
    assert r.status_code == 422 and "text-classification" in r.json()["error"]
    r = classifier.post("/v1/completions", {"prompt": "x"})
    assert r.status_code == 422
