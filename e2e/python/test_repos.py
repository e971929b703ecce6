"""Identity and the repository lifecycle: create, info, settings, move, delete, likes."""

import datetime
import hashlib

import pytest
from huggingface_hub import CommitOperationAdd
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from helpers import eventually, git_blob_sha1, raw, unique


def test_whoami(api, read_api, other_api, user, other_user, org):
    me = api.whoami()
    assert me["name"] == user
    assert me["type"] == "user"
    assert me["fullname"] == "Alice Liddell"
    assert org in [o["name"] for o in me["orgs"]]
    assert me["auth"]["accessToken"]["role"] == "write"

    assert read_api.whoami()["auth"]["accessToken"]["role"] == "read"

    bob = other_api.whoami()
    assert bob["name"] == other_user
    assert bob["orgs"] == []


def test_whoami_with_a_bad_token(endpoint):
    from huggingface_hub import HfApi

    with pytest.raises(HfHubHTTPError) as exc:
        HfApi(endpoint=endpoint, token="hf_" + "x" * 34).whoami()
    assert exc.value.response.status_code == 401


@pytest.mark.parametrize(
    "repo_type,prefix,kwargs",
    [("model", "", {}), ("dataset", "datasets/", {}), ("space", "spaces/", {"space_sdk": "static"})],
)
def test_create_repo_types(api, endpoint, user, repo_name, repo_type, prefix, kwargs):
    repo_id = f"{user}/{repo_name}"
    url = api.create_repo(repo_id, repo_type=repo_type, **kwargs)
    assert url == f"{endpoint}/{prefix}{repo_id}"
    assert url.repo_id == repo_id
    assert url.repo_type == repo_type

    info = api.repo_info(repo_id, repo_type=repo_type)
    assert info.id == repo_id
    assert info.private is False
    assert len(info.sha) == 40
    assert ".gitattributes" in [s.rfilename for s in info.siblings]

    # Creating it again: 409, unless exist_ok.
    with pytest.raises(HfHubHTTPError) as exc:
        api.create_repo(repo_id, repo_type=repo_type, **kwargs)
    assert exc.value.response.status_code == 409
    again = api.create_repo(repo_id, repo_type=repo_type, exist_ok=True, **kwargs)
    assert again == url

    commits = api.list_repo_commits(repo_id, repo_type=repo_type)
    assert len(commits) == 1
    assert commits[0].title == "initial commit"
    assert commits[0].authors == [user]


def test_create_repo_without_namespace_uses_the_token_user(api, user, repo_name):
    url = api.create_repo(repo_name)
    assert url.repo_id == f"{user}/{repo_name}"
    assert api.model_info(f"{user}/{repo_name}").author == user


def test_create_repo_in_org(api, other_api, anon_api, endpoint, org, repo_name):
    repo_id = f"{org}/{repo_name}"
    url = api.create_repo(repo_id)
    assert url == f"{endpoint}/{repo_id}"
    info = anon_api.model_info(repo_id)
    assert info.author == org

    # bob is not a member of the organisation.
    with pytest.raises(HfHubHTTPError) as exc:
        other_api.create_repo(f"{org}/{unique('intruder')}")
    assert exc.value.response.status_code == 403


def test_create_repo_in_another_users_namespace_is_forbidden(other_api, user):
    with pytest.raises(HfHubHTTPError) as exc:
        other_api.create_repo(f"{user}/{unique('not-bobs')}")
    assert exc.value.response.status_code == 403


def test_private_repo(api, other_api, anon_api, user, repo_name):
    repo_id = f"{user}/{repo_name}"
    api.create_repo(repo_id, private=True)
    assert api.model_info(repo_id).private is True
    with pytest.raises(RepositoryNotFoundError):
        anon_api.model_info(repo_id)
    with pytest.raises(RepositoryNotFoundError):
        other_api.model_info(repo_id)
    assert api.repo_exists(repo_id)
    assert not other_api.repo_exists(repo_id)


def test_repo_info_fields(api, model_repo):
    repo_id = model_repo["id"]
    files = model_repo["files"]

    def check():
        info = api.model_info(repo_id)
        assert info.card_data is not None
        assert info.card_data.get("license") == "mit"
        assert info.pipeline_tag == "text-classification"
        assert info.library_name == "transformers"
        assert model_repo["tag"] in info.tags
        assert "license:mit" in info.tags
        return info

    info = eventually(check)
    assert info.id == repo_id
    assert info.sha == model_repo["commit"]
    assert info.private is False
    assert isinstance(info.last_modified, datetime.datetime)
    age = datetime.datetime.now(datetime.timezone.utc) - info.last_modified
    assert datetime.timedelta(seconds=-60) < age < datetime.timedelta(minutes=30)
    assert isinstance(info.created_at, datetime.datetime)
    names = sorted(s.rfilename for s in info.siblings)
    assert names == sorted([".gitattributes", *files])


def test_repo_info_files_metadata(api, model_repo):
    files = model_repo["files"]
    info = api.model_info(model_repo["id"], files_metadata=True)
    sib = {s.rfilename: s for s in info.siblings}

    big = sib["model.safetensors"]
    assert big.size == len(files["model.safetensors"])
    assert big.lfs is not None
    assert big.lfs.size == len(files["model.safetensors"])
    assert big.lfs.sha256 == hashlib.sha256(files["model.safetensors"]).hexdigest()

    cfg = sib["config.json"]
    assert cfg.lfs is None
    assert cfg.size == len(files["config.json"])
    assert cfg.blob_id == git_blob_sha1(files["config.json"])


