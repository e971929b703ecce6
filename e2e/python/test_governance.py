"""Organisation roles, fine-grained and expiring tokens, and org default visibility.

Users, memberships and tokens are made with the admin command (HAVEN_BIN), each
test with fresh ones so that no identity the server has cached is involved.
"""

import json
import os
import subprocess
import time

import pytest
from huggingface_hub import CommitOperationAdd, HfApi, hf_hub_download
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError
from huggingface_hub.utils import get_session

from helpers import unique


def haven(*args):
    """Runs the admin command against the server's data; returns its output."""
    flags = json.loads(os.environ["HAVEN_ADMIN_FLAGS"])
    out = subprocess.run([os.environ["HAVEN_BIN"], *args, *flags], check=True, capture_output=True, text=True)
    return out.stdout


def token_of(*args):
    """Creates a token with `haven token create` and returns it (the last line)."""
    tok = haven("token", "create", *args).strip().splitlines()[-1]
    assert tok.startswith("hf_")
    return tok


def new_user(prefix):
    name = unique(prefix)
    haven("user", "create", name)
    return name


@pytest.fixture
def team(endpoint):
    """A fresh organisation with an admin and a contributor, each with a write token."""
    admin, contributor = new_user("admin"), new_user("contrib")
    org = unique("team")
    haven("org", "create", org, "--owner", admin)
    haven("org", "member", org, contributor, "--role", "contributor")
    return {
        "org": org,
        "admin": HfApi(endpoint=endpoint, token=token_of(admin, "--role", "write")),
        "contributor": HfApi(endpoint=endpoint, token=token_of(contributor, "--role", "write")),
        "contributor_name": contributor,
    }


def test_contributor_opens_a_pull_request_that_an_admin_merges(team):
    admin, contributor = team["admin"], team["contributor"]
    repo_id = f"{team['org']}/{unique('model')}"
    admin.create_repo(repo_id, private=True)
    admin.upload_file(path_or_fileobj=b"base\n", path_in_repo="base.txt", repo_id=repo_id)
    # The contributor reads the private repository and sees their role in whoami.
    assert contributor.model_info(repo_id).private
    orgs = {o["name"]: o["roleInOrg"] for o in contributor.whoami()["orgs"]}
    assert orgs == {team["org"]: "contributor"}
    # Pushing to main is refused...
    with pytest.raises(HfHubHTTPError) as e:
        contributor.upload_file(path_or_fileobj=b"direct\n", path_in_repo="direct.txt", repo_id=repo_id)
    assert e.value.response.status_code == 403
    # ...and so are settings, creating repositories and merging.
    with pytest.raises(HfHubHTTPError) as e:
        contributor.update_repo_settings(repo_id, private=False)
    assert e.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as e:
        contributor.create_repo(f"{team['org']}/{unique('mine')}")
    assert e.value.response.status_code == 403
    # A pull request is how a contributor proposes a change, and may grow.
    info = contributor.create_commit(
        repo_id, [CommitOperationAdd("proposal.txt", b"from the contributor\n")], commit_message="Propose", create_pr=True
    )
    num = int(info.pr_num)
    contributor.create_commit(
        repo_id, [CommitOperationAdd("more.txt", b"more\n")], commit_message="More", revision=f"refs/pr/{num}"
    )
    contributor.comment_discussion(repo_id, num, "Please merge")
    with pytest.raises(HfHubHTTPError) as e:
        contributor.merge_pull_request(repo_id, num)
    assert e.value.response.status_code == 403
    admin.merge_pull_request(repo_id, num, comment="Thanks")
    details = admin.get_discussion_details(repo_id, num)
    assert details.status == "merged" and details.author == team["contributor_name"]
    files = set(admin.list_repo_files(repo_id))
    assert {"base.txt", "proposal.txt", "more.txt"} <= files and "direct.txt" not in files


