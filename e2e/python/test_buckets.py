"""Storage buckets with the official client: the API, Xet uploads and downloads, hf:// paths and the CLI."""

import json
import os

import pytest
from huggingface_hub import HfFileSystem
from huggingface_hub.errors import BucketNotFoundError, HfHubHTTPError

from helpers import unique
from test_cli import hf


@pytest.fixture
def bucket(api, user):
    """A fresh private bucket of alice, deleted afterwards."""
    bucket_id = f"{user}/{unique('bucket')}"
    api.create_bucket(bucket_id, private=True)
    yield bucket_id
    api.delete_bucket(bucket_id, missing_ok=True)


def test_bucket_create_info_list_delete(api, other_api, user, bucket):
    # The jobs path: create the artifacts bucket with exist_ok, again and again.
    url = api.create_bucket(bucket, private=True, exist_ok=True)
    assert url.bucket_id == bucket
    assert url.url.endswith(f"/buckets/{bucket}")
    with pytest.raises(HfHubHTTPError) as e:
        api.create_bucket(bucket)
    assert e.value.response.status_code == 409

    info = api.bucket_info(bucket)
    assert info.id == bucket and info.private and info.size == 0 and info.total_files == 0
    assert bucket in [b.id for b in api.list_buckets()]
    assert bucket in [b.id for b in api.list_buckets(namespace=user, search=bucket.split("/")[1][-6:])]

    # Invisible to others, as if it did not exist.
    with pytest.raises(BucketNotFoundError):
        other_api.bucket_info(bucket)
    with pytest.raises(BucketNotFoundError):
        list(other_api.list_bucket_tree(bucket))
    assert bucket not in [b.id for b in other_api.list_buckets(namespace=user)]
    with pytest.raises(BucketNotFoundError):
        other_api.delete_bucket(bucket)

    # Public once the owner says so.
    api.update_bucket_settings(bucket, private=False)
    assert not other_api.bucket_info(bucket).private
    assert bucket in [b.id for b in other_api.list_buckets(namespace=user)]
    # The upload stops at the Xet write token (hf_xet reports it as a connection error).
    with pytest.raises(Exception, match="403"):
        other_api.batch_bucket_files(bucket, add=[(b"x", "x.txt")])
    with pytest.raises(HfHubHTTPError) as e:
        other_api.batch_bucket_files(bucket, delete=["x.txt"])
    assert e.value.response.status_code == 403

    api.delete_bucket(bucket)
    with pytest.raises(BucketNotFoundError):
        api.bucket_info(bucket)
    api.delete_bucket(bucket, missing_ok=True)


