"""Tiny randomly initialised BERT heads: the shapes of text-classification, zero-shot-classification,
token-classification and question-answering."""

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
    raw = {x["label"]: x["score"] for x in classifier.post("/", {
        "inputs": "good", "parameters": {"function_to_apply": "none"}}).json()[0]}
    r = classifier.post("/", {"inputs": "good", "parameters": {"function_to_apply": "sigmoid"}})
    for x in r.json()[0]:
        assert math.isclose(x["score"], 1 / (1 + math.exp(-raw[x["label"]])), rel_tol=1e-5)
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


def test_zero_shot(classifier):
    r = classifier.post("/pipeline/zero-shot-classification",
                        {"inputs": "the food was great", "parameters": {"candidate_labels": ["food", "travel", "music"]}})
    assert r.status_code == 200, r.text
    out = r.json()
    assert isinstance(out, list) and {x["label"] for x in out} == {"food", "travel", "music"}
    assert math.isclose(sum(x["score"] for x in out), 1.0, abs_tol=1e-4)
    r = classifier.post("/pipeline/zero-shot-classification", {"inputs": "x"})
    assert r.status_code == 422 and "candidate_labels" in r.json()["error"]


def test_token_classification(ner):
    assert ner.get("/info").json()["task"] == "token-classification"  # inferred
    r = ner.post("/", {"inputs": "alice lives in paris"})
    assert r.status_code == 200, r.text
    ents = r.json()
    assert isinstance(ents, list)
    for e in ents:  # the aggregated form (JS requires entity_group)
        assert {"entity_group", "score", "word", "start", "end"} <= set(e)
        assert 0 <= e["start"] < e["end"] <= len("alice lives in paris") and e["word"]
    r = ner.post("/", {"inputs": "alice lives in paris", "parameters": {"aggregation_strategy": "none",
                                                                        "ignore_labels": []}})
    assert r.status_code == 200 and len(r.json()) == 4  # one per word piece
    out = InferenceClient(model=ner.url).token_classification("bob flew to rome")
    assert all(o.entity_group for o in out)


def test_question_answering(qa):
    assert qa.get("/info").json()["task"] == "question-answering"  # inferred
    context = "alice lives in paris with bob"
    r = qa.post("/", {"inputs": {"question": "where does alice live ?", "context": context}})
    assert r.status_code == 200, r.text
    ans = r.json()
    assert set(ans) == {"answer", "score", "start", "end"}
    assert context[ans["start"]:ans["end"]] == ans["answer"] and ans["answer"]
    r = qa.post("/", {"inputs": {"question": "where does alice live ?", "context": context},
                      "parameters": {"top_k": 3}})
    top = r.json()
    assert len(top) == 3 and top[0]["score"] >= top[1]["score"] >= top[2]["score"]
    out = InferenceClient(model=qa.url).question_answering(question="who is with alice ?", context=context)
    assert context[out.start:out.end] == out.answer
    r = qa.post("/", {"inputs": {"question": "where"}})
    assert r.status_code == 422
