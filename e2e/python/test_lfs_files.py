"""The Hub's LFS file listing and permanent deletion (list_lfs_files, permanently_delete_lfs_files)."""

import hashlib
import os

import pytest
from huggingface_hub import CommitOperationAdd, hf_hub_download
from huggingface_hub.errors import HfHubHTTPError, RevisionNotFoundError


def test_list_and_permanently_delete_lfs_files(api, read_api, other_api, new_repo, tmp_path):
    first, second = os.urandom(200_000), os.urandom(300_000)
    old = api.create_commit(new_repo, [CommitOperationAdd("weights/first.bin", first)], commit_message="first").oid
    api.create_commit(new_repo, [CommitOperationAdd("second.bin", second)], commit_message="second")

    files = {f.file_oid: f for f in api.list_lfs_files(new_repo)}
    sha_first, sha_second = hashlib.sha256(first).hexdigest(), hashlib.sha256(second).hexdigest()
    assert set(files) == {sha_first, sha_second}
    assert (files[sha_first].filename, files[sha_first].size) == ("weights/first.bin", len(first))
    assert (files[sha_second].filename, files[sha_second].size) == ("second.bin", len(second))
    assert files[sha_first].ref == "refs/heads/main"
    assert files[sha_first].pushed_at is not None

    # Only the repository's admins may delete.
    for who in (read_api, other_api):
        with pytest.raises(HfHubHTTPError) as e:
            who.permanently_delete_lfs_files(new_repo, [files[sha_first]])
        assert e.value.response.status_code == 403
    # Without a history rewrite the objects stay referenced: a clear refusal.
    with pytest.raises(HfHubHTTPError) as e:
        api.permanently_delete_lfs_files(new_repo, [files[sha_first]], rewrite_history=False)
    assert e.value.response.status_code == 400
    assert "rewriteHistory" in str(e.value)

    api.permanently_delete_lfs_files(new_repo, [files[sha_first]])

    assert [f.file_oid for f in api.list_lfs_files(new_repo)] == [sha_second]
    assert "weights/first.bin" not in api.list_repo_files(new_repo)
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(new_repo, "weights/first.bin", revision=old, cache_dir=tmp_path / "c1", token=api.token)
    path = hf_hub_download(new_repo, "second.bin", cache_dir=tmp_path / "c2", token=api.token)
    with open(path, "rb") as f:
        assert f.read() == second
    # History keeps both commits, rewritten.
    assert [c.title for c in api.list_repo_commits(new_repo)][:2] == ["second", "first"]
