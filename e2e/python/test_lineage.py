"""The model tree and the links between datasets and models, through the official client.

A base model gets an adapter (it has adapter_config.json), a fine-tune, a
quantization (base_model_relation: quantized) and a private fine-tune; each is
found with list_models(filter=...) in any letter case and
model_info(expand=["baseModels"]), the base model's page counts them per
relation, its childrenModelCount counts the public ones, and the private one
stays hidden from other users. A dataset's page lists the models trained on
it.
"""

import html

import pytest
from huggingface_hub import CommitOperationAdd

from helpers import eventually, raw, unique


def card(yaml):
    return f"---\n{yaml}\n---\n# A model of the lineage test\n".encode()


def push(api, repo_id, files, repo_type=None, private=False):
    api.create_repo(repo_id, repo_type=repo_type, private=private)
    ops = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=data) for p, data in files.items()]
    api.create_commit(repo_id, operations=ops, commit_message="lineage", repo_type=repo_type)


@pytest.fixture(scope="module")
def tree(api, user):
    base = f"{user}/{unique('lineage-base')}"
    dataset = f"{user}/{unique('lineage-data')}"
    ids = {
        "base": base,
        "dataset": dataset,
        "adapter": f"{user}/{unique('lineage-adapter')}",
        "finetune": f"{user}/{unique('lineage-finetune')}",
        "quantized": f"{user}/{unique('lineage-quantized')}",
        "private": f"{user}/{unique('lineage-private')}",
    }
    push(api, base, {"README.md": card("license: mit"), "config.json": b'{"model_type": "bert"}'})
    push(api, dataset, {"README.md": card("license: mit"), "data.csv": b"text,label\nhi,1\n"}, repo_type="dataset")
    push(api, ids["adapter"], {
        "README.md": card(f"base_model: {base}\nlibrary_name: peft"),
        "adapter_config.json": b'{"peft_type": "LORA", "r": 8}',
        "adapter_model.safetensors": b"weights",
    })
    push(api, ids["finetune"], {
        "README.md": card(f"base_model: {base}\ndatasets:\n- {dataset}"),
        "config.json": b'{"model_type": "bert"}',
        "model.safetensors": b"weights",
    })
    push(api, ids["quantized"], {
        "README.md": card(f"base_model:\n- {base}\nbase_model_relation: quantized"),
        "model.safetensors": b"weights",
    })
    push(api, ids["private"], {
        "README.md": card(f"base_model: {base}\ndatasets: [{dataset}]"),
        "model.safetensors": b"weights",
    }, private=True)
    return ids


def ids_of(models):
    return {m.id for m in models}


@pytest.mark.parametrize("relation", ["adapter", "finetune", "quantized"])
def test_lineage_filter_by_relation(api, tree, relation):
    found = ids_of(api.list_models(filter=f"base_model:{relation}:{tree['base']}"))
    want = {tree[relation]} | ({tree["private"]} if relation == "finetune" else set())
    assert found == want


def test_lineage_filter_by_base(api, other_api, anon_api, tree):
    children = {tree["adapter"], tree["finetune"], tree["quantized"]}
    assert ids_of(api.list_models(filter=f"base_model:{tree['base']}")) == children | {tree["private"]}
    # The private fine-tune is invisible to another user and to anonymous callers.
    assert ids_of(other_api.list_models(filter=f"base_model:{tree['base']}")) == children
    assert ids_of(other_api.list_models(filter=f"base_model:finetune:{tree['base']}")) == {tree["finetune"]}
    assert ids_of(anon_api.list_models(filter=f"base_model:finetune:{tree['base']}")) == {tree["finetune"]}
    # Filters combine: all must match.
    assert ids_of(api.list_models(filter=[f"base_model:{tree['base']}", "peft"])) == {tree["adapter"]}


@pytest.mark.parametrize("relation", ["adapter", "finetune", "quantized"])
def test_lineage_expand_base_models(api, tree, relation):
    info = api.model_info(tree[relation], expand=["baseModels"])
    assert info.id == tree[relation]
    assert info.base_models == {"relation": relation, "models": [{"id": tree["base"]}]}
    assert f"base_model:{relation}:{tree['base']}" in api.model_info(tree[relation]).tags


def test_lineage_base_has_no_base_models(api, tree):
    assert api.model_info(tree["base"], expand=["baseModels"]).base_models is None


def test_lineage_listing_expand(api, tree):
    models = list(api.list_models(filter=f"base_model:adapter:{tree['base']}", expand=["baseModels"]))
    assert [m.base_models for m in models] == [{"relation": "adapter", "models": [{"id": tree["base"]}]}]


def page(endpoint, path):
    r = raw("GET", endpoint, path)
    assert r.status_code == 200, r.text[:500]
    return html.unescape(r.text)


def test_lineage_model_page_counts(endpoint, tree):
    body = page(endpoint, "/" + tree["base"])
    # Anonymous visitors do not count the private fine-tune.
    assert "Adapters of this model: 1" in body
    assert "Fine-tunes of this model: 1" in body
    assert "Quantizations of this model: 1" in body
    assert "Merges with this model: 0" in body
    assert f"/models?filter=base_model%3Aadapter%3A{tree['base'].replace('/', '%2F')}" in body
    child = page(endpoint, "/" + tree["adapter"])
    assert f'data-base-model="{tree["base"]}"' in child
    assert 'data-relation="adapter"' in child


def test_lineage_dataset_page(api, endpoint, tree):
    assert ids_of(api.list_models(trained_dataset=tree["dataset"])) == {tree["finetune"], tree["private"]}
    body = page(endpoint, "/datasets/" + tree["dataset"])
    assert "Models trained on this dataset: 1" in body
    assert f'href="/{tree["finetune"]}"' in body
    assert tree["private"] not in body


def test_lineage_children_model_count(api, other_api, anon_api, tree):
    """childrenModelCount counts the public descendants only, whoever asks:
    model info is cached for every caller alike."""
    for client in (api, other_api, anon_api):
        assert client.model_info(tree["base"], expand=["childrenModelCount"]).children_model_count == 3
    assert api.model_info(tree["adapter"], expand=["childrenModelCount"]).children_model_count == 0


def test_lineage_filter_any_case(api, anon_api, tree):
    upper = tree["base"].upper()
    assert ids_of(anon_api.list_models(filter=f"base_model:finetune:{upper}")) == {tree["finetune"]}
    assert ids_of(api.list_models(filter=f"base_model:{upper}")) == {
        tree["adapter"], tree["finetune"], tree["quantized"], tree["private"]}


def test_lineage_card_change_moves_the_tree(api, tree, user):
    """Editing a card's base model moves the model in the tree."""
    other_base = f"{user}/{unique('lineage-other')}"
    push(api, other_base, {"README.md": card("license: mit")})
    api.upload_file(path_or_fileobj=card(f"base_model: {other_base}"), path_in_repo="README.md", repo_id=tree["quantized"])

    def moved():
        info = api.model_info(tree["quantized"], expand=["baseModels"])
        assert info.base_models == {"relation": "finetune", "models": [{"id": other_base}]}

    eventually(moved)
    assert ids_of(api.list_models(filter=f"base_model:quantized:{tree['base']}")) == set()
    # Put it back for the other tests, whatever order they run in.
    api.upload_file(path_or_fileobj=card(f"base_model:\n- {tree['base']}\nbase_model_relation: quantized"),
                    path_in_repo="README.md", repo_id=tree["quantized"])
