"""Who can see what: private repositories, token roles, error classes, repository listings."""

import time

import pytest
from huggingface_hub import CommitOperationAdd
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from helpers import eventually, raw, unique

pytestmark = pytest.mark.backends


@pytest.fixture
def private_repo(api, user, repo_name):
    repo_id = f"{user}/{repo_name}"
    api.create_repo(repo_id, private=True)
    api.create_commit(
        repo_id,
        [CommitOperationAdd("secret.txt", b"secret\n"), CommitOperationAdd("weights.bin", b"\x00secret weights")],
        commit_message="secret files",
    )
    api.create_discussion(repo_id, title="secret plans", description="nobody else may read this")
    return repo_id


def _reads(api_, repo_id, tmp_path):
    """Every read path of the Hub API for one repository."""
    return {
        "model_info": lambda: api_.model_info(repo_id),
        "hf_hub_download": lambda: api_.hf_hub_download(repo_id, "secret.txt", cache_dir=tmp_path),
        "hf_hub_download_lfs": lambda: api_.hf_hub_download(repo_id, "weights.bin", cache_dir=tmp_path),
        "list_repo_tree": lambda: list(api_.list_repo_tree(repo_id)),
        "list_repo_commits": lambda: api_.list_repo_commits(repo_id),
        "get_paths_info": lambda: api_.get_paths_info(repo_id, ["secret.txt"]),
        "list_repo_refs": lambda: api_.list_repo_refs(repo_id),
        "get_repo_discussions": lambda: list(api_.get_repo_discussions(repo_id)),
        "get_discussion_details": lambda: api_.get_discussion_details(repo_id, 1),
        "create_discussion": lambda: api_.create_discussion(repo_id, title="a question"),
        "list_lfs_files": lambda: list(api_.list_lfs_files(repo_id)),
    }


@pytest.mark.parametrize("who", ["bob", "anonymous"])
def test_private_repo_is_invisible(api, other_api, anon_api, private_repo, tmp_path, who):
    reader = other_api if who == "bob" else anon_api
    # The owner can read everything.
    for call in _reads(api, private_repo, tmp_path / "owner").values():
        call()
    problems = []
    for name, call in _reads(reader, private_repo, tmp_path / who).items():
        try:
            call()
        except RepositoryNotFoundError:
            continue
        except Exception as e:  # noqa: BLE001 - reported below
            problems.append(f"{name}: {type(e).__name__}: {e}")
            continue
        problems.append(f"{name}: succeeded")
    assert not problems, f"{who} on a private repository, want RepositoryNotFoundError:\n" + "\n".join(problems)


def test_private_repo_upload_by_other_user(other_api, private_repo):
    with pytest.raises(RepositoryNotFoundError):
        other_api.upload_file(path_or_fileobj=b"intrusion", path_in_repo="bob.txt", repo_id=private_repo)
    with pytest.raises(RepositoryNotFoundError):
        other_api.upload_file(
            path_or_fileobj=b"intrusion", path_in_repo="bob.txt", repo_id=private_repo, create_pr=True
        )


def test_private_repo_raw_status_codes(endpoint, other_token, private_repo):
    # Anonymous: 401 RepoNotFound; authenticated without access: 404 RepoNotFound.
    r = raw("GET", endpoint, f"/api/models/{private_repo}")
    assert (r.status_code, r.headers.get("x-error-code")) == (401, "RepoNotFound")
    r = raw("GET", endpoint, f"/api/models/{private_repo}", token=other_token)
    assert (r.status_code, r.headers.get("x-error-code")) == (404, "RepoNotFound")
    r = raw("HEAD", endpoint, f"/{private_repo}/resolve/main/secret.txt", token=other_token)
    assert (r.status_code, r.headers.get("x-error-code")) == (404, "RepoNotFound")
    assert r.headers.get("x-error-message")


def test_error_classes(api, new_repo, tmp_path, user):
    with pytest.raises(RepositoryNotFoundError):
        api.model_info(f"{user}/{unique('missing')}")
    with pytest.raises(RevisionNotFoundError):
        api.model_info(new_repo, revision="no-such-revision")
    with pytest.raises(RevisionNotFoundError):
        api.hf_hub_download(new_repo, ".gitattributes", revision="no-such-revision", cache_dir=tmp_path)
    with pytest.raises(EntryNotFoundError):
        api.hf_hub_download(new_repo, "missing.txt", cache_dir=tmp_path)
    with pytest.raises(RevisionNotFoundError):
        list(api.list_repo_tree(new_repo, revision="no-such-revision"))


def test_error_headers(endpoint, token, new_repo, api):
    sha = api.model_info(new_repo).sha
    r = raw("HEAD", endpoint, f"/{new_repo}/resolve/main/missing.txt", token=token)
    assert r.status_code == 404
    assert r.headers.get("x-error-code") == "EntryNotFound"
    assert r.headers.get("x-repo-commit") == sha
    assert r.headers.get("x-request-id")


