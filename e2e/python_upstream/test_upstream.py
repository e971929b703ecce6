"""The pull-through cache with the official client: repositories of the
upstream hub downloaded through the hub that caches them, then again once the
upstream is down."""

import hashlib
import os
import subprocess
import sys
import uuid

import httpx2 as httpx
import pytest
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def files_of(folder):
    out = {}
    for root, _, names in os.walk(folder):
        for n in names:
            p = os.path.join(root, n)
            rel = os.path.relpath(p, folder)
            if rel.startswith(".cache"):
                continue
            with open(p, "rb") as f:
                out[rel.replace(os.sep, "/")] = sha256(f.read())
    return out


MAIN_FILES = {
    "README.md": b"---\nlicense: mit\n---\n# A model kept upstream\n",
    "config.json": b'{"hidden_size": 8}\n',
    "model.safetensors": os.urandom(3 << 20),
    "weights/part-1.bin": os.urandom(1 << 20),
    "empty.txt": b"",
}
MANY = {f"many/f{i:03d}.txt": f"file {i}\n".encode() for i in range(60)}
DEV_FILE = ("dev-only.bin", os.urandom(300 << 10))
XET_FILE = ("xet/stored.bin", os.urandom(2 << 20))
DATASET_CSV = b"text,label\nhello,1\nworld,0\n"


@pytest.fixture(scope="session")
def repos(upstream, upstream_token, state):
    """The upstream's repositories: created by the first online test, then
    read back from the state file."""
    s = state.load()
    if "public" in s:
        return s
    up = HfApi(endpoint=upstream, token=upstream_token)
    uid = uuid.uuid4().hex[:8]
    public = f"alice/pub-{uid}"
    up.create_repo(public)
    ops = []
    from huggingface_hub import CommitOperationAdd

    for path, data in {**MAIN_FILES, **MANY}.items():
        ops.append(CommitOperationAdd(path_in_repo=path, path_or_fileobj=data))
    up.create_commit(public, ops, commit_message="files")
    up.create_branch(public, branch="dev")
    up.upload_file(path_or_fileobj=DEV_FILE[1], path_in_repo=DEV_FILE[0], repo_id=public, revision="dev")
    xet = upload_through_xet(upstream, upstream_token, public, XET_FILE[0], XET_FILE[1])

    private = f"alice/priv-{uid}"
    up.create_repo(private, private=True)
    up.upload_file(path_or_fileobj=b"secret weights", path_in_repo="secret.bin", repo_id=private)

    gated = f"alice/gated-{uid}"
    up.create_repo(gated)
    up.upload_file(path_or_fileobj=b"gated weights", path_in_repo="gated.bin", repo_id=gated)
    up.update_repo_settings(gated, gated="auto")

    denied = f"denied/pub-{uid}"
    up.create_repo(denied)
    up.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=denied)

    dataset = f"alice/data-{uid}"
    up.create_repo(dataset, repo_type="dataset")
    up.upload_file(path_or_fileobj=DATASET_CSV, path_in_repo="data/train.csv", repo_id=dataset, repo_type="dataset")

    shadow = f"alice/shadow-{uid}"
    up.create_repo(shadow)
    up.upload_file(path_or_fileobj=b"from the upstream", path_in_repo="which.txt", repo_id=shadow)

    expected = {p: sha256(d) for p, d in {**MAIN_FILES, **MANY}.items()}
    expected[XET_FILE[0]] = sha256(XET_FILE[1])
    # The upstream added the LFS rules of its own.
    for extra in set(up.list_repo_files(public)) - set(expected):
        with open(hf_hub_download(public, extra, endpoint=upstream, token=upstream_token, cache_dir=state.path.parent / "up"), "rb") as f:
            expected[extra] = sha256(f.read())
    s = dict(
        public=public,
        private=private,
        gated=gated,
        denied=denied,
        shadow=shadow,
        dataset=dataset,
        main_sha=up.model_info(public).sha,
        expected=expected,
        dev=[DEV_FILE[0], sha256(DEV_FILE[1])],
        xet_uploaded=xet,
    )
    state.update(**s)
    return s