def test_bucket_files(api, other_api, bucket, tmp_path):
    weights = os.urandom(3 * 1000 * 1000)
    local = tmp_path / "weights.bin"
    local.write_bytes(weights)
    api.batch_bucket_files(
        bucket,
        add=[
            (str(local), "models/weights.bin"),
            (b'{"key": "value"}', "config.json"),
            (b"notes\n", "models/deep/notes.txt"),
            (b"", "empty/.keep"),
        ],
    )
    info = api.bucket_info(bucket)
    assert info.total_files == 4
    assert info.size == len(weights) + len(b'{"key": "value"}') + len(b"notes\n")

    root = {e.path: e for e in api.list_bucket_tree(bucket)}
    assert set(root) == {"config.json", "models", "empty"}
    assert root["models"].type == "directory" and root["config.json"].type == "file"
    assert root["config.json"].size == 16 and len(root["config.json"].xet_hash) == 64
    assert root["config.json"].mtime is not None and root["config.json"].uploaded_at is not None

    everything = {e.path: e for e in api.list_bucket_tree(bucket, recursive=True)}
    assert set(everything) == {"config.json", "empty/.keep", "models/deep/notes.txt", "models/weights.bin"}
    assert everything["models/weights.bin"].size == len(weights)
    assert {e.path for e in api.list_bucket_tree(bucket, prefix="models")} == {"models/weights.bin", "models/deep"}

    found = list(api.get_bucket_paths_info(bucket, ["models/weights.bin", "config.json", "missing.txt"]))
    assert sorted(f.path for f in found) == ["config.json", "models/weights.bin"]
    assert {f.xet_hash for f in found} == {everything["config.json"].xet_hash, everything["models/weights.bin"].xet_hash}

    out = tmp_path / "out"
    api.download_bucket_files(
        bucket,
        [("models/weights.bin", out / "weights.bin"), ("config.json", out / "config.json"), ("empty/.keep", out / "keep")],
    )
    assert (out / "weights.bin").read_bytes() == weights
    assert (out / "config.json").read_bytes() == b'{"key": "value"}'
    assert (out / "keep").read_bytes() == b""
    assert api.get_bucket_file_metadata(bucket, "models/weights.bin").size == len(weights)

    # hf:// paths.
    fs = HfFileSystem(endpoint=api.endpoint, token=api.token)
    assert fs.cat(f"hf://buckets/{bucket}/config.json") == b'{"key": "value"}'
    with fs.open(f"hf://buckets/{bucket}/models/weights.bin", "rb") as f:
        f.seek(1000)
        assert f.read(100) == weights[1000:1100]
    assert sorted(fs.ls(f"hf://buckets/{bucket}/models", detail=False)) == [
        f"buckets/{bucket}/models/deep",
        f"buckets/{bucket}/models/weights.bin",
    ]
    with fs.open(f"hf://buckets/{bucket}/written.txt", "wb") as f:
        f.write(b"written through fsspec")
    assert fs.cat(f"hf://buckets/{bucket}/written.txt") == b"written through fsspec"
    with pytest.raises(FileNotFoundError):
        HfFileSystem(endpoint=api.endpoint, token=other_api.token).cat(f"hf://buckets/{bucket}/config.json")

    # A copy by hash, then deletions.
    api.batch_bucket_files(bucket, copy=[("bucket", bucket, everything["config.json"].xet_hash, "copied.json")])
    fs.invalidate_cache()
    assert fs.cat(f"hf://buckets/{bucket}/copied.json") == b'{"key": "value"}'
    api.batch_bucket_files(bucket, delete=["models/weights.bin", "copied.json", "written.txt"])
    left = {e.path for e in api.list_bucket_tree(bucket, recursive=True)}
    assert left == {"config.json", "empty/.keep", "models/deep/notes.txt"}
    assert api.bucket_info(bucket).total_files == 3


def test_bucket_sync(api, bucket, tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_bytes(b"a")
    (src / "sub" / "b.bin").write_bytes(os.urandom(200_000))
    api.sync_bucket(str(src), f"hf://buckets/{bucket}/run")
    assert {e.path for e in api.list_bucket_tree(bucket, prefix="run", recursive=True)} == {"run/a.txt", "run/sub/b.bin"}

    dst = tmp_path / "dst"
    api.sync_bucket(f"hf://buckets/{bucket}/run", str(dst))
    assert (dst / "a.txt").read_bytes() == b"a"
    assert (dst / "sub" / "b.bin").read_bytes() == (src / "sub" / "b.bin").read_bytes()

    (src / "a.txt").unlink()
    api.sync_bucket(str(src), f"hf://buckets/{bucket}/run", delete=True)
    assert {e.path for e in api.list_bucket_tree(bucket, recursive=True)} == {"run/sub/b.bin"}


def test_bucket_cli(token, other_token, user, tmp_path):
    bucket = f"{user}/{unique('cli-bucket')}"
    hf("buckets", "create", bucket, "--private", token=token)
    listed = json.loads(hf("buckets", "list", "--format", "json", token=token).stdout)
    assert bucket in [b["id"] for b in listed]

    src = tmp_path / "data"
    src.mkdir()
    (src / "hello.txt").write_text("hello from the CLI")
    hf("buckets", "sync", str(src), f"hf://buckets/{bucket}", token=token)
    files = hf("buckets", "list", bucket, "-R", "--format", "json", token=token).stdout
    assert "hello.txt" in files
    hf("buckets", "cp", f"hf://buckets/{bucket}/hello.txt", str(tmp_path / "copy.txt"), token=token)
    assert (tmp_path / "copy.txt").read_text() == "hello from the CLI"

    info = json.loads(hf("buckets", "info", bucket, "--format", "json", token=token).stdout)
    assert info["private"] is True
    assert hf("buckets", "info", bucket, token=other_token, check=False).returncode != 0
    hf("buckets", "delete", bucket, "--yes", token=token)
    assert hf("buckets", "info", bucket, token=token, check=False).returncode != 0