def test_read_token_cannot_write(read_api, new_repo, user):
    with pytest.raises(HfHubHTTPError) as exc:
        read_api.upload_file(path_or_fileobj=b"nope", path_in_repo="nope.txt", repo_id=new_repo)
    assert exc.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as exc:
        read_api.create_repo(f"{user}/{unique('read-only')}")
    assert exc.value.response.status_code == 403
    # Reading works.
    assert read_api.model_info(new_repo).id == new_repo


def test_other_user_cannot_write(other_api, new_repo):
    with pytest.raises(HfHubHTTPError) as exc:
        other_api.upload_file(path_or_fileobj=b"nope", path_in_repo="nope.txt", repo_id=new_repo)
    assert exc.value.response.status_code == 403


# --- list_models ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def listed(api, org, user, tmp_path_factory):
    """Five repositories of alice sharing a unique word (one private), one in the org, one tagged."""
    word = unique("listme")
    ids = []
    for i in range(5):
        repo_id = f"{user}/{word}-{i}"
        api.create_repo(repo_id, private=(i == 3))
        ids.append(repo_id)
        time.sleep(0.02)
    org_repo = f"{org}/{word}-org"
    api.create_repo(org_repo)
    tag = unique("tagged")
    api.upload_file(
        path_or_fileobj=f"---\ntags:\n- {tag}\nlicense: apache-2.0\n---\n# card\n".encode(),
        path_in_repo="README.md",
        repo_id=ids[1],
    )
    return {"word": word, "ids": ids, "private": ids[3], "org_repo": org_repo, "tag": tag}


def test_list_models_search_and_visibility(api, other_api, anon_api, listed):
    word = listed["word"]
    mine = {m.id for m in api.list_models(search=word)}
    assert mine == {*listed["ids"], listed["org_repo"]}
    public = {*listed["ids"], listed["org_repo"]} - {listed["private"]}
    assert {m.id for m in anon_api.list_models(search=word)} == public
    assert {m.id for m in other_api.list_models(search=word)} == public
    assert {m.id for m in api.list_models(search=word.upper())} == mine, "search is case-insensitive"


def test_list_models_author_filter_sort_limit(api, anon_api, org, user, listed):
    word = listed["word"]
    assert {m.id for m in api.list_models(author=org, search=word)} == {listed["org_repo"]}
    assert {m.id for m in anon_api.list_models(author=user, search=word)} == set(listed["ids"]) - {listed["private"]}

    def tagged():
        assert [m.id for m in api.list_models(filter=listed["tag"])] == [listed["ids"][1]]

    eventually(tagged)
    assert [m.id for m in api.list_models(filter=[listed["tag"], "license:apache-2.0"])] == [listed["ids"][1]]

    assert len(list(api.list_models(search=word, limit=2))) == 2

    newest_first = list(api.list_models(search=word, author=user, sort="createdAt"))
    dates = [m.created_at for m in newest_first]
    assert all(d is not None for d in dates)
    assert dates == sorted(dates, reverse=True)
    assert [m.id for m in newest_first] == listed["ids"][::-1]


def test_list_models_sort_by_likes(api, endpoint, other_token, listed):
    liked = listed["ids"][2]
    r = raw("POST", endpoint, f"/api/models/{liked}/like", token=other_token)
    assert r.status_code == 200, r.text
    first = next(iter(api.list_models(search=listed["word"], sort="likes")))
    assert first.id == liked
    assert first.likes == 1


def test_list_models_pagination(endpoint, token, listed):
    """Small pages are linked with an absolute Link: <...>; rel="next" header that keeps the query."""
    url = f"{endpoint}/api/models?search={listed['word']}&limit=2"
    seen, pages = [], 0
    while url:
        r = raw("GET", url, "", token=token)
        assert r.status_code == 200
        page = r.json()
        assert len(page) <= 2
        seen += [m["id"] for m in page]
        pages += 1
        nxt = r.links.get("next", {}).get("url")
        if nxt:
            assert nxt.startswith(endpoint + "/api/models?"), nxt
            assert f"search={listed['word']}" in nxt
        url = nxt
        assert pages < 10
    assert pages >= 3
    assert sorted(seen) == sorted({*listed["ids"], listed["org_repo"]})
    assert len(seen) == len(set(seen))


def test_list_datasets_and_spaces(api, anon_api, user):
    word = unique("kinds")
    api.create_repo(f"{user}/{word}-d", repo_type="dataset")
    api.create_repo(f"{user}/{word}-s", repo_type="space", space_sdk="static")
    api.create_repo(f"{user}/{word}-m")
    assert [d.id for d in anon_api.list_datasets(search=word)] == [f"{user}/{word}-d"]
    assert [s.id for s in anon_api.list_spaces(search=word)] == [f"{user}/{word}-s"]
    assert [m.id for m in anon_api.list_models(search=word)] == [f"{user}/{word}-m"]