def upload_through_xet(upstream, token, repo, path, data):
    """Uploads a file with the client's Xet path on (the suite itself runs
    with HF_HUB_DISABLE_XET=1); returns whether the upstream stored it in Xet."""
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_DISABLE_XET"}
    script = (
        "import sys\n"
        "from huggingface_hub import HfApi\n"
        "api = HfApi(endpoint=sys.argv[1], token=sys.argv[2])\n"
        "api.upload_file(path_or_fileobj=sys.stdin.buffer.read(), path_in_repo=sys.argv[4], repo_id=sys.argv[3])\n"
    )
    subprocess.run([sys.executable, "-c", script, upstream, token, repo, path], input=data, env=env, check=True, timeout=120)
    info = HfApi(endpoint=upstream, token=token).get_paths_info(repo, [path])[0]
    return getattr(info, "xet_hash", None) is not None


@pytest.mark.online
def test_snapshot_download_through_the_cache(endpoint, repos, tmp_path):
    folder = snapshot_download(repos["public"], endpoint=endpoint, cache_dir=tmp_path / "hf", token=False)
    assert files_of(folder) == repos["expected"]


@pytest.mark.online
def test_hf_cli_download(endpoint, repos, tmp_path):
    env = {**os.environ, "HF_ENDPOINT": endpoint}
    env.pop("HF_TOKEN", None)
    subprocess.run(
        ["hf", "download", repos["public"], "config.json", "weights/part-1.bin", "--local-dir", str(tmp_path)],
        env=env, check=True, capture_output=True, timeout=120,
    )
    for name in ("config.json", "weights/part-1.bin"):
        assert sha256(open(tmp_path / name, "rb").read()) == repos["expected"][name]


@pytest.mark.online
def test_dataset_through_the_cache(endpoint, repos, tmp_path):
    folder = snapshot_download(repos["dataset"], repo_type="dataset", endpoint=endpoint, cache_dir=tmp_path, token=False)
    assert open(os.path.join(folder, "data", "train.csv"), "rb").read() == DATASET_CSV
    info = HfApi(endpoint=endpoint, token=False).dataset_info(repos["dataset"])
    assert "data/train.csv" in {s.rfilename for s in info.siblings}


@pytest.mark.online
def test_hf_hub_download_branch_and_range(endpoint, repos, tmp_path):
    name, digest = repos["dev"]
    p = hf_hub_download(repos["public"], name, revision="dev", endpoint=endpoint, cache_dir=tmp_path / "hf", token=False)
    assert sha256(open(p, "rb").read()) == digest
    # The same file again at the main branch does not exist.
    with pytest.raises(HfHubHTTPError):
        hf_hub_download(repos["public"], name, endpoint=endpoint, cache_dir=tmp_path / "hf2", token=False)
    # A range of a cached file and of one not fetched yet.
    url = f"{endpoint}/{repos['public']}/resolve/main/model.safetensors"
    r = httpx.get(url, headers={"Range": "bytes=10-19"})
    assert r.status_code == 206 and len(r.content) == 10
    r = httpx.get(f"{endpoint}/{repos['public']}/resolve/main/weights/part-1.bin", headers={"Range": "bytes=0-99"})
    assert r.status_code == 206 and len(r.content) == 100
    h = httpx.head(url)
    assert h.status_code == 200
    assert h.headers["x-linked-etag"].strip('"') == repos["expected"]["model.safetensors"]
    assert h.headers["x-repo-commit"] == repos["main_sha"]
    assert "x-xet-hash" not in h.headers


@pytest.mark.online
def test_xet_client_downloads_through_the_cache(endpoint, repos, tmp_path):
    """A client with Xet on gets no Xet hints from the cache, so it downloads
    plain bytes even for a file the upstream stored through Xet."""
    assert repos["xet_uploaded"], "the upstream did not store the file through Xet"
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_DISABLE_XET"}
    script = (
        "import sys, hashlib\n"
        "from huggingface_hub import hf_hub_download\n"
        "p = hf_hub_download(sys.argv[1], sys.argv[2], endpoint=sys.argv[3], cache_dir=sys.argv[4], token=False)\n"
        "print(hashlib.sha256(open(p, 'rb').read()).hexdigest())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, repos["public"], XET_FILE[0], endpoint, str(tmp_path / "hf")],
        env=env, check=True, capture_output=True, text=True, timeout=120,
    ).stdout.strip()
    assert out == repos["expected"][XET_FILE[0]]


