"""The dataset viewer API, field by field, on small datasets made here."""

import pytest

from conftest import push, unique
from fixtures import TRAIN, TEST, files_for

SPLIT_KEYS = {"features", "rows", "num_rows_total", "num_rows_per_page", "partial"}
FEATURES = [
    {"feature_idx": 0, "name": "text", "type": {"dtype": "string", "_type": "Value"}},
    {"feature_idx": 1, "name": "label", "type": {"dtype": "int64", "_type": "Value"}},
    {"feature_idx": 2, "name": "score", "type": {"dtype": "float64", "_type": "Value"}},
]


@pytest.fixture(scope="module")
def ds(api, user, viewer, token):
    repo_id = f"{user}/{unique('viewer')}"
    files, _, _ = files_for("csv", False)
    push(api, repo_id, files)
    viewer.wait_ready(repo_id, token)
    return repo_id


@pytest.fixture(scope="module")
def private_ds(api, user, viewer, token):
    repo_id = f"{user}/{unique('private')}"
    files, _, _ = files_for("jsonl", False)
    push(api, repo_id, files, private=True)
    viewer.wait_ready(repo_id, token)
    return repo_id


def test_is_valid(viewer, ds, token):
    for params in ({}, {"config": "default"}, {"config": "default", "split": "train"}):
        body = viewer.ok("is-valid", token, dataset=ds, **params)
        assert body == {"preview": True, "viewer": True, "search": True, "filter": True, "statistics": True}


def test_splits(viewer, ds, token):
    body = viewer.ok("splits", token, dataset=ds)
    assert body == {
        "splits": [
            {"dataset": ds, "config": "default", "split": "train"},
            {"dataset": ds, "config": "default", "split": "test"},
        ],
        "pending": [],
        "failed": [],
    }
    assert viewer.ok("splits", token, dataset=ds, config="default") == {"splits": body["splits"]}


def test_first_rows(viewer, ds, token):
    body = viewer.ok("first-rows", token, dataset=ds, config="default", split="test")
    assert set(body) == {"dataset", "config", "split", "features", "rows", "truncated"}
    assert (body["dataset"], body["config"], body["split"]) == (ds, "default", "test")
    assert body["features"] == FEATURES
    assert body["truncated"] is False
    assert [r["row_idx"] for r in body["rows"]] == list(range(len(TEST)))
    assert body["rows"][0] == {"row_idx": 0, "row": TEST[0], "truncated_cells": []}


def test_rows(viewer, ds, token):
    status, headers, body = viewer.call("rows", token=token, dataset=ds, config="default", split="train", offset=20, length=3)
    assert status == 200
    assert len(headers["X-Revision"]) == 40
    assert headers["Cache-Control"] == "max-age=120"
    assert set(body) == SPLIT_KEYS
    assert body["features"] == FEATURES
    assert body["num_rows_total"] == len(TRAIN)
    assert body["num_rows_per_page"] == 100
    assert body["partial"] is False
    assert body["rows"] == [{"row_idx": i, "row": TRAIN[i], "truncated_cells": []} for i in (20, 21, 22)]
    past = viewer.ok("rows", token, dataset=ds, config="default", split="train", offset=1000)
    assert past["rows"] == [] and past["features"] == FEATURES


@pytest.mark.parametrize("params,code", [
    ({"length": 101}, "InvalidParameter"),
    ({"length": -1}, "InvalidParameter"),
    ({"offset": "x"}, "InvalidParameter"),
    ({"split": ""}, "MissingRequiredParameter"),
])
def test_rows_bad_parameters(viewer, ds, token, params, code):
    args = {"dataset": ds, "config": "default", "split": "train", **params}
    status, headers, body = viewer.call("rows", token=token, **args)
    assert (status, headers.get("X-Error-Code")) == (422, code)
    assert "error" in body


def test_unknown_split_and_not_found(viewer, ds, token):
    status, headers, _ = viewer.call("rows", token=token, dataset=ds, config="default", split="nope")
    assert (status, headers.get("X-Error-Code")) == (404, "ResponseNotFound")


