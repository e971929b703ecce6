"""Evaluation results, leaderboards, card documentation scores and provenance.

Three models report results on one benchmark in their model-index: two public
ones and a private one. The leaderboard API and page rank the public ones for
everyone (higher accuracy first, lower loss first) and the private one only
for its owner; validate-yaml warns about undocumented card sections without
refusing the card; listings sort and filter by the stored card score; the
provenance of a model follows base_model without showing a private base to
other users. On a second benchmark, leaderboards page by cursor (a Link header
as the Hub's listings) and filter by the parameter counts read from the
models' safetensors headers, which model_info serves as `safetensors`.
"""

import html
import json
import struct

import pytest
from huggingface_hub import CommitOperationAdd

from helpers import eventually, raw, unique

DOCUMENTED = """
# Model card

## Model Details

### Model Description

A small sentiment classifier.

## Uses

### Direct Use

Sorting reviews.

### Out-of-Scope Use

Medical decisions.

## Bias, Risks, and Limitations

English only.

## Training Details

### Training Data

Movie reviews.

### Training Procedure

Three epochs.

## Evaluation

See the model-index.

## Environmental Impact

- **Hardware Type:** one GPU for an hour
"""


def model_index(name, dataset, accuracy, loss, verified=False):
    return f"""model-index:
- name: {name}
  results:
  - task: {{type: text-classification, name: Text Classification}}
    dataset: {{type: {dataset}, name: Bench, split: test}}
    metrics:
    - {{type: accuracy, name: Accuracy, value: {accuracy}, verified: {str(verified).lower()}}}
    - {{type: loss, value: {loss}}}
"""


def push(api, repo_id, readme, private=False):
    api.create_repo(repo_id, private=private)
    api.create_commit(repo_id, operations=[CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=readme.encode())],
                      commit_message="card")


@pytest.fixture(scope="module")
def evals(api, user):
    dataset = unique("evals-bench")
    ids = {
        "dataset": dataset,
        "high": f"{user}/{unique('evals-high')}",
        "low": f"{user}/{unique('evals-low')}",
        "private": f"{user}/{unique('evals-private')}",
        "derived": f"{user}/{unique('evals-derived')}",
    }
    push(api, ids["private"], f"---\nlicense: other\ndatasets: [{user}/secret-data]\n"
         + model_index("p", dataset, 0.99, 0.01) + "---\n# private\n", private=True)
    push(api, ids["high"], "---\nlicense: mit\nlibrary_name: transformers\n"
         + model_index("high", dataset, 0.93, 0.5, verified=True) + "---\n" + DOCUMENTED)
    push(api, ids["low"], "---\nlicense: apache-2.0\n" + model_index("low", dataset, 0.71, 0.2) + "---\n# low\n")
    push(api, ids["derived"], f"---\nlicense: mit\nbase_model: {ids['private']}\n---\n# derived\n")
    return ids


def leaderboard(endpoint, token=None, **params):
    r = raw("GET", endpoint, "/api/leaderboards", token=token, params=params)
    assert r.status_code == 200, r.text[:500]
    return r.json()


def test_evals_leaderboard_api(endpoint, evals, token, other_token):
    def ranked():
        lb = leaderboard(endpoint, dataset=evals["dataset"], metric="accuracy")
        assert [e["model"] for e in lb["entries"]] == [evals["high"], evals["low"]]
        return lb
    lb = eventually(ranked)
    assert lb["selfReported"] is True and lb["lowerIsBetter"] is False
    high, low = lb["entries"]
    assert high["rank"] == 1 and high["value"] == 0.93 and high["verified"] is True and high["selfReported"] is True
    assert high["license"] == "mit" and high["library"] == "transformers" and high["datasetSplit"] == "test"
    assert low["verified"] is False
    # The private model: absent for other users, ranked for its owner.
    other = leaderboard(endpoint, token=other_token, dataset=evals["dataset"], metric="accuracy")
    assert evals["private"] not in [e["model"] for e in other["entries"]]
    mine = leaderboard(endpoint, token=token, dataset=evals["dataset"], metric="accuracy")
    assert [e["model"] for e in mine["entries"]][0] == evals["private"]
    # Loss: lower is better.
    loss = leaderboard(endpoint, dataset=evals["dataset"], metric="loss")
    assert loss["lowerIsBetter"] is True
    assert [e["model"] for e in loss["entries"]] == [evals["low"], evals["high"]]
    # Filters.
    assert [e["model"] for e in leaderboard(endpoint, dataset=evals["dataset"], metric="accuracy", license="apache-2.0")["entries"]] == [evals["low"]]
    assert [e["model"] for e in leaderboard(endpoint, dataset=evals["dataset"], metric="accuracy", library="transformers")["entries"]] == [evals["high"]]
    assert leaderboard(endpoint, dataset=evals["dataset"], metric="accuracy", task="translation")["entries"] == []
    # The index lists the benchmark's boards; the private model is not counted.
    boards = [b for b in leaderboard(endpoint, task="text-classification")["leaderboards"] if b["dataset"] == evals["dataset"]]
    assert {b["metric"]: b["models"] for b in boards} == {"accuracy": 2, "loss": 2}