@pytest.mark.online
def test_repo_info_tree_and_paths_info(endpoint, repos):
    api = HfApi(endpoint=endpoint, token=False)
    info = api.model_info(repos["public"])
    assert info.sha == repos["main_sha"]
    assert not info.private
    assert getattr(info, "upstream", None)
    assert {s.rfilename for s in info.siblings} >= set(MAIN_FILES)
    # expand and a revision.
    info = api.model_info(repos["public"], revision="dev", expand=["sha", "lastModified"])
    assert info.sha and info.sha != repos["main_sha"]
    # Recursive and paginated: with expand the upstream pages by 50.
    entries = list(api.list_repo_tree(repos["public"], path_in_repo="many", expand=True))
    assert sorted(e.path for e in entries) == sorted(MANY)
    files = [e for e in api.list_repo_tree(repos["public"], recursive=True) if hasattr(e, "size")]
    assert {f.path for f in files} == set(repos["expected"])
    assert all(getattr(f, "xet_hash", None) is None for f in files)
    paths = api.get_paths_info(repos["public"], ["config.json", "model.safetensors", "nope"])
    assert sorted(p.path for p in paths) == ["config.json", "model.safetensors"]
    assert api.file_exists(repos["public"], "config.json")
    assert not api.file_exists(repos["public"], "missing.json")
    # Refs and commits go through, uncached.
    assert {b.name for b in api.list_repo_refs(repos["public"]).branches} == {"main", "dev"}
    assert api.list_repo_commits(repos["public"])[0].commit_id == repos["main_sha"]


@pytest.mark.online
def test_listing_shows_cached_public_repos(endpoint, repos):
    api = HfApi(endpoint=endpoint, token=False)
    api.model_info(repos["public"])  # fetched (and listed) by now in any order of the tests
    listed = {m.id: m for m in api.list_models(author="alice")}
    assert getattr(listed[repos["public"]], "upstream", None)
    assert repos["private"] not in listed and repos["gated"] not in listed
    assert [m.id for m in api.list_models(search=repos["public"].split("/")[1])] == [repos["public"]]
    datasets = [d.id for d in api.list_datasets(author="alice")]
    assert datasets.count(repos["dataset"]) <= 1


@pytest.mark.online
def test_private_repo_only_with_the_callers_token(endpoint, repos, upstream_token, upstream_other_token, tmp_path):
    repo = repos["private"]
    with pytest.raises(RepositoryNotFoundError):
        HfApi(endpoint=endpoint, token=False).model_info(repo)
    p = hf_hub_download(repo, "secret.bin", endpoint=endpoint, cache_dir=tmp_path / "a", token=upstream_token)
    assert open(p, "rb").read() == b"secret weights"
    assert HfApi(endpoint=endpoint, token=upstream_token).model_info(repo).private
    # Fetched once with the owner's token: still nothing for anyone else.
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(repo, "secret.bin", endpoint=endpoint, cache_dir=tmp_path / "b", token=False)
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(repo, "secret.bin", endpoint=endpoint, cache_dir=tmp_path / "c", token=upstream_other_token)
    r = httpx.get(f"{endpoint}/{repo}/resolve/main/secret.bin")
    assert r.status_code in (401, 404) and r.headers["x-error-code"] == "RepoNotFound"
    assert "upstream" in r.headers["x-error-message"]


