"""Uploads, downloads, commits and history with huggingface_hub."""

import datetime
import hashlib
import os
from pathlib import Path

import pytest
from huggingface_hub import (
    CommitOperationAdd,
    CommitOperationCopy,
    CommitOperationDelete,
    RepoFile,
    RepoFolder,
)
from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, RevisionNotFoundError

from helpers import files_under, git_blob_sha1, sha256_file

pytestmark = pytest.mark.backends


def read(path):
    return Path(path).read_bytes()


# --- upload_folder + downloads ------------------------------------------------------------


def test_upload_folder_commit(api, endpoint, model_repo):
    info = model_repo["commit_info"]
    assert len(info.oid) == 40
    assert info.commit_url == f"{endpoint}/{model_repo['id']}/commit/{info.oid}"
    tree = {e.path: e for e in api.list_repo_tree(model_repo["id"], recursive=True)}
    big = tree["model.safetensors"]
    assert isinstance(big, RepoFile)
    assert big.lfs is not None, "a .safetensors file must be stored with LFS"
    assert big.lfs.sha256 == hashlib.sha256(model_repo["files"]["model.safetensors"]).hexdigest()
    assert big.size == len(model_repo["files"]["model.safetensors"])
    assert tree["config.json"].lfs is None
    assert tree["config.json"].blob_id == git_blob_sha1(model_repo["files"]["config.json"])


def test_snapshot_download(api, model_repo, tmp_path):
    path = Path(api.snapshot_download(model_repo["id"], cache_dir=tmp_path))
    assert path.name == model_repo["commit"]
    got = files_under(path)
    assert sorted(got) == sorted([".gitattributes", *model_repo["files"]])
    for rel, data in model_repo["files"].items():
        assert got[rel] == data, rel
    assert sha256_file(path / "model.safetensors") == hashlib.sha256(model_repo["files"]["model.safetensors"]).hexdigest()


def test_snapshot_download_allow_patterns(api, model_repo, tmp_path):
    path = Path(api.snapshot_download(model_repo["id"], cache_dir=tmp_path, allow_patterns=["*.json"]))
    assert sorted(files_under(path)) == ["config.json", "nested/tokenizer.json"]


def test_snapshot_download_local_dir(api, model_repo, tmp_path):
    out = tmp_path / "local"
    api.snapshot_download(model_repo["id"], local_dir=out, ignore_patterns=["*.safetensors"])
    got = files_under(out)
    assert "model.safetensors" not in got
    assert got["config.json"] == model_repo["files"]["config.json"]
    assert got["nested/deeper/notes.txt"] == model_repo["files"]["nested/deeper/notes.txt"]


def test_hf_hub_download_main_and_local_dir(api, model_repo, tmp_path):
    path = api.hf_hub_download(model_repo["id"], "model.safetensors", cache_dir=tmp_path / "cache")
    assert read(path) == model_repo["files"]["model.safetensors"]
    assert model_repo["commit"] in path
    path = api.hf_hub_download(model_repo["id"], "nested/deeper/notes.txt", local_dir=tmp_path / "ld")
    assert Path(path) == tmp_path / "ld" / "nested" / "deeper" / "notes.txt"
    assert read(path) == model_repo["files"]["nested/deeper/notes.txt"]