def test_search_unicode(viewer, ds, token):
    for query, idx_set in (("東京", set(range(25))), ("привет", set(range(25))), ("cafe", set(range(25))), ("صباح", None)):
        split = "test" if idx_set is None else "train"
        body = viewer.ok("search", token, dataset=ds, config="default", split=split, query=query, length=10)
        assert set(body) == SPLIT_KEYS
        expected_total = len(TEST) if idx_set is None else len(idx_set)
        assert body["num_rows_total"] == expected_total, query
        assert len(body["rows"]) == min(10, expected_total)
    # Any word matches, as upstream; the row holding the rare word ranks first.
    body = viewer.ok("search", token, dataset=ds, config="default", split="train", query="row 7")
    assert body["num_rows_total"] == len(TRAIN)
    assert body["rows"][0]["row_idx"] == 7
    assert body["rows"][0]["row"] == TRAIN[7]
    # English stop words are ignored: a query of only stop words finds nothing.
    body = viewer.ok("search", token, dataset=ds, config="default", split="train", query="the of and")
    assert body["num_rows_total"] == 0 and body["rows"] == []


def test_filter(viewer, ds, token):
    body = viewer.ok("filter", token, dataset=ds, config="default", split="train",
                     where='"label"=2 AND "score">5', orderby='"score" DESC', length=3)
    want = sorted([i for i, r in enumerate(TRAIN) if r["label"] == 2 and r["score"] > 5], key=lambda i: -TRAIN[i]["score"])
    assert body["num_rows_total"] == len(want)
    assert [r["row_idx"] for r in body["rows"]] == want[:3]
    assert body["rows"][0]["row"] == TRAIN[want[0]]
    body = viewer.ok("filter", token, dataset=ds, config="default", split="train", where="\"text\" LIKE '%東京%' OR \"label\" IS NULL")
    assert body["num_rows_total"] == len(TRAIN)
    assert [r["row_idx"] for r in body["rows"]] == list(range(len(TRAIN)))


MALICIOUS_WHERE = [
    "1=1",
    "\"label\"=1; DROP TABLE data",
    "\"label\"=1 --",
    "\"label\"=1 /* x */",
    "read_csv('/etc/passwd')",
    "\"text\" IN (SELECT * FROM read_csv('/etc/passwd'))",
    "\"label\"=(SELECT 1)",
    "\"text\".read_csv()",
    "\"text\".getenv()",
    "getenv('HOME')='x'",
    "\"label\" = -1",
    "NOT \"label\"=1",
    "\"label\"=\"score\"",
    "\"nosuchcolumn\"=1",
    "\"label\"='" + "x" * 100000 + "'",
    "\"label\"=" + "9" * 40,
    "(" * 100 + "\"label\"=1" + ")" * 100,
    "\"label\"=1 UNION SELECT * FROM read_text('/etc/passwd')",
]


@pytest.mark.parametrize("where", MALICIOUS_WHERE, ids=range(len(MALICIOUS_WHERE)))
def test_filter_refuses_malicious_input(viewer, ds, token, where):
    status, headers, body = viewer.call("filter", token=token, dataset=ds, config="default", split="train", where=where)
    assert status == 422, (where[:80], status, body)
    assert headers.get("X-Error-Code") == "InvalidParameter"
    assert "passwd" not in str(body) and "root:" not in str(body)


@pytest.mark.parametrize("orderby", ['"score"; DROP TABLE data', '"score" DESC, "label"', "random()", '"score" NULLS LAST'])
def test_filter_refuses_malicious_orderby(viewer, ds, token, orderby):
    status, headers, _ = viewer.call("filter", token=token, dataset=ds, config="default", split="train", orderby=orderby)
    assert (status, headers.get("X-Error-Code")) == (422, "InvalidParameter")


def test_search_treats_operators_as_text(viewer, ds, token):
    for query in ['" OR 1=1 --', "NEAR(a b)", "*", "') ; DROP TABLE docs; --", "a AND b OR c NOT d"]:
        status, _, body = viewer.call("search", token=token, dataset=ds, config="default", split="train", query=query)
        assert status == 200, (query, body)
    status, headers, _ = viewer.call("search", token=token, dataset=ds, config="default", split="train", query="x" * 5000)
    assert (status, headers.get("X-Error-Code")) == (422, "InvalidParameter")
    # Nothing changed: the data is all still there.
    assert viewer.ok("rows", token, dataset=ds, config="default", split="train")["num_rows_total"] == len(TRAIN)


