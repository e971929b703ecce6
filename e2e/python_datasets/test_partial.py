"""A viewer whose conversion cap is tiny (HAVEN_TEST_VIEWER_CAP bytes, set by
TestDatasetsPartial on its own server): big splits are exported partially
and every endpoint says so, as the Hub's viewer does past 5 GB."""

import os

import pytest

from conftest import push, unique

CAP = int(os.environ.get("HAVEN_TEST_VIEWER_CAP", "0"))
pytestmark = pytest.mark.skipif(CAP == 0, reason="needs a server started with a tiny HAVEN_VIEWER_MAX_SPLIT_BYTES")

BIG = [{"text": f"line {i} " + "lorem ipsum " * 10, "n": i} for i in range(2000)]
SMALL = [{"text": "short", "n": 1}]


def csv(rows):
    return ("text,n\n" + "".join(f"{r['text']},{r['n']}\n" for r in rows)).encode()


@pytest.fixture(scope="module")
def capped(api, user, viewer, token):
    repo_id = f"{user}/{unique('capped')}"
    push(api, repo_id, {"data/train.csv": csv(BIG), "data/test.csv": csv(SMALL)})
    viewer.wait_ready(repo_id, token)
    return repo_id


def test_rows_search_filter_statistics_are_partial(viewer, capped, token):
    args = {"dataset": capped, "config": "default"}
    rows = viewer.ok("rows", token, split="train", **args)
    assert rows["partial"] is True
    assert 0 < rows["num_rows_total"] < len(BIG)
    assert rows["rows"][0]["row"] == {"text": BIG[0]["text"], "n": 0}
    assert viewer.ok("rows", token, split="test", **args)["partial"] is False
    assert viewer.ok("search", token, split="train", query="lorem", **args)["partial"] is True
    assert viewer.ok("search", token, split="test", query="short", **args)["partial"] is False
    found = viewer.ok("filter", token, split="train", where='"n">=0', **args)
    assert found["partial"] is True and found["num_rows_total"] == rows["num_rows_total"]
    stats = viewer.ok("statistics", token, split="train", **args)
    assert stats["partial"] is True and stats["num_examples"] == rows["num_rows_total"]


def test_parquet_info_size_are_partial(viewer, capped, token):
    converted = viewer.ok("rows", token, dataset=capped, config="default", split="train")["num_rows_total"]
    for params in ({}, {"config": "default"}):
        files = viewer.ok("parquet", token, dataset=capped, **params)
        assert files["partial"] is True
        urls = sorted(f["url"].split("/resolve/")[1] for f in files["parquet_files"])
        assert urls == ["refs%2Fconvert%2Fparquet/default/partial-train/0000.parquet",
                        "refs%2Fconvert%2Fparquet/default/test/0000.parquet"]
        assert viewer.ok("info", token, dataset=capped, **params)["partial"] is True
    size = viewer.ok("size", token, dataset=capped)
    assert size["partial"] is True
    splits = {s["split"]: s for s in size["size"]["splits"]}
    assert (splits["train"]["num_rows"], splits["train"]["estimated_num_rows"]) == (converted, len(BIG))
    assert (splits["test"]["num_rows"], splits["test"]["estimated_num_rows"]) == (1, None)
    assert size["size"]["configs"][0]["estimated_num_rows"] == len(BIG) + 1
    assert size["size"]["dataset"]["estimated_num_rows"] == len(BIG) + 1
    assert size["size"]["dataset"]["num_rows"] == converted + 1
    config = viewer.ok("size", token, dataset=capped, config="default")
    assert config["partial"] is True and config["size"]["config"]["estimated_num_rows"] == len(BIG) + 1
    # /is-valid has no partial flag: a partial export is fully usable.
    assert viewer.ok("is-valid", token, dataset=capped)["viewer"] is True