def page(endpoint, path, token=None):
    r = raw("GET", endpoint, path, token=token)
    assert r.status_code == 200, r.text[:500]
    return html.unescape(r.text)


def test_evals_leaderboard_page(endpoint, evals):
    eventually(lambda: leaderboard(endpoint, dataset=evals["dataset"], metric="accuracy")["entries"] or None)
    body = page(endpoint, f"/leaderboards/{evals['dataset']}?metric=accuracy")
    assert "self-reported" in body and "higher is better" in body and "verified" in body
    assert body.index(f'data-model="{evals["high"]}"') < body.index(f'data-model="{evals["low"]}"')
    assert evals["private"] not in body
    assert evals["dataset"] in page(endpoint, "/leaderboards")
    model = page(endpoint, "/" + evals["high"])
    assert "data-eval-results" in model and "0.93" in model
    assert 'data-card-score>100/100' in model


def test_evals_validate_yaml_warnings(endpoint):
    r = raw("POST", endpoint, "/api/validate-yaml", json={"content": "---\nlicense: mit\n---\n# A card\n", "repoType": "model"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["errors"] == []
    text = " ".join(w["message"] for w in body["warnings"])
    for section in ["Intended uses", "Training data", "Evaluation", "Environmental impact"]:
        assert f'"{section}"' in text
    assert '"License"' not in text
    r = raw("POST", endpoint, "/api/validate-yaml", json={"content": "---\nlicense: mit\n---\n" + DOCUMENTED, "repoType": "model"})
    assert r.status_code == 200 and not [w for w in r.json()["warnings"] if "card documentation" in w["message"]]
    r = raw("POST", endpoint, "/api/validate-yaml", json={"content": "---\nlicense: mit\n---\n", "repoType": "dataset"})
    assert r.status_code == 200 and "Annotations" in " ".join(w["message"] for w in r.json()["warnings"])


def test_evals_card_score_listing(endpoint, user, evals):
    def ids(**params):
        r = raw("GET", endpoint, "/api/models", params={"author": user, "search": "evals-", "limit": 100, **params})
        assert r.status_code == 200, r.text
        return [m["id"] for m in r.json()]
    order = ids(sort="cardScore")
    assert order.index(evals["high"]) < order.index(evals["low"])
    documented = ids(cardScore="80")
    assert evals["high"] in documented and evals["low"] not in documented


def test_evals_provenance(endpoint, evals, token, other_token):
    r = raw("GET", endpoint, f"/api/models/{evals['derived']}/provenance", token=other_token)
    assert r.status_code == 200, r.text
    p = r.json()
    assert p["model"] == evals["derived"] and p["license"] == "mit"
    assert p["baseModels"] == [{"id": evals["private"], "found": False, "depth": 1, "baseOf": evals["derived"], "datasets": []}]
    assert "secret-data" not in r.text and "other" not in [m.get("license") for m in p["baseModels"]]
    # Its owner sees the private base model, its license and datasets.
    mine = raw("GET", endpoint, f"/api/models/{evals['derived']}/provenance", token=token).json()
    assert mine["baseModels"][0]["found"] is True and mine["baseModels"][0]["license"] == "other"
    assert [d["id"] for d in mine["allDatasets"]] == [evals["private"].split("/")[0] + "/secret-data"]
    # The private model's own provenance is not found for others.
    assert raw("GET", endpoint, f"/api/models/{evals['private']}/provenance", token=other_token).status_code == 404
    assert raw("GET", endpoint, f"/api/models/{evals['private']}/provenance").status_code in (401, 404)
    body = page(endpoint, f"/{evals['derived']}/provenance")
    assert evals["private"] in body and "not on this hub" in body


def safetensors(**tensors):
    """The header of a safetensors file (and no tensor data, which is never
    read): name=(dtype, shape)."""
    header = json.dumps({name: {"dtype": d, "shape": list(shape), "data_offsets": [0, 0]}
                         for name, (d, shape) in tensors.items()}).encode()
    return struct.pack("<Q", len(header)) + header


@pytest.fixture(scope="module")
def sized(api, user):
    dataset = unique("evals-sized")
    ids = {"dataset": dataset, "models": []}
    # Accuracy 0.9, 0.8, 0.7, 0.6: two with weights, two without.
    for i, (acc, weights) in enumerate([(0.9, None), (0.8, (3000, 1000)), (0.7, None), (0.6, (20, 10))]):
        repo_id = f"{user}/{unique(f'evals-sized-{i}')}"
        api.create_repo(repo_id)
        ops = [CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=(
            "---\nlicense: mit\n" + model_index(f"m{i}", dataset, acc, 1 - acc) + "---\n# sized\n").encode())]
        if weights:
            rows, cols = weights
            ops.append(CommitOperationAdd(path_in_repo="model.safetensors", path_or_fileobj=safetensors(
                **{"w": ("F32", (rows, cols)), "b": ("BF16", (cols,))})))
        api.create_commit(repo_id, operations=ops, commit_message="card and weights")
        ids["models"].append(repo_id)
    return ids


def test_evals_safetensors_parameters(api, sized):
    info = api.model_info(sized["models"][1], expand=["safetensors"])
    assert info.safetensors is not None
    assert info.safetensors.total == 3_001_000
    assert info.safetensors.parameters == {"F32": 3_000_000, "BF16": 1000}
    assert api.model_info(sized["models"][1]).safetensors.total == 3_001_000
    assert api.model_info(sized["models"][0]).safetensors is None
    listed = {m.id: m.safetensors for m in api.list_models(search="evals-sized", expand=["safetensors"])}
    assert listed[sized["models"][1]].total == 3_001_000 and listed[sized["models"][0]] is None


def test_evals_leaderboard_cursor(endpoint, sized):
    eventually(lambda: len(leaderboard(endpoint, dataset=sized["dataset"], metric="accuracy")["entries"]) == 4 or None)
    seen, ranks = [], []
    r = raw("GET", endpoint, "/api/leaderboards", params={"dataset": sized["dataset"], "metric": "accuracy", "limit": 1})
    pages = 0
    while True:
        assert r.status_code == 200, r.text[:500]
        body = r.json()
        seen += [e["model"] for e in body["entries"]]
        ranks += [e["rank"] for e in body["entries"]]
        pages += 1
        if "next" not in r.links:
            assert "next" not in body
            break
        assert body["next"] and "cursor=" in r.links["next"]["url"]
        r = raw("GET", endpoint, r.links["next"]["url"].removeprefix(endpoint))
    assert seen == sized["models"] and ranks == [1, 2, 3, 4] and pages == 4
    # An offset is still read.
    assert [e["model"] for e in leaderboard(endpoint, dataset=sized["dataset"], metric="accuracy", offset=2)["entries"]] == sized["models"][2:]
    r = raw("GET", endpoint, "/api/leaderboards", params={"dataset": sized["dataset"], "metric": "accuracy", "cursor": "nonsense"})
    assert r.status_code == 400


def test_evals_leaderboard_size(endpoint, sized):
    eventually(lambda: len(leaderboard(endpoint, dataset=sized["dataset"], metric="accuracy")["entries"]) == 4 or None)
    small = leaderboard(endpoint, dataset=sized["dataset"], metric="accuracy", size="<1B")["entries"]
    assert [(e["model"], e["parameters"]) for e in small] == [(sized["models"][1], 3_001_000), (sized["models"][3], 210)]
    assert [e["model"] for e in leaderboard(endpoint, dataset=sized["dataset"], metric="accuracy", size="<1K")["entries"]] == [sized["models"][3]]
    assert [e["model"] for e in leaderboard(endpoint, dataset=sized["dataset"], metric="accuracy", size="1M-1B")["entries"]] == [sized["models"][1]]
    assert leaderboard(endpoint, dataset=sized["dataset"], metric="accuracy", size=">70B")["entries"] == []
    r = raw("GET", endpoint, "/api/leaderboards", params={"dataset": sized["dataset"], "size": "huge"})
    assert r.status_code == 400
    body = page(endpoint, f"/leaderboards/{sized['dataset']}?metric=accuracy&size=<1B&limit=1")
    assert 'id="lb-size"' in body and '<option value="<1B" selected>' in body
    assert f'data-model="{sized["models"][1]}"' in body and 'data-params="3001000">3M<' in body
    assert 'rel="next"' in body and "cursor=" in body


def test_evals_listing_card_score_sort(endpoint):
    body = page(endpoint, "/models?sort=cardScore")
    assert 'value="cardScore" selected' in body
