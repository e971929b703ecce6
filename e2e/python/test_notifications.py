"""Notifications: access requests reach the owners, decisions the requester, mentions the mentioned."""

import pytest

from helpers import raw, unique

pytestmark = pytest.mark.backends


def notifications(endpoint, token):
    r = raw("GET", endpoint, "/api/notifications", token)
    assert r.status_code == 200, r.text
    return r.json()


def subjects(endpoint, token):
    return [n["subject"] for n in notifications(endpoint, token)["notifications"]]


def test_access_request_and_decision_notify(api, endpoint, token, other_token, user, other_user, new_repo):
    api.update_repo_settings(new_repo, gated="manual")
    r = raw("POST", endpoint, f"/api/models/{new_repo}/ask-access", other_token, json={})
    assert r.status_code == 200, r.text

    got = notifications(endpoint, token)
    mine = [n for n in got["notifications"] if n["subject"] == f"{other_user} asks for access to {new_repo}"]
    assert len(mine) == 1, got
    n = mine[0]
    assert n["type"] == "access.request" and n["actor"] == other_user and not n["read"]
    assert n["url"].endswith(f"/{new_repo}/access-requests")
    assert got["unread"] >= 1
    # The requester is not told of their own request.
    assert f"{other_user} asks for access to {new_repo}" not in subjects(endpoint, other_token)

    api.accept_access_request(new_repo, other_user)
    assert f"You have access to {new_repo}" in subjects(endpoint, other_token)

    # Mark all read.
    r = raw("POST", endpoint, "/api/notifications/read", token)
    assert r.status_code == 200, r.text
    assert notifications(endpoint, token)["unread"] == 0


def test_mention_notifies_readers_only(api, endpoint, token, other_token, user, other_user, repo_name):
    public, private = f"{user}/{repo_name}", f"{user}/{unique('hidden')}"
    api.create_repo(public)
    api.create_repo(private, private=True)
    try:
        d = api.create_discussion(public, title="a question", description=f"what do you think, @{other_user}?")
        api.comment_discussion(public, d.num, f"@{other_user} and @nobody-{repo_name}, ping")
        api.create_discussion(private, title="secret plans", description=f"@{other_user} must not learn of this")

        got = [n for n in notifications(endpoint, other_token)["notifications"] if n["type"] == "mention"]
        about_public = [n for n in got if public + "#" in n["subject"]]
        assert len(about_public) == 2, got
        assert all(n["actor"] == user and n["url"].endswith(f"/{public}/discussions/{d.num}") for n in about_public)
        assert "what do you think" in about_public[-1]["body"]
        assert not [n for n in got if private in n["subject"] or "secret plans" in n["body"]]
        # Authors are not told of their own mentions.
        api.comment_discussion(public, d.num, f"note to self, @{user}")
        assert not [n for n in notifications(endpoint, token)["notifications"] if n["type"] == "mention" and public in n["subject"]]
    finally:
        api.delete_repo(private)
        api.delete_repo(public)


def test_notifications_need_a_user(endpoint):
    assert raw("GET", endpoint, "/api/notifications").status_code == 401