def test_download_at_tag_sha_short_sha_and_branches(api, new_repo, tmp_path):
    c1 = api.upload_file(path_or_fileobj=b"version 1\n", path_in_repo="v.txt", repo_id=new_repo).oid
    api.create_tag(new_repo, tag="v1")
    api.create_branch(new_repo, branch="from-main")
    c2 = api.upload_file(path_or_fileobj=b"version 2\n", path_in_repo="v.txt", repo_id=new_repo).oid
    api.create_branch(new_repo, branch="from-c1", revision=c1)

    def get(rev, name):
        p = api.hf_hub_download(new_repo, "v.txt", revision=rev, cache_dir=tmp_path / name)
        return read(p), p

    assert get("main", "main")[0] == b"version 2\n"
    assert get(None, "default")[0] == b"version 2\n"
    data, p = get("v1", "tag")
    assert data == b"version 1\n"
    assert c1 in p
    assert get(c1, "sha")[0] == b"version 1\n"
    data, p = get(c1[:7], "short")
    assert data == b"version 1\n"
    assert c1 in p, "the snapshot folder is named after the full commit the short sha resolves to"
    assert get(c2[:7], "short2")[0] == b"version 2\n"
    assert get("from-main", "b1")[0] == b"version 1\n"
    assert get("from-c1", "b2")[0] == b"version 1\n"

    refs = api.list_repo_refs(new_repo)
    assert {b.name: b.target_commit for b in refs.branches} == {"main": c2, "from-main": c1, "from-c1": c1}
    assert [(t.name, t.ref, t.target_commit) for t in refs.tags] == [("v1", "refs/tags/v1", c1)]
    assert refs.converts == []


# --- create_commit --------------------------------------------------------------------------


def test_create_commit_operations(api, new_repo, tmp_path):
    lfs_data = os.urandom(300_000)
    ops = [
        CommitOperationAdd("a.txt", b"file a\n"),
        CommitOperationAdd("dir/b.txt", b"file b\n"),
        CommitOperationAdd("dir/sub/c.txt", b"file c\n"),
        CommitOperationAdd("weights.bin", lfs_data),
    ]
    info = api.create_commit(new_repo, ops, commit_message="add files", commit_description="several files")
    tree = {e.path: e for e in api.list_repo_tree(new_repo, recursive=True)}
    assert isinstance(tree["dir"], RepoFolder) and isinstance(tree["dir/sub"], RepoFolder)
    assert tree["weights.bin"].lfs is not None, "*.bin matches the default .gitattributes"
    assert tree["weights.bin"].lfs.sha256 == hashlib.sha256(lfs_data).hexdigest()
    assert tree["weights.bin"].lfs.pointer_size > 0
    commit = api.list_repo_commits(new_repo)[0]
    assert commit.commit_id == info.oid
    assert commit.title == "add files"
    assert commit.message == "several files"

    api.create_commit(
        new_repo,
        [CommitOperationCopy("a.txt", "copies/a.txt"), CommitOperationCopy("weights.bin", "copies/weights.bin")],
        commit_message="copy files",
    )
    assert read(api.hf_hub_download(new_repo, "copies/a.txt", cache_dir=tmp_path)) == b"file a\n"
    assert read(api.hf_hub_download(new_repo, "copies/weights.bin", cache_dir=tmp_path)) == lfs_data
    copied = api.get_paths_info(new_repo, ["copies/weights.bin"])[0]
    assert copied.lfs is not None and copied.lfs.sha256 == hashlib.sha256(lfs_data).hexdigest()

    api.create_commit(
        new_repo,
        [CommitOperationDelete("a.txt"), CommitOperationDelete("dir/")],
        commit_message="delete a file and a folder",
    )
    files = api.list_repo_files(new_repo)
    assert sorted(files) == [".gitattributes", "copies/a.txt", "copies/weights.bin", "weights.bin"]

    # A folder deleted through a plain deletedFile line ("implicit" folder delete).
    api.create_commit(new_repo, [CommitOperationDelete("copies", is_folder=False)], commit_message="implicit")
    assert sorted(api.list_repo_files(new_repo)) == [".gitattributes", "weights.bin"]


def test_delete_file_and_folder(api, new_repo, tmp_path):
    api.create_commit(
        new_repo,
        [CommitOperationAdd("keep.txt", b"k"), CommitOperationAdd("gone.txt", b"g"), CommitOperationAdd("f/x.txt", b"x")],
        commit_message="files",
    )
    api.delete_file("gone.txt", new_repo)
    api.delete_folder("f", new_repo)
    assert sorted(api.list_repo_files(new_repo)) == [".gitattributes", "keep.txt"]
    with pytest.raises(EntryNotFoundError):
        api.hf_hub_download(new_repo, "gone.txt", cache_dir=tmp_path)


