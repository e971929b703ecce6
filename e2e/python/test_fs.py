"""HfFileSystem (fsspec, hf://) against the server."""

import hashlib
import os

import pytest
from huggingface_hub import HfFileSystem

pytestmark = pytest.mark.backends


@pytest.fixture
def fs(endpoint, token):
    return HfFileSystem(endpoint=endpoint, token=token, skip_instance_cache=True)


def test_ls_glob_info(fs, model_repo):
    repo_id = model_repo["id"]
    top = sorted(fs.ls(repo_id, detail=False))
    assert top == sorted(f"{repo_id}/{p}" for p in [".gitattributes", "README.md", "config.json", "model.safetensors", "nested"])
    detailed = {e["name"]: e for e in fs.ls(f"{repo_id}/nested", detail=True)}
    assert detailed[f"{repo_id}/nested/deeper"]["type"] == "directory"
    assert detailed[f"{repo_id}/nested/tokenizer.json"]["type"] == "file"

    assert sorted(fs.glob(f"{repo_id}/**/*.json")) == [f"{repo_id}/config.json", f"{repo_id}/nested/tokenizer.json"]
    assert fs.find(f"{repo_id}/nested") == [f"{repo_id}/nested/deeper/notes.txt", f"{repo_id}/nested/tokenizer.json"]

    data = model_repo["files"]["model.safetensors"]
    info = fs.info(f"{repo_id}/model.safetensors")
    assert info["type"] == "file"
    assert info["size"] == len(data)
    assert info["lfs"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert fs.isdir(f"{repo_id}/nested/deeper")
    assert fs.isfile(f"{repo_id}/config.json")
    assert not fs.exists(f"{repo_id}/no-such-file")
    with pytest.raises(FileNotFoundError):
        fs.info(f"{repo_id}/no-such-file")


def test_info_on_fresh_instance_uses_paths_info(endpoint, token, model_repo):
    fs = HfFileSystem(endpoint=endpoint, token=token, skip_instance_cache=True)
    info = fs.info(f"{model_repo['id']}/nested/deeper/notes.txt", expand_info=True)
    assert info["size"] == len(model_repo["files"]["nested/deeper/notes.txt"])
    assert info["last_commit"].oid == model_repo["commit"]
    assert fs.modified(f"{model_repo['id']}/config.json") is not None


def test_open_read_ranges(fs, model_repo):
    repo_id = model_repo["id"]
    data = model_repo["files"]["model.safetensors"]
    with fs.open(f"{repo_id}/model.safetensors", "rb", block_size=1 << 20) as f:
        assert f.read(10) == data[:10]
        f.seek(12_345_678)
        assert f.read(100_000) == data[12_345_678 : 12_345_678 + 100_000]
        f.seek(-50, os.SEEK_END)
        assert f.read() == data[-50:]
        assert f.read(10) == b""
    with fs.open(f"{repo_id}/config.json", "rb") as f:
        assert f.read() == model_repo["files"]["config.json"]
    assert fs.cat_file(f"{repo_id}/nested/deeper/notes.txt", start=5, end=9) == model_repo["files"]["nested/deeper/notes.txt"][5:9]


def test_open_at_revision(fs, model_repo):
    sha = model_repo["commit"]
    with fs.open(f"{model_repo['id']}@{sha}/config.json", "rb") as f:
        assert f.read() == model_repo["files"]["config.json"]


def test_write_copy_remove(fs, api, new_repo, tmp_path):
    big = os.urandom(12 * 1024 * 1024)
    with fs.open(f"{new_repo}/data/big.bin", "wb") as f:
        for i in range(0, len(big), 4 * 1024 * 1024):
            f.write(big[i : i + 4 * 1024 * 1024])
    with fs.open(f"{new_repo}/small.txt", "w") as f:
        f.write("small text\n")

    fs.cp_file(f"{new_repo}/small.txt", f"{new_repo}/copy/small.txt")
    fs.cp_file(f"{new_repo}/data/big.bin", f"{new_repo}/copy/big.bin")
    assert fs.cat_file(f"{new_repo}/copy/small.txt") == b"small text\n"
    assert fs.cat_file(f"{new_repo}/copy/big.bin") == big
    tree = {e.path: e for e in api.list_repo_tree(new_repo, recursive=True)}
    assert tree["copy/big.bin"].lfs is not None
    assert tree["copy/big.bin"].lfs.sha256 == hashlib.sha256(big).hexdigest()

    fs.rm(f"{new_repo}/data", recursive=True)
    fs.rm(f"{new_repo}/small.txt")
    assert sorted(api.list_repo_files(new_repo)) == [".gitattributes", "copy/big.bin", "copy/small.txt"]
    fs.invalidate_cache()
    assert not fs.exists(f"{new_repo}/data/big.bin")