def test_fine_grained_token_scoped_to_one_repo(api, endpoint, user, tmp_path):
    scoped, other, public = (f"{user}/{unique(n)}" for n in ("scoped", "other", "public"))
    api.create_repo(scoped, private=True)
    api.create_repo(other, private=True)
    api.create_repo(public)
    api.upload_file(path_or_fileobj=b"hello\n", path_in_repo="hello.txt", repo_id=scoped)
    fg = HfApi(endpoint=endpoint, token=token_of(user, "--role", "fine-grained", "--repo", f"{scoped}:write", "--name", "ci"))

    # Its repository: download and commit.
    path = hf_hub_download(scoped, "hello.txt", token=fg.token, endpoint=endpoint, cache_dir=tmp_path)
    assert open(path, "rb").read() == b"hello\n"
    fg.upload_file(path_or_fileobj=b"by the token\n", path_in_repo="new.txt", repo_id=scoped)
    assert "new.txt" in api.list_repo_files(scoped)

    # A private repository outside its scopes does not exist for it.
    with pytest.raises(RepositoryNotFoundError):
        fg.model_info(other)
    # A public one it reads, but a write is the Hub's 403 naming the permission.
    assert fg.model_info(public).id == public
    with pytest.raises(HfHubHTTPError) as e:
        fg.upload_file(path_or_fileobj=b"x\n", path_in_repo="x.txt", repo_id=public)
    assert e.value.response.status_code == 403
    assert "repo.write" in e.value.response.headers.get("X-Error-Message", "")
    with pytest.raises(HfHubHTTPError) as e:
        fg.create_repo(f"{user}/{unique('created')}")
    assert e.value.response.status_code == 403
    assert "repo.write" in e.value.response.headers.get("X-Error-Message", "")

    # A read scope reads but does not commit.
    ro = HfApi(endpoint=endpoint, token=token_of(user, "--role", "fine-grained", "--repo", f"{scoped}:read"))
    assert ro.model_info(scoped).private
    with pytest.raises(HfHubHTTPError) as e:
        ro.upload_file(path_or_fileobj=b"y\n", path_in_repo="y.txt", repo_id=scoped)
    assert e.value.response.status_code == 403
    assert "repo.write" in e.value.response.headers.get("X-Error-Message", "")


def test_whoami_shows_fine_grained_scopes_only_for_fine_grained_tokens(api, endpoint, user, org):
    repo_id = f"{user}/{unique('who')}"
    api.create_repo(repo_id)
    tok = token_of(user, "--role", "fine-grained", "--repo", f"{repo_id}:read", "--namespace", f"{org}:write",
                   "--global", "discussion.write", "--name", "scoped")
    me = HfApi(endpoint=endpoint, token=tok).whoami()
    access = me["auth"]["accessToken"]
    assert access["role"] == "fineGrained" and access["displayName"] == "scoped"
    fg = access["fineGrained"]
    assert fg["global"] == ["discussion.write"] and fg["canReadGatedRepos"] is False
    scopes = {(s["entity"]["type"], s["entity"]["name"]): s["permissions"] for s in fg["scoped"]}
    assert scopes[("model", repo_id)] == ["repo.content.read"]
    assert "repo.write" in scopes[("org", org)]
    assert all(len(s["entity"]["_id"]) == 24 for s in fg["scoped"])
    # Classic tokens have no fineGrained key, and no expiresAt when they do not expire.
    classic = api.whoami()
    assert "fineGrained" not in classic["auth"]["accessToken"] and "expiresAt" not in classic["auth"]


def test_expired_token_is_refused(endpoint, user):
    tok = token_of(user, "--role", "write", "--expires", "2s")
    me = HfApi(endpoint=endpoint, token=tok).whoami()
    assert "expiresAt" in me["auth"]
    time.sleep(2.5)
    with pytest.raises(HfHubHTTPError) as e:
        HfApi(endpoint=endpoint, token=tok).whoami()
    assert e.value.response.status_code == 401


def test_org_default_visibility_private(endpoint):
    owner = new_user("owner")
    org = unique("private-org")
    haven("org", "create", org, "--owner", owner)
    haven("org", "set", org, "--default-visibility", "private")
    api = HfApi(endpoint=endpoint, token=token_of(owner, "--role", "write"))
    quiet = f"{org}/{unique('default')}"
    api.create_repo(quiet)
    assert api.model_info(quiet).private
    loud = f"{org}/{unique('public')}"
    api.create_repo(loud, private=False)
    assert not api.model_info(loud).private
    # A user's own namespace is not affected.
    mine = f"{owner}/{unique('mine')}"
    api.create_repo(mine)
    assert not api.model_info(mine).private


def test_list_organization_members(endpoint, api, anon_api, org, user):
    member = new_user("member")
    haven("org", "member", org, member, "--role", "read")
    seen = {m.username: m for m in api.list_organization_members(org)}
    assert user in seen and member in seen
    # Roles are for the organisation's members to see.
    assert seen[user].role == "admin" and seen[member].role == "read"
    public = {m.username: m for m in anon_api.list_organization_members(org)}
    assert member in public and not hasattr(public[member], "role")
    with pytest.raises(HfHubHTTPError) as e:
        list(api.list_organization_members("no-such-org-" + unique("x")))
    assert e.value.response.status_code == 404


def test_revoke_credentials(endpoint):
    name = new_user("leaky")
    tok = token_of(name, "--role", "write")
    assert HfApi(endpoint=endpoint, token=tok).whoami()["name"] == name
    # Anyone who finds a token may have it revoked: no authentication, always 202.
    for creds in ([tok, "hf_not_a_real_token"], ["hf_never_existed"]):
        r = get_session().post(endpoint + "/api/credentials/revoke", json={"credentials": creds})
        assert r.status_code == 202
    with pytest.raises(HfHubHTTPError) as e:
        HfApi(endpoint=endpoint, token=tok).whoami()
    assert e.value.response.status_code == 401