def test_parent_commit(api, new_repo):
    first = api.model_info(new_repo).sha
    second = api.create_commit(
        new_repo, [CommitOperationAdd("one.txt", b"1")], commit_message="one", parent_commit=first
    ).oid
    with pytest.raises(HfHubHTTPError) as exc:
        api.create_commit(new_repo, [CommitOperationAdd("two.txt", b"2")], commit_message="stale", parent_commit=first)
    assert exc.value.response.status_code == 412
    assert api.model_info(new_repo).sha == second
    assert "two.txt" not in api.list_repo_files(new_repo)


def test_create_pr(api, other_api, endpoint, new_repo, tmp_path):
    main_before = api.model_info(new_repo).sha
    # Anyone who can read a public repository may open a pull request on it.
    info = other_api.create_commit(
        new_repo,
        [CommitOperationAdd("pr.txt", b"from a pull request\n"), CommitOperationAdd("pr.bin", os.urandom(2048))],
        commit_message="Propose a file",
        create_pr=True,
    )
    assert info.pr_url == f"{endpoint}/{new_repo}/discussions/1"
    assert info.pr_num == 1
    assert info.pr_revision == "refs/pr/1"

    path = api.hf_hub_download(new_repo, "pr.txt", revision="refs/pr/1", cache_dir=tmp_path)
    assert read(path) == b"from a pull request\n"
    with pytest.raises(EntryNotFoundError):
        api.hf_hub_download(new_repo, "pr.txt", cache_dir=tmp_path)
    assert api.model_info(new_repo).sha == main_before

    pr_commits = api.list_repo_commits(new_repo, revision="refs/pr/1")
    assert pr_commits[0].title == "Propose a file"
    assert pr_commits[0].commit_id == info.oid
    assert info.oid not in [c.commit_id for c in api.list_repo_commits(new_repo)]

    # Commit on the PR ref directly.
    more = api.upload_file(path_or_fileobj=b"more", path_in_repo="more.txt", repo_id=new_repo, revision="refs/pr/1")
    assert api.list_repo_commits(new_repo, revision="refs/pr/1")[0].commit_id == more.oid
    refs = api.list_repo_refs(new_repo, include_pull_requests=True)
    assert [(r.ref, r.target_commit) for r in refs.pull_requests] == [("refs/pr/1", more.oid)]

    second = api.create_commit(
        new_repo, [CommitOperationAdd("pr2.txt", b"2")], commit_message="second PR", create_pr=True
    )
    assert second.pr_num == 2


# --- listing and history ---------------------------------------------------------------------


def test_list_files_tree_and_paths_info(api, model_repo):
    repo_id = model_repo["id"]
    assert sorted(api.list_repo_files(repo_id)) == sorted([".gitattributes", *model_repo["files"]])

    top = {e.path: e for e in api.list_repo_tree(repo_id)}
    assert sorted(top) == sorted([".gitattributes", "README.md", "config.json", "model.safetensors", "nested"])
    assert isinstance(top["nested"], RepoFolder)

    sub = {e.path for e in api.list_repo_tree(repo_id, "nested")}
    assert sub == {"nested/tokenizer.json", "nested/deeper"}

    expanded = list(api.list_repo_tree(repo_id, recursive=True, expand=True))
    assert {e.path for e in expanded} == {
        ".gitattributes", "README.md", "config.json", "model.safetensors",
        "nested", "nested/tokenizer.json", "nested/deeper", "nested/deeper/notes.txt",
    }
    for e in expanded:
        assert e.last_commit is not None, e.path
        assert len(e.last_commit.oid) == 40
        assert isinstance(e.last_commit.date, datetime.datetime)
        if e.path == "config.json":
            assert e.last_commit.oid == model_repo["commit"]
            assert e.last_commit.title == "Upload the model"
    for e in expanded:
        if isinstance(e, RepoFile) and e.xet_hash is not None:
            # Only a server that serves the file through Xet may send it.
            assert len(e.xet_hash) == 64 and e.lfs is not None, e

    infos = {e.path: e for e in api.get_paths_info(repo_id, ["config.json", "nested", "no/such/file"])}
    assert sorted(infos) == ["config.json", "nested"]
    assert isinstance(infos["nested"], RepoFolder)
    assert infos["config.json"].size == len(model_repo["files"]["config.json"])

    with pytest.raises(EntryNotFoundError):
        list(api.list_repo_tree(repo_id, "no-such-folder"))


