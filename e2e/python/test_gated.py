"""Gated repositories and access requests with the official client.

alice owns the repositories; bob asks for access, is refused, then let in."""

import os
import subprocess
from urllib.parse import urlsplit

import pytest
from huggingface_hub import CommitOperationAdd, hf_hub_download
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError

from helpers import raw

README = """---
license: other
extra_gated_heading: Ask for the weights
extra_gated_prompt: You agree to use them for research only.
extra_gated_button_content: Send my request
extra_gated_fields:
  Company: text
  Country: country
  Purpose:
    type: select
    options:
      - Research
      - label: Business use
        value: business
  Date of birth: date_picker
  I agree to the licence: checkbox
---
# A gated model
"""

ANSWERS = {
    "Company": "ACME",
    "Country": "FR",
    "Purpose": "business",
    "Date of birth": "1990-01-02",
    "I agree to the licence": True,
}

WEIGHTS = os.urandom(200_000)


@pytest.fixture
def gated_repo(api, new_repo):
    """alice's model with a card that asks for every kind of field, gated manually."""
    api.create_commit(
        new_repo,
        operations=[
            CommitOperationAdd("README.md", README.encode()),
            CommitOperationAdd("config.json", b'{"hidden_size": 8}\n'),
            CommitOperationAdd("model.safetensors", WEIGHTS),
        ],
        commit_message="A gated model",
    )
    api.update_repo_settings(new_repo, gated="manual")
    return new_repo


def ask(endpoint, token, repo_id, answers=ANSWERS, repo_type="models"):
    r = raw("POST", endpoint, f"/api/{repo_type}/{repo_id}/ask-access", token, json=answers)
    r.raise_for_status()
    return r.json()["status"]


def download(endpoint, token, repo_id, tmp_path, filename="config.json"):
    return hf_hub_download(repo_id, filename, endpoint=endpoint, token=token, cache_dir=tmp_path / os.urandom(4).hex())


def clone(endpoint, user, token, repo_id, dest):
    u = urlsplit(endpoint)
    url = f"{u.scheme}://{user}:{token}@{u.netloc}/{repo_id}"
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_LFS_SKIP_SMUDGE": "1"}
    return subprocess.run(["git", "clone", "-q", url, str(dest)], env=env, capture_output=True, text=True, timeout=120)


def test_manual_gating_request_reject_accept(api, other_api, endpoint, token, other_token, other_user, gated_repo, tmp_path):
    # The card's form reaches the clients through cardData.
    card = api.model_info(gated_repo).card_data
    assert card["extra_gated_fields"]["Purpose"]["type"] == "select"

    with pytest.raises(GatedRepoError, match="not in the authorized list"):
        download(endpoint, other_token, gated_repo, tmp_path)
    assert list(api.list_pending_access_requests(gated_repo)) == []

    # A form missing an answer is refused; a full one waits for review.
    r = raw("POST", endpoint, f"/api/models/{gated_repo}/ask-access", other_token, json={"Company": "ACME"})
    assert r.status_code == 400
    assert ask(endpoint, other_token, gated_repo) == "pending"
    with pytest.raises(GatedRepoError, match="awaiting a review"):
        download(endpoint, other_token, gated_repo, tmp_path)

    pending = list(api.list_pending_access_requests(gated_repo))
    assert [p.username for p in pending] == [other_user]
    assert pending[0].status == "pending"
    assert pending[0].fields == ANSWERS
    assert pending[0].timestamp is not None

    # bob may not look at or decide on requests.
    with pytest.raises(HfHubHTTPError):
        list(other_api.list_pending_access_requests(gated_repo))
    with pytest.raises(HfHubHTTPError):
        other_api.accept_access_request(gated_repo, other_user)

    api.reject_access_request(gated_repo, other_user, rejection_reason="Not for now")
    assert [p.username for p in api.list_rejected_access_requests(gated_repo)] == [other_user]
    assert list(api.list_pending_access_requests(gated_repo)) == []
    with pytest.raises(GatedRepoError):
        download(endpoint, other_token, gated_repo, tmp_path)
    with pytest.raises(GatedRepoError):
        other_api.auth_check(gated_repo)
    assert clone(endpoint, other_user, other_token, gated_repo, tmp_path / "refused").returncode != 0
    # Repeating the current status is an error.
    with pytest.raises(HfHubHTTPError):
        api.reject_access_request(gated_repo, other_user, rejection_reason=None)

    api.accept_access_request(gated_repo, other_user)
    accepted = list(api.list_accepted_access_requests(gated_repo))
    assert [a.username for a in accepted] == [other_user]
    assert accepted[0].fields == ANSWERS
    other_api.auth_check(gated_repo)

    # Every path: resolve (small file), LFS or Xet (large file), git.
    assert open(download(endpoint, other_token, gated_repo, tmp_path), "rb").read() == b'{"hidden_size": 8}\n'
    assert open(download(endpoint, other_token, gated_repo, tmp_path, "model.safetensors"), "rb").read() == WEIGHTS
    done = clone(endpoint, other_user, other_token, gated_repo, tmp_path / "clone")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "clone" / "config.json").read_bytes() == b'{"hidden_size": 8}\n'

    # Python's cancel sends the request back to pending.
    api.cancel_access_request(gated_repo, other_user)
    assert [p.username for p in api.list_pending_access_requests(gated_repo)] == [other_user]
    with pytest.raises(GatedRepoError):
        download(endpoint, other_token, gated_repo, tmp_path)
    with pytest.raises(HfHubHTTPError):
        api.cancel_access_request(gated_repo, other_user)