def test_repo_info_at_revision(api, new_repo):
    first = api.model_info(new_repo).sha
    info = api.upload_file(path_or_fileobj=b"v2", path_in_repo="v.txt", repo_id=new_repo)
    assert api.model_info(new_repo).sha == info.oid
    old = api.model_info(new_repo, revision=first)
    assert old.sha == first
    assert "v.txt" not in [s.rfilename for s in old.siblings]


@pytest.mark.parametrize("repo_type", ["model", "dataset"])
def test_update_repo_settings_visibility(api, anon_api, user, repo_name, repo_type):
    repo_id = f"{user}/{repo_name}"
    api.create_repo(repo_id, repo_type=repo_type)
    api.update_repo_settings(repo_id, private=True, repo_type=repo_type)
    assert api.repo_info(repo_id, repo_type=repo_type).private is True
    with pytest.raises(RepositoryNotFoundError):
        anon_api.repo_info(repo_id, repo_type=repo_type)
    api.update_repo_settings(repo_id, private=False, repo_type=repo_type)
    assert anon_api.repo_info(repo_id, repo_type=repo_type).private is False


def test_update_repo_settings_gated(api, new_repo):
    api.update_repo_settings(new_repo, gated="auto")
    assert api.model_info(new_repo).gated == "auto"
    api.update_repo_settings(new_repo, gated=False)
    assert api.model_info(new_repo).gated is False


def test_settings_need_write_access(other_api, new_repo):
    with pytest.raises(HfHubHTTPError) as exc:
        other_api.update_repo_settings(new_repo, private=True)
    assert exc.value.response.status_code in (403, 404)


@pytest.mark.parametrize("private", [False, True])
def test_move_repo_and_download_through_old_name(api, user, tmp_path, private):
    old = f"{user}/{unique('before-move')}"
    new = f"{user}/{unique('after-move')}"
    api.create_repo(old, private=private)
    api.upload_file(path_or_fileobj=b"moved content\n", path_in_repo="file.txt", repo_id=old)
    api.move_repo(old, new)

    info = api.model_info(new)
    assert info.id == new
    assert info.private is private
    path = api.hf_hub_download(new, "file.txt", cache_dir=tmp_path / "new")
    assert open(path, "rb").read() == b"moved content\n"
    # The old name keeps working for downloads (redirect).
    path = api.hf_hub_download(old, "file.txt", cache_dir=tmp_path / "old")
    assert open(path, "rb").read() == b"moved content\n"


def test_move_repo_to_existing_name_conflicts(api, user):
    a = f"{user}/{unique('move-a')}"
    b = f"{user}/{unique('move-b')}"
    api.create_repo(a)
    api.create_repo(b)
    with pytest.raises(HfHubHTTPError) as exc:
        api.move_repo(a, b)
    assert exc.value.response.status_code == 409


def test_delete_repo(api, anon_api, new_repo):
    api.delete_repo(new_repo)
    with pytest.raises(RepositoryNotFoundError):
        api.model_info(new_repo)
    with pytest.raises(RepositoryNotFoundError):
        anon_api.model_info(new_repo)
    with pytest.raises(RepositoryNotFoundError):
        api.delete_repo(new_repo)
    api.delete_repo(new_repo, missing_ok=True)
    # The name is free again.
    api.create_repo(new_repo)
    assert len(api.list_repo_commits(new_repo)) == 1


def test_delete_repo_needs_ownership(other_api, api, new_repo):
    with pytest.raises(HfHubHTTPError) as exc:
        other_api.delete_repo(new_repo)
    assert exc.value.response.status_code in (403, 404)
    assert api.model_info(new_repo).id == new_repo


def test_like_unlike(api, other_api, endpoint, other_token, other_user, new_repo):
    assert api.model_info(new_repo).likes == 0
    r = raw("POST", endpoint, f"/api/models/{new_repo}/like", token=other_token)
    assert r.status_code == 200, r.text
    assert api.model_info(new_repo).likes == 1
    liked = other_api.list_liked_repos(other_user)
    assert new_repo in liked.models
    assert liked.user == other_user

    other_api.unlike(new_repo)
    assert api.model_info(new_repo).likes == 0
    assert new_repo not in other_api.list_liked_repos(other_user).models
    with pytest.raises(RepositoryNotFoundError):
        other_api.unlike(f"{other_user}/{unique('no-such-repo')}")


def test_downloads_counter(api, new_repo, tmp_path):
    api.upload_file(path_or_fileobj=b'{"a": 1}\n', path_in_repo="config.json", repo_id=new_repo)
    before = api.model_info(new_repo).downloads
    if before is None:
        pytest.skip("the server does not report downloads")
    api.hf_hub_download(new_repo, "config.json", cache_dir=tmp_path)

    def check():
        assert api.model_info(new_repo).downloads > before

    eventually(check)


def test_readme_with_invalid_metadata_is_refused(api, new_repo):
    card = b"---\nmodel-index: foo\n---\n# Card\n"
    with pytest.raises(ValueError, match="Invalid metadata in README.md"):
        api.upload_file(path_or_fileobj=card, path_in_repo="README.md", repo_id=new_repo)
    assert "README.md" not in api.list_repo_files(new_repo)


def test_readme_without_metadata_warns(api, new_repo):
    with pytest.warns(UserWarning, match="Warnings while validating metadata in README.md"):
        api.create_commit(
            new_repo,
            [CommitOperationAdd("README.md", b"# Just a title\n")],
            commit_message="card without metadata",
        )
    assert "README.md" in api.list_repo_files(new_repo)