def test_list_repo_commits_order(api, new_repo):
    ids = [api.upload_file(path_or_fileobj=str(i).encode(), path_in_repo="n.txt", repo_id=new_repo,
                           commit_message=f"commit {i}").oid for i in range(3)]
    commits = api.list_repo_commits(new_repo)
    assert [c.commit_id for c in commits[:3]] == ids[::-1]
    assert [c.title for c in commits[:3]] == ["commit 2", "commit 1", "commit 0"]
    assert commits[-1].title == "initial commit"
    assert len(commits) == 4
    assert all(c.authors == ["alice"] for c in commits)
    assert commits[0].created_at >= commits[-1].created_at
    formatted = api.list_repo_commits(new_repo, formatted=True)
    assert formatted[0].formatted_title is not None


def test_branches_and_tags_lifecycle(api, new_repo, tmp_path):
    api.create_branch(new_repo, branch="dev")
    with pytest.raises(HfHubHTTPError) as exc:
        api.create_branch(new_repo, branch="dev")
    assert exc.value.response.status_code == 409
    api.create_branch(new_repo, branch="dev", exist_ok=True)
    api.create_tag(new_repo, tag="t1", tag_message="first tag")
    with pytest.raises(HfHubHTTPError) as exc:
        api.create_tag(new_repo, tag="t1")
    assert exc.value.response.status_code == 409
    with pytest.raises(RevisionNotFoundError):
        api.create_tag(new_repo, tag="t2", revision="no-such-branch")

    refs = api.list_repo_refs(new_repo)
    assert sorted(b.name for b in refs.branches) == ["dev", "main"]
    assert [t.name for t in refs.tags] == ["t1"]

    api.delete_branch(new_repo, branch="dev")
    api.delete_tag(new_repo, tag="t1")
    refs = api.list_repo_refs(new_repo)
    assert [b.name for b in refs.branches] == ["main"]
    assert refs.tags == []
    with pytest.raises(RevisionNotFoundError):
        api.hf_hub_download(new_repo, ".gitattributes", revision="dev", cache_dir=tmp_path)
    with pytest.raises(RevisionNotFoundError):
        api.delete_branch(new_repo, branch="dev")
    with pytest.raises(RevisionNotFoundError):
        api.delete_tag(new_repo, tag="t1")
    with pytest.raises(HfHubHTTPError):
        api.delete_branch(new_repo, branch="main")


def test_super_squash_history(api, new_repo, tmp_path):
    for i in range(3):
        api.upload_file(path_or_fileobj=f"v{i}".encode(), path_in_repo=f"f{i}.txt", repo_id=new_repo)
    api.create_branch(new_repo, branch="keep")
    files_before = sorted(api.list_repo_files(new_repo))
    api.super_squash_history(new_repo, commit_message="squashed")
    commits = api.list_repo_commits(new_repo)
    assert len(commits) == 1
    assert commits[0].title == "squashed"
    assert sorted(api.list_repo_files(new_repo)) == files_before
    assert read(api.hf_hub_download(new_repo, "f2.txt", cache_dir=tmp_path)) == b"v2"
    assert len(api.list_repo_commits(new_repo, revision="keep")) == 4


def test_gitignore_in_upload_folder(api, new_repo, tmp_path):
    folder = tmp_path / "upload"
    (folder / "nested").mkdir(parents=True)
    (folder / ".gitignore").write_text("nested/*\n")
    (folder / "nested" / "file.bin").write_bytes(b"ignored")
    (folder / "keep.txt").write_text("kept")
    api.upload_folder(repo_id=new_repo, folder_path=folder)
    assert sorted(api.list_repo_files(new_repo)) == [".gitattributes", ".gitignore", "keep.txt"]

    # The .gitignore now on the branch applies to a later upload too.
    later = tmp_path / "later"
    (later / "nested").mkdir(parents=True)
    (later / "nested" / "other.bin").write_bytes(b"ignored too")
    (later / "new.txt").write_text("new")
    api.upload_folder(repo_id=new_repo, folder_path=later)
    assert sorted(api.list_repo_files(new_repo)) == [".gitattributes", ".gitignore", "keep.txt", "new.txt"]


