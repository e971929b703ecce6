"""`datasets.load_dataset` and HfFileSystem against Haven, for every format,
with and without `configs:` in the card, streaming and not."""

import datasets
import pyarrow.parquet as pq
import pytest
from huggingface_hub import HfFileSystem

from conftest import push, unique
from fixtures import files_for

FORMATS = ["csv", "jsonl", "parquet", "txt"]


@pytest.fixture(scope="module")
def repos(api, user, viewer, token):
    """One dataset per (format, with configs), pushed once."""
    out = {}
    for fmt in FORMATS:
        for with_configs in (False, True):
            repo_id = f"{user}/{unique(fmt + ('-cfg' if with_configs else ''))}"
            files, config, splits = files_for(fmt, with_configs)
            push(api, repo_id, files)
            out[(fmt, with_configs)] = (repo_id, config, splits)
    for repo_id, _, _ in out.values():
        viewer.wait_ready(repo_id, token)
    return out


def normalise(rows):
    return [{k: (round(v, 6) if isinstance(v, float) else v) for k, v in r.items()} for r in rows]


@pytest.mark.parametrize("with_configs", [False, True], ids=["no-configs", "configs"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_streaming(repos, fmt, with_configs, tmp_path):
    repo_id, config, splits = repos[(fmt, with_configs)]
    ds = datasets.load_dataset(repo_id, streaming=True, cache_dir=str(tmp_path))
    assert sorted(ds.keys()) == sorted(splits)
    for split, rows in splits.items():
        assert normalise(list(ds[split])) == normalise(rows), split


@pytest.mark.parametrize("with_configs", [False, True], ids=["no-configs", "configs"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_download(repos, fmt, with_configs, tmp_path):
    repo_id, config, splits = repos[(fmt, with_configs)]
    ds = datasets.load_dataset(repo_id, cache_dir=str(tmp_path))
    assert sorted(ds.keys()) == sorted(splits)
    for split, rows in splits.items():
        assert ds[split].num_rows == len(rows)
        assert normalise(ds[split].to_list()) == normalise(rows), split


@pytest.mark.parametrize("fmt", FORMATS)
def test_parquet_export_loads(repos, fmt, tmp_path):
    """The export on refs/convert/parquet is a dataset `datasets` can load, with the same rows."""
    repo_id, config, splits = repos[(fmt, True)]
    ds = datasets.load_dataset(repo_id, revision="refs/convert/parquet", data_dir=config, cache_dir=str(tmp_path))
    for split, rows in splits.items():
        assert normalise(ds[split].to_list()) == normalise(rows), split


def test_hffs_reads(repos, endpoint, token):
    repo_id, config, splits = repos[("csv", False)]
    fs = HfFileSystem(endpoint=endpoint, token=token)
    names = sorted(fs.ls(f"datasets/{repo_id}/data", detail=False))
    assert names == [f"datasets/{repo_id}/data/test.csv", f"datasets/{repo_id}/data/train.csv"]
    with fs.open(f"datasets/{repo_id}/data/train.csv", "rb") as f:
        f.seek(5)
        assert f.read(5) == b"label"
    export = f"datasets/{repo_id}@refs%2Fconvert%2Fparquet/default"
    assert sorted(fs.ls(export, detail=False)) == [f"{export}/test", f"{export}/train"]
    with fs.open(f"{export}/train/0000.parquet", "rb") as f:
        table = pq.read_table(f)
    assert table.num_rows == len(splits["train"])
    assert table.column_names == ["text", "label", "score"]
    assert b"huggingface" in table.schema.metadata