def test_auto_gating_accepts_at_once(api, endpoint, other_token, other_user, gated_repo, tmp_path):
    api.update_repo_settings(gated_repo, gated="auto")
    with pytest.raises(GatedRepoError):
        download(endpoint, other_token, gated_repo, tmp_path)
    assert ask(endpoint, other_token, gated_repo) == "accepted"
    assert [a.username for a in api.list_accepted_access_requests(gated_repo)] == [other_user]
    assert open(download(endpoint, other_token, gated_repo, tmp_path), "rb").read() == b'{"hidden_size": 8}\n'


def test_grant_access(api, endpoint, other_token, other_user, gated_repo, tmp_path):
    with pytest.raises(GatedRepoError):
        download(endpoint, other_token, gated_repo, tmp_path)
    assert api.grant_access(gated_repo, other_user) is not None
    accepted = list(api.list_accepted_access_requests(gated_repo))
    assert [a.username for a in accepted] == [other_user]
    assert accepted[0].email is None  # granted users gave no address
    assert open(download(endpoint, other_token, gated_repo, tmp_path), "rb").read() == b'{"hidden_size": 8}\n'
    with pytest.raises(HfHubHTTPError):
        api.grant_access(gated_repo, other_user)
    with pytest.raises(HfHubHTTPError):
        api.grant_access(gated_repo, "no-such-user-here")
    # Revoking through reject shuts the door again.
    api.reject_access_request(gated_repo, other_user, rejection_reason=None)
    with pytest.raises(GatedRepoError):
        download(endpoint, other_token, gated_repo, tmp_path)


def test_gated_dataset(api, endpoint, other_token, other_user, user, repo_name, tmp_path):
    repo_id = f"{user}/{repo_name}"
    api.create_repo(repo_id, repo_type="dataset")
    api.upload_file(path_or_fileobj=b"a,b\n1,2\n", path_in_repo="data.csv", repo_id=repo_id, repo_type="dataset")
    api.update_repo_settings(repo_id, gated="manual", repo_type="dataset")
    with pytest.raises(GatedRepoError):
        hf_hub_download(repo_id, "data.csv", repo_type="dataset", endpoint=endpoint, token=other_token, cache_dir=tmp_path / "a")
    assert ask(endpoint, other_token, repo_id, answers={}, repo_type="datasets") == "pending"
    api.accept_access_request(repo_id, other_user, repo_type="dataset")
    path = hf_hub_download(repo_id, "data.csv", repo_type="dataset", endpoint=endpoint, token=other_token, cache_dir=tmp_path / "b")
    assert open(path, "rb").read() == b"a,b\n1,2\n"


def test_access_requests_need_a_gated_repo(api, new_repo, other_user):
    with pytest.raises(HfHubHTTPError):
        list(api.list_pending_access_requests(new_repo))
    with pytest.raises(HfHubHTTPError):
        api.grant_access(new_repo, other_user)


def test_private_gated_repo_stays_hidden(api, endpoint, other_token, other_user, user, repo_name):
    """The access-request endpoints of a private repository answer as for one that does not exist."""
    repo_id = f"{user}/{repo_name}"
    api.create_repo(repo_id, private=True)
    api.update_repo_settings(repo_id, gated="manual")
    missing = f"{user}/no-such-repo-{repo_name}"
    for rid in (repo_id, missing):
        for method, path in [
            ("POST", f"/api/models/{rid}/ask-access"),
            ("GET", f"/api/models/{rid}/user-access-request/pending"),
            ("POST", f"/api/models/{rid}/user-access-request/cancel"),
        ]:
            for tok, status in ((other_token, 404), (None, 401)):
                r = raw(method, endpoint, path, tok, json={})
                assert r.status_code == status, (rid, method, path, r.status_code, r.text)
                assert r.headers.get("X-Error-Code") == "RepoNotFound", (rid, path)
    # Granting access does not open a private repository.
    api.grant_access(repo_id, other_user)
    r = raw("GET", endpoint, f"/api/models/{repo_id}/auth-check", other_token)
    assert r.status_code == 404