@pytest.mark.online
def test_gated_repo_needs_access(endpoint, repos, upstream_token, tmp_path):
    repo = repos["gated"]
    info = HfApi(endpoint=endpoint, token=False).model_info(repo)
    assert info.gated
    with pytest.raises(GatedRepoError):
        hf_hub_download(repo, "gated.bin", endpoint=endpoint, cache_dir=tmp_path / "a", token=False)
    p = hf_hub_download(repo, "gated.bin", endpoint=endpoint, cache_dir=tmp_path / "b", token=upstream_token)
    assert open(p, "rb").read() == b"gated weights"
    with pytest.raises(GatedRepoError):
        hf_hub_download(repo, "gated.bin", endpoint=endpoint, cache_dir=tmp_path / "c", token=False)


@pytest.mark.online
def test_denied_namespace(endpoint, repos, tmp_path):
    with pytest.raises(RepositoryNotFoundError) as e:
        HfApi(endpoint=endpoint, token=False).model_info(repos["denied"])
    assert "not fetched" in str(e.value)
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(repos["denied"], "x.txt", endpoint=endpoint, cache_dir=tmp_path, token=False)


@pytest.mark.online
def test_missing_upstream_repo_and_file(endpoint, repos, tmp_path):
    with pytest.raises(RepositoryNotFoundError):
        HfApi(endpoint=endpoint, token=False).model_info("alice/never-created-" + uuid.uuid4().hex[:6])
    r = httpx.head(f"{endpoint}/{repos['public']}/resolve/main/nope.bin")
    assert r.status_code == 404 and r.headers["x-error-code"] == "EntryNotFound"
    r = httpx.get(f"{endpoint}/api/models/{repos['public']}/revision/no-such-branch")
    assert r.status_code == 404 and r.headers["x-error-code"] == "RevisionNotFound"


@pytest.mark.online
def test_local_repo_wins(endpoint, repos, local_token, tmp_path):
    repo = repos["shadow"]
    p = hf_hub_download(repo, "which.txt", endpoint=endpoint, cache_dir=tmp_path / "a", token=False)
    assert open(p, "rb").read() == b"from the upstream"
    local = HfApi(endpoint=endpoint, token=local_token)
    local.create_repo(repo)
    local.upload_file(path_or_fileobj=b"from this hub", path_in_repo="which.txt", repo_id=repo)
    p = hf_hub_download(repo, "which.txt", endpoint=endpoint, cache_dir=tmp_path / "b", token=False)
    assert open(p, "rb").read() == b"from this hub"
    assert getattr(local.model_info(repo), "upstream", None) is None
    # Listed once: the local one.
    listed = [m for m in local.list_models(author="alice") if m.id == repo]
    assert len(listed) == 1 and getattr(listed[0], "upstream", None) is None


@pytest.mark.offline
def test_offline_snapshot_download(endpoint, repos, tmp_path):
    folder = snapshot_download(repos["public"], endpoint=endpoint, cache_dir=tmp_path / "hf", token=False)
    assert files_of(folder) == repos["expected"]
    info = HfApi(endpoint=endpoint, token=False).model_info(repos["public"])
    assert info.sha == repos["main_sha"]
    folder = snapshot_download(repos["dataset"], repo_type="dataset", endpoint=endpoint, cache_dir=tmp_path / "ds", token=False)
    assert open(os.path.join(folder, "data", "train.csv"), "rb").read() == DATASET_CSV


@pytest.mark.offline
def test_offline_branch_download(endpoint, repos, tmp_path):
    name, digest = repos["dev"]
    p = hf_hub_download(repos["public"], name, revision="dev", endpoint=endpoint, cache_dir=tmp_path / "hf", token=False)
    assert sha256(open(p, "rb").read()) == digest


@pytest.mark.offline
def test_offline_private_repo_is_not_served(endpoint, repos, upstream_token):
    # Asked directly: the client would retry the 503 for a while.
    for headers in ({}, {"Authorization": f"Bearer {upstream_token}"}):
        r = httpx.get(f"{endpoint}/{repos['private']}/resolve/main/secret.bin", headers=headers)
        assert r.status_code == 503 and "upstream" in r.headers["x-error-message"], r.headers
        r = httpx.get(f"{endpoint}/api/models/{repos['private']}", headers=headers)
        assert r.status_code == 503