def test_statistics(viewer, ds, token):
    body = viewer.ok("statistics", token, dataset=ds, config="default", split="train")
    assert body["num_examples"] == len(TRAIN) and body["partial"] is False
    stats = {s["column_name"]: s for s in body["statistics"]}
    assert [s["column_name"] for s in body["statistics"]] == ["label", "score", "text"]
    label = stats["label"]
    assert label["column_type"] == "int"
    ls = label["column_statistics"]
    assert (ls["nan_count"], ls["nan_proportion"], ls["min"], ls["max"], ls["mean"], ls["median"]) == (0, 0, 0, 2, 0.96, 1)
    assert ls["histogram"] == {"hist": [9, 16], "bin_edges": [0, 1, 2]}
    score = stats["score"]["column_statistics"]
    assert stats["score"]["column_type"] == "float"
    assert (score["min"], score["max"], score["nan_count"]) == (0.0, 12.0, 0)
    assert len(score["histogram"]["bin_edges"]) == 11 and sum(score["histogram"]["hist"]) == len(TRAIN)
    assert stats["text"]["column_type"] == "string_text"


def test_parquet_info_size(viewer, ds, token, endpoint):
    body = viewer.ok("parquet", token, dataset=ds)
    assert [(f["split"], f["filename"]) for f in body["parquet_files"]] == [("test", "0000.parquet"), ("train", "0000.parquet")]
    f = body["parquet_files"][1]
    assert f["url"] == f"{endpoint}/datasets/{ds}/resolve/refs%2Fconvert%2Fparquet/default/train/0000.parquet"
    assert f["size"] > 0 and body["partial"] is False and body["pending"] == [] and body["failed"] == []
    cfg = viewer.ok("parquet", token, dataset=ds, config="default")
    assert set(cfg) == {"parquet_files", "features", "partial"}
    assert list(cfg["features"]) == ["text", "label", "score"]

    info = viewer.ok("info", token, dataset=ds, config="default")["dataset_info"]
    assert info["config_name"] == "default" and info["builder_name"] == "csv"
    assert info["splits"]["train"]["num_examples"] == len(TRAIN)
    assert info["features"]["score"] == {"dtype": "float64", "_type": "Value"}
    assert list(viewer.ok("info", token, dataset=ds)["dataset_info"]) == ["default"]

    size = viewer.ok("size", token, dataset=ds)
    assert size["size"]["dataset"]["num_rows"] == len(TRAIN) + len(TEST)
    assert [s["split"] for s in size["size"]["splits"]] == ["train", "test"]
    assert size["size"]["configs"][0]["num_columns"] == 3


def test_virtual_host(viewer, ds, token, endpoint):
    host = "datasets-server." + endpoint.split("://", 1)[1]
    import urllib.request, json
    req = urllib.request.Request(endpoint + "/is-valid?dataset=" + ds, headers={"Host": host, "Authorization": "Bearer " + token})
    with urllib.request.urlopen(req) as resp:
        assert json.loads(resp.read())["viewer"] is True


ENDPOINTS = [
    ("is-valid", {}), ("splits", {}), ("parquet", {}), ("info", {}), ("size", {}),
    ("first-rows", {"config": "default", "split": "train"}),
    ("rows", {"config": "default", "split": "train"}),
    ("search", {"config": "default", "split": "train", "query": "row"}),
    ("filter", {"config": "default", "split": "train", "where": '"label"=1'}),
    ("statistics", {"config": "default", "split": "train"}),
]


@pytest.mark.parametrize("path,params", ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
def test_private_dataset_is_invisible(viewer, private_ds, token, other_token, path, params):
    viewer.ok(path, token, dataset=private_ds, **params)
    status, headers, body = viewer.call(path, dataset=private_ds, **params)
    assert (status, headers.get("X-Error-Code")) == (401, "ExternalUnauthenticatedError")
    missing = viewer.call(path, dataset=private_ds + "-missing", **params)
    assert (missing[0], missing[2]) == (status, body)  # the same answer as for a dataset that does not exist
    status, headers, body = viewer.call(path, token=other_token, dataset=private_ds, **params)
    assert (status, headers.get("X-Error-Code")) == (404, "ExternalAuthenticatedError")
    assert "row" not in str(body)