def test_unchanged_upload_is_skipped(api, new_repo):
    api.upload_file(path_or_fileobj=b"same", path_in_repo="same.txt", repo_id=new_repo)
    n = len(api.list_repo_commits(new_repo))
    api.upload_file(path_or_fileobj=b"same", path_in_repo="same.txt", repo_id=new_repo)
    assert len(api.list_repo_commits(new_repo)) == n, "preupload must report the current oid so unchanged files are skipped"


def test_dataset_repo_upload_and_download(api, user, repo_name, tmp_path):
    repo_id = f"{user}/{repo_name}"
    api.create_repo(repo_id, repo_type="dataset")
    parquet = os.urandom(100_000)
    api.create_commit(
        repo_id,
        [CommitOperationAdd("data/train.csv", b"a,b\n1,2\n"), CommitOperationAdd("data/train.parquet", parquet)],
        commit_message="data",
        repo_type="dataset",
    )
    tree = {e.path: e for e in api.list_repo_tree(repo_id, repo_type="dataset", recursive=True)}
    assert tree["data/train.parquet"].lfs is not None
    p = api.hf_hub_download(repo_id, "data/train.parquet", repo_type="dataset", cache_dir=tmp_path)
    assert read(p) == parquet
    snap = Path(api.snapshot_download(repo_id, repo_type="dataset", cache_dir=tmp_path / "s"))
    assert files_under(snap)["data/train.csv"] == b"a,b\n1,2\n"


# --- edge cases from the wire contract -------------------------------------------------------


def test_awkward_file_names(api, new_repo, tmp_path):
    names = ["odd/we?ird.txt", "odd/100%.txt", "odd/a,b=c.txt", "odd/space name.txt", "odd/ünï.txt"]
    api.create_commit(
        new_repo, [CommitOperationAdd(n, n.encode()) for n in names], commit_message="awkward names"
    )
    assert sorted(f for f in api.list_repo_files(new_repo) if f.startswith("odd/")) == sorted(names)
    for n in names:
        assert read(api.hf_hub_download(new_repo, n, cache_dir=tmp_path)) == n.encode(), n
    assert {e.path for e in api.get_paths_info(new_repo, names)} == set(names)


def test_repo_ids_are_case_insensitive(api, user):
    repo_id = f"{user}/CamelCase-{os.urandom(4).hex()}"
    api.create_repo(repo_id)
    api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id.lower())
    info = api.model_info(repo_id.lower())
    assert info.id == repo_id, "the canonical spelling is kept"
    assert "x.txt" in [s.rfilename for s in info.siblings]


def test_upload_modes(api, new_repo):
    big_text = b"0123456789abcdef" * (11 * 1024 * 1024 // 16)  # 11 MiB of text
    api.create_commit(
        new_repo,
        [
            CommitOperationAdd("empty.pkl", b""),
            CommitOperationAdd("tiny.bin", b"7 bytes"),
            CommitOperationAdd("large.txt", big_text),
            CommitOperationAdd("small.txt", b"small"),
        ],
        commit_message="modes",
    )
    tree = {e.path: e for e in api.list_repo_tree(new_repo)}
    assert tree["empty.pkl"].lfs is None, "empty files are always committed as regular files"
    assert tree["empty.pkl"].size == 0
    assert tree["tiny.bin"].lfs is not None, "*.bin is an LFS pattern whatever the size"
    assert tree["large.txt"].lfs is not None, "files of 10 MiB and more go to LFS"
    assert tree["large.txt"].lfs.sha256 == hashlib.sha256(big_text).hexdigest()
    assert tree["small.txt"].lfs is None
