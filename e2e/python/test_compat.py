"""Behaviours the clients' own suites check, against Haven: empty branches,
Hub routes Haven lacks, settings, special refs, automatic tags, listings."""

import pytest
from huggingface_hub import CommitOperationAdd, HfApi, hf_hub_download
from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, RepositoryNotFoundError

from helpers import unique


def test_empty_branch_file_is_entry_not_found(api, new_repo):
    api.create_branch(new_repo, branch="empty")  # huggingface_hub has no emptyBranch: made through the API
    api.delete_branch(new_repo, branch="empty")
    r = api._build_hf_headers()
    import httpx

    res = httpx.post(f"{api.endpoint}/api/models/{new_repo}/branch/empty", headers=r, json={"emptyBranch": True})
    assert res.status_code == 200, res.text
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(new_repo, "file.txt", revision="empty", token=api.token)
    assert list(api.list_repo_tree(new_repo, revision="empty")) == []


def test_unsupported_route_is_named(api):
    res = api._build_hf_headers()
    import httpx

    r = httpx.get(f"{api.endpoint}/api/daily_papers", headers=res)
    assert r.status_code == 501
    assert r.headers["X-Error-Message"] == "Get Daily Papers (GET /api/daily_papers) is not supported by this server"
    assert httpx.get(f"{api.endpoint}/api/no-such-thing", headers=res).status_code == 404


def test_settings_applied_or_refused(api, new_repo):
    api.update_repo_settings(new_repo, private=True)
    assert api.model_info(new_repo).private
    api.update_repo_settings(new_repo, gated="manual")
    assert api.model_info(new_repo).gated == "manual"
    import httpx

    # The client has no argument for discussionsDisabled; the Hub's settings
    # take it, and then refuse new discussions and pull requests.
    settings = f"{api.endpoint}/api/models/{new_repo}/settings"
    r = httpx.put(settings, headers=api._build_hf_headers(), json={"discussionsDisabled": True})
    assert r.status_code == 200 and r.json()["discussionsDisabled"] is True
    with pytest.raises(HfHubHTTPError) as e:
        api.create_discussion(new_repo, title="Closed for now")
    assert e.value.response.status_code == 403 and "disabled" in e.value.response.headers["X-Error-Message"]
    with pytest.raises(HfHubHTTPError):
        api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=new_repo, create_pr=True)
    assert httpx.put(settings, headers=api._build_hf_headers(), json={"discussionsDisabled": False}).status_code == 200
    assert api.create_discussion(new_repo, title="Open again").num == 1
    # The client refuses "protected" for models itself; the server does too.
    r = httpx.put(settings, headers=api._build_hf_headers(), json={"visibility": "protected"})
    assert r.status_code == 400 and "not supported" in r.headers["X-Error-Message"]


def test_special_refs(api, new_repo):
    api.upload_file(path_or_fileobj=b"a", path_in_repo="a.txt", repo_id=new_repo)
    pr = api.upload_file(path_or_fileobj=b"b", path_in_repo="b.txt", repo_id=new_repo, create_pr=True)
    ref = f"refs/pr/{pr.pr_num}"
    # The client skips an empty commit itself; the server would make it.
    api.create_commit(new_repo, operations=[], commit_message="nothing", revision=ref)
    api.super_squash_history(new_repo, branch=ref, commit_message="squashed")
    assert len(api.list_repo_commits(new_repo, revision=ref)) == 1
    with pytest.raises(RepositoryNotFoundError):
        api.duplicate_repo("alice/" + unique("missing-space"), to_id=unique("copy"), repo_type="space")


def test_whoami_with_explicit_token(endpoint, token, user):
    assert HfApi(endpoint=endpoint, token=False).whoami(token=token)["name"] == user


def test_automatic_tags_filter(api, user, repo_name):
    repo_id = f"{user}/{repo_name}"
    api.create_repo(repo_id)
    api.create_commit(
        repo_id,
        operations=[
            CommitOperationAdd("config.json", b'{"model_type": "bert"}'),
            CommitOperationAdd("model.safetensors", b"not really weights " * 4),
        ],
        commit_message="weights",
    )
    info = api.model_info(repo_id)
    assert {"safetensors", "transformers", "bert"} <= set(info.tags)
    assert info.library_name == "transformers"
    assert repo_id in [m.id for m in api.list_models(filter="safetensors", author=user)]


def test_list_user_repos(api, new_repo, user, endpoint, token):
    bucket = f"{user}/{unique('ls-bucket')}"
    api.create_bucket(bucket, private=True)
    repos = {r.id: r for r in api.list_user_repos()}
    assert repos[new_repo].type == "model"
    assert repos[new_repo].visibility == "public"
    assert repos[new_repo].storage > 0
    assert repos[bucket].type == "bucket" and repos[bucket].visibility == "private"

    import os
    import subprocess

    out = subprocess.run(
        # One id per line: the table cuts ids to the terminal's width.
        ["hf", "repos", "ls", "--limit", "0", "--quiet"],
        env={**os.environ, "HF_ENDPOINT": endpoint, "HF_TOKEN": token},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    ids = out.split()
    assert new_repo in ids and bucket in ids
