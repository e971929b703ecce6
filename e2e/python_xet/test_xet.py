"""Uploads and downloads through Xet with the official clients, and the same
files through git + git-lfs and plain HTTP."""

import hashlib
import os
import subprocess
import urllib.parse
from pathlib import Path

import urllib.error
import urllib.request
from huggingface_hub import hf_hub_download, snapshot_download

BIG = 50 * 1000 * 1000


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def make_folder(root: Path, seed: int) -> Path:
    folder = root / "upload"
    (folder / "sub").mkdir(parents=True)
    (folder / "weights.bin").write_bytes(os.urandom(BIG))
    (folder / "config.json").write_text('{"seed": %d}\n' % seed)
    (folder / "sub" / "small.bin").write_bytes(bytes(range(256)) * 40)
    return folder


def tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def test_upload_folder_then_download_every_way(api, repo_id, endpoint, token, user, tmp_path):
    folder = make_folder(tmp_path, 1)
    api.upload_folder(repo_id=repo_id, folder_path=folder, commit_message="weights")

    # The big file is an LFS file that the tree lists with its Xet hash.
    entries = {e.path: e for e in api.list_repo_tree(repo_id, recursive=True)}
    big = entries["weights.bin"]
    assert big.lfs is not None and big.lfs.sha256 == sha256(folder / "weights.bin")
    assert big.xet_hash and len(big.xet_hash) == 64

    # hf_hub_download goes through Xet (the resolve answer advertises it).
    path = hf_hub_download(repo_id, "weights.bin", cache_dir=tmp_path / "cache1")
    assert sha256(path) == sha256(folder / "weights.bin")

    # snapshot_download: every file, through the tree listing.
    snap = Path(snapshot_download(repo_id, cache_dir=tmp_path / "cache2"))
    for rel in ["weights.bin", "config.json", "sub/small.bin"]:
        assert sha256(snap / rel) == sha256(folder / rel), rel

    # Plain HTTP, as curl does: whole file and a range, no Xet involved.
    url = f"{endpoint}/{repo_id}/resolve/main/weights.bin"
    auth = {"Authorization": f"Bearer {token}"}
    with urllib.request.urlopen(urllib.request.Request(url, headers=auth), timeout=120) as r:
        assert r.status == 200
        h = hashlib.sha256()
        for block in iter(lambda: r.read(1 << 20), b""):
            h.update(block)
    assert h.hexdigest() == sha256(folder / "weights.bin")
    data = (folder / "weights.bin").read_bytes()
    ranged = urllib.request.Request(url, headers={**auth, "Range": "bytes=30000000-30065535"})
    with urllib.request.urlopen(ranged, timeout=60) as r:
        assert r.status == 206 and r.read() == data[30000000:30065536]
    past_end = urllib.request.Request(url, headers={**auth, "Range": f"bytes={BIG}-"})
    try:
        urllib.request.urlopen(past_end, timeout=60)
        raise AssertionError("a range past the end must be refused")
    except urllib.error.HTTPError as e:
        assert e.code == 416

    # git clone with git-lfs: the LFS batch API serves the Xet-stored file.
    clone = tmp_path / "clone"
    u = urllib.parse.urlparse(endpoint)
    clone_url = f"{u.scheme}://{user}:{token}@{u.netloc}/{repo_id}"
    subprocess.run(["git", "clone", "-q", clone_url, str(clone)], check=True, timeout=300)
    assert sha256(clone / "weights.bin") == sha256(folder / "weights.bin")
    assert (clone / "config.json").read_text() == (folder / "config.json").read_text()


def test_cli_upload_and_download(repo_id, endpoint, token, tmp_path):
    src = tmp_path / "cli.bin"
    src.write_bytes(os.urandom(12 * 1000 * 1000))
    env = {**os.environ, "HF_TOKEN": token, "HF_ENDPOINT": endpoint}
    subprocess.run(["hf", "upload", repo_id, str(src), "cli.bin"], check=True, env=env, timeout=300)
    out = tmp_path / "out"
    subprocess.run(["hf", "download", repo_id, "cli.bin", "--local-dir", str(out)], check=True, env=env, timeout=300)
    assert sha256(out / "cli.bin") == sha256(src)


def test_second_upload_of_an_edited_file_sends_little(api, repo_id, xorbs_dir, tmp_path):
    data = bytearray(os.urandom(BIG))
    first = tmp_path / "v1.bin"
    first.write_bytes(data)
    api.upload_file(path_or_fileobj=str(first), path_in_repo="model.bin", repo_id=repo_id)
    xorbs = Path(xorbs_dir) if xorbs_dir else None
    before = tree_size(xorbs) if xorbs else 0

    # Change 1% of the file in five places.
    for i in range(5):
        off = (i * 2 + 1) * len(data) // 11
        data[off:off + len(data) // 500] = os.urandom(len(data) // 500)
    second = tmp_path / "v2.bin"
    second.write_bytes(data)
    api.upload_file(path_or_fileobj=str(second), path_in_repo="model.bin", repo_id=repo_id)
    if xorbs:
        growth = tree_size(xorbs) - before
        assert before >= len(data) // 2, f"the first upload stored only {before} bytes of xorbs in {xorbs}"
        assert growth < 0.05 * len(data), f"storage grew by {growth} bytes for a 1% edit"

    path = hf_hub_download(repo_id, "model.bin", cache_dir=tmp_path / "cache")
    assert sha256(path) == sha256(second)


def test_lfs_upload_is_converted_for_xet_downloads(api, repo_id, endpoint, token, tmp_path, monkeypatch):
    """A file uploaded as a plain LFS object (Xet off in the uploader) is
    converted in the background; once it is, resolve advertises it and
    hf_hub_download fetches it through hf_xet, chunk by chunk."""
    import time

    import huggingface_hub.file_download as fd
    from huggingface_hub import hf_hub_url

    src = tmp_path / "lfs.bin"
    src.write_bytes(os.urandom(20 * 1000 * 1000))
    env = {**os.environ, "HF_TOKEN": token, "HF_ENDPOINT": endpoint, "HF_HUB_DISABLE_XET": "1"}
    subprocess.run(["hf", "upload", repo_id, str(src), "lfs.bin"], check=True, env=env, timeout=300)

    url = hf_hub_url(repo_id, "lfs.bin")
    deadline = time.monotonic() + 120
    while True:
        meta = api.get_hf_file_metadata(url=url)
        if meta.xet_file_data is not None:
            break
        assert time.monotonic() < deadline, "the LFS upload was not converted to Xet within 120 s"
        time.sleep(0.5)
    entries = {e.path: e for e in api.list_repo_tree(repo_id)}
    assert entries["lfs.bin"].xet_hash == meta.xet_file_data.file_hash

    calls = []
    real = fd.xet_get

    def spy(*args, **kwargs):
        calls.append(kwargs.get("xet_file_data"))
        return real(*args, **kwargs)

    monkeypatch.setattr(fd, "xet_get", spy)
    path = hf_hub_download(repo_id, "lfs.bin", cache_dir=tmp_path / "cache")
    assert sha256(path) == sha256(src)
    assert len(calls) == 1 and calls[0].file_hash == meta.xet_file_data.file_hash, "the download did not go through hf_xet"
    # Tell the Go test which reconstruction to look for in the server log.
    report = os.environ.get("HAVEN_XET_REPORT")
    if report:
        Path(report).write_text(meta.xet_file_data.file_hash)
