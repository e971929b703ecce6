"""The audit log of an organisation, read by its admin (alice) through the API.

Actions are made with the real client and the admin command; the log must list
them with actor and target, filter by action and time, export JSON Lines, and
stay closed to bob, who is not an admin of the organisation.
"""

import json
import os
import subprocess

from huggingface_hub import CommitOperationAdd

from helpers import raw, unique


def haven(*args):
    flags = json.loads(os.environ["HAVEN_ADMIN_FLAGS"])
    out = subprocess.run([os.environ["HAVEN_BIN"], *args, *flags], check=True, capture_output=True, text=True)
    return out.stdout


def audit_log(endpoint, token, org, **params):
    r = raw("GET", endpoint, f"/api/organizations/{org}/audit-log", token=token, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_org_audit_log(api, endpoint, token, other_token, org, user):
    repo_id = f"{org}/{unique('audited')}"
    api.create_repo(repo_id)
    api.upload_file(path_or_fileobj=b"base\n", path_in_repo="base.txt", repo_id=repo_id)
    api.update_repo_settings(repo_id, private=True)
    api.create_commit(repo_id, [CommitOperationAdd("proposal.txt", b"change\n")], commit_message="Propose", create_pr=True)
    api.merge_pull_request(repo_id, 1)
    member = unique("member")
    haven("user", "create", member)
    haven("org", "member", org, member, "--role", "read")
    haven("org", "member", org, member, "--role", "write")

    entries = audit_log(endpoint, token, org, limit=1000)
    mine = [e for e in entries if e["target"]["name"] in (repo_id, f"{repo_id}#1", member)]
    types = [e["type"] for e in mine]
    # Newest first.
    assert types == ["org.change_role", "org.add_user", "discussion.merge", "repo.update_settings", "repo.create"], types
    by_type = {e["type"]: e for e in mine}
    created = by_type["repo.create"]
    assert created["author"]["user"] == user and created["author"]["type"] == "user"
    assert created["target"] == {"type": "repo", "name": repo_id}
    assert created["token"]["id"] and created["ip"] and created["createdAt"].endswith("Z")
    settings = by_type["repo.update_settings"]
    assert settings["data"]["private"] is True and settings["data"]["previous"]["private"] is False
    assert by_type["discussion.merge"]["data"]["mergeCommitId"]
    role = by_type["org.change_role"]
    assert role["author"]["type"] == "system" and role["data"] == {"role": "write", "previousRole": "read"}
    assert all(e["message"] for e in mine)

    # Filters: by action, by scope, by time.
    only = audit_log(endpoint, token, org, action="repo.update_settings", limit=1000)
    assert only and all(e["type"] == "repo.update_settings" for e in only)
    assert any(e["target"]["name"] == repo_id for e in only)
    repo_scope = audit_log(endpoint, token, org, action="repo", limit=1000)
    assert {e["type"] for e in repo_scope} <= {"repo.create", "repo.update_settings", "repo.delete", "repo.move",
                                               "repo.access_request"}
    later = audit_log(endpoint, token, org, **{"from": by_type["org.add_user"]["createdAt"]})
    assert {e["_id"] for e in later} >= {by_type["org.add_user"]["_id"], role["_id"]}
    assert created["_id"] not in {e["_id"] for e in later}

    # Pages follow the cursor of the Link header.
    first = raw("GET", endpoint, f"/api/organizations/{org}/audit-log", token=token, params={"limit": 2})
    assert len(first.json()) == 2 and 'rel="next"' in first.headers["link"]
    second = audit_log(endpoint, token, org, limit=2, cursor=first.json()[-1]["_id"])
    assert second[0]["_id"] not in {e["_id"] for e in first.json()}

    # JSON Lines, by query and by Accept.
    for kwargs in ({"params": {"format": "jsonl"}}, {"headers": {"accept": "application/x-ndjson"}}):
        r = raw("GET", endpoint, f"/api/organizations/{org}/audit-log", token=token, **kwargs)
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
        assert "attachment" in r.headers["content-disposition"]
        lines = [json.loads(line) for line in r.text.splitlines()]
        assert {by_type[t]["_id"] for t in by_type} <= {e["_id"] for e in lines}

    # bob is no admin of the organisation; anonymous callers are refused too.
    r = raw("GET", endpoint, f"/api/organizations/{org}/audit-log", token=other_token)
    assert r.status_code in (403, 404), r.text
    r = raw("GET", endpoint, f"/api/organizations/{org}/audit-log", params={"format": "jsonl"}, token=other_token)
    assert r.status_code in (403, 404)
    assert raw("GET", endpoint, f"/api/organizations/{org}/audit-log").status_code == 401


def test_own_audit_log(endpoint, token, other_token, user):
    r = raw("GET", endpoint, f"/api/users/{user}/audit-log", token=token)
    assert r.status_code == 200 and isinstance(r.json(), list)
    assert raw("GET", endpoint, f"/api/users/{user}/audit-log", token=other_token).status_code in (403, 404)
