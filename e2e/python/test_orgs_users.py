"""Organisation invitations, profiles, avatars, followers and overviews.

Each test makes fresh users and organisations with the admin command
(HAVEN_BIN), so that it depends on no other test's memberships or follows.
"""

import json
import os
import struct
import subprocess
import zlib

import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError

from helpers import raw, unique


def haven(*args):
    """Runs the admin command against the server's data; returns its output."""
    flags = json.loads(os.environ["HAVEN_ADMIN_FLAGS"])
    out = subprocess.run([os.environ["HAVEN_BIN"], *args, *flags], check=True, capture_output=True, text=True)
    return out.stdout


def new_user(prefix, *extra):
    name = unique(prefix)
    haven("user", "create", name, *extra)
    tok = haven("token", "create", name, "--role", "write").strip().splitlines()[-1]
    assert tok.startswith("hf_")
    return name, tok


def new_org(owner):
    org = unique("org")
    haven("org", "create", org, "--owner", owner)
    return org


def png(width=2, height=2):
    """A small valid PNG image, made by hand so that the test needs no imaging library."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def test_invitation_accepted_makes_a_member_with_the_role(endpoint):
    admin, admin_tok = new_user("admin")
    guest, guest_tok = new_user("guest")
    org = new_org(admin)
    admin_api, guest_api = HfApi(endpoint=endpoint, token=admin_tok), HfApi(endpoint=endpoint, token=guest_tok)

    # Only admins invite.
    r = raw("POST", endpoint, f"/api/organizations/{org}/invitations", token=guest_tok, json={"user": guest, "role": "admin"})
    assert r.status_code == 403, r.text

    r = raw("POST", endpoint, f"/api/organizations/{org}/invitations", token=admin_tok, json={"user": guest, "role": "write"})
    assert r.status_code == 201, r.text
    inv = r.json()
    assert inv["role"] == "write" and inv["org"]["name"] == org and inv["user"]["user"] == guest
    assert inv["invitedBy"] == admin and len(inv["id"]) == 24

    # Not a member yet; the guest sees the invitation and a notification.
    assert guest not in {m.username for m in admin_api.list_organization_members(org)}
    mine = raw("GET", endpoint, "/api/invitations", token=guest_tok).json()
    assert [i["id"] for i in mine] == [inv["id"]]
    notes = raw("GET", endpoint, "/api/notifications", token=guest_tok).json()["notifications"]
    assert any(n["type"] == "org.invitation" and org in n["subject"] for n in notes), notes
    pending = raw("GET", endpoint, f"/api/organizations/{org}/invitations", token=admin_tok).json()
    assert [i["user"]["user"] for i in pending] == [guest]

    # Someone else cannot answer it.
    r = raw("POST", endpoint, f"/api/invitations/{inv['id']}/accept", token=admin_tok)
    assert r.status_code == 404

    r = raw("POST", endpoint, f"/api/invitations/{inv['id']}/accept", token=guest_tok)
    assert r.status_code == 200, r.text
    members = {m.username: m for m in admin_api.list_organization_members(org)}
    assert members[guest].role == "write"
    assert members[guest].avatar_url == f"/avatars/{guest}"
    assert {o["name"]: o["roleInOrg"] for o in guest_api.whoami()["orgs"]} == {org: "write"}
    assert raw("GET", endpoint, "/api/invitations", token=guest_tok).json() == []
    # Accepting twice does nothing more.
    assert raw("POST", endpoint, f"/api/invitations/{inv['id']}/accept", token=guest_tok).status_code == 404

    # The member may now write to the organisation's repositories.
    repo_id = f"{org}/{unique('model')}"
    guest_api.create_repo(repo_id)
    guest_api.upload_file(path_or_fileobj=b"hi\n", path_in_repo="hi.txt", repo_id=repo_id)

    log = raw("GET", endpoint, f"/api/organizations/{org}/audit-log", token=admin_tok).json()
    types = [e["type"] for e in log]
    assert "org.invite_user" in types and "org.invite.accept" in types, types

    # Inviting a member is a conflict.
    r = raw("POST", endpoint, f"/api/organizations/{org}/invitations", token=admin_tok, json={"user": guest, "role": "read"})
    assert r.status_code == 409


def test_invitation_by_email_declined_and_cancelled(endpoint):
    admin, admin_tok = new_user("admin")
    email = f"{unique('mail')}@example.org"
    guest, guest_tok = new_user("guest", "--email", email)
    org = new_org(admin)

    r = raw("POST", endpoint, f"/api/organizations/{org}/invitations", token=admin_tok, json={"email": email.upper(), "role": "read"})
    assert r.status_code == 201, r.text
    inv = r.json()
    assert inv["user"]["user"] == guest and inv["role"] == "read"
    r = raw("POST", endpoint, f"/api/invitations/{inv['id']}/decline", token=guest_tok)
    assert r.status_code == 200, r.text
    assert raw("GET", endpoint, f"/api/organizations/{org}/invitations", token=admin_tok).json() == []

    # An address nobody has keeps its invitation (no mail server: not emailed) until withdrawn.
    r = raw("POST", endpoint, f"/api/organizations/{org}/invitations", token=admin_tok, json={"email": "nobody@example.invalid"})
    assert r.status_code == 201, r.text
    kept = r.json()
    assert kept["user"] is None and kept["email"] == "nobody@example.invalid" and kept["mailed"] is False
    listed = raw("GET", endpoint, f"/api/organizations/{org}/invitations", token=admin_tok).json()
    assert [i["email"] for i in listed] == ["nobody@example.invalid"]
    r = raw("DELETE", endpoint, f"/api/organizations/{org}/invitations/{kept['id']}", token=admin_tok)
    assert r.status_code == 200, r.text
    # A role that does not exist.
    r = raw("POST", endpoint, f"/api/organizations/{org}/invitations", token=admin_tok, json={"user": guest, "role": "owner"})
    assert r.status_code == 400

    # Withdrawn by the admin: the guest can no longer accept it.
    inv = raw("POST", endpoint, f"/api/organizations/{org}/invitations", token=admin_tok, json={"user": guest}).json()
    r = raw("DELETE", endpoint, f"/api/organizations/{org}/invitations/{inv['id']}", token=admin_tok)
    assert r.status_code == 200, r.text
    assert raw("POST", endpoint, f"/api/invitations/{inv['id']}/accept", token=guest_tok).status_code == 404
    members = [m.username for m in HfApi(endpoint=endpoint, token=admin_tok).list_organization_members(org)]
    assert members == [admin]

    log = raw("GET", endpoint, f"/api/organizations/{org}/audit-log", token=admin_tok).json()
    types = {e["type"] for e in log}
    assert {"org.invite_user", "org.invite.decline", "org.invite.cancel"} <= types, types


def test_followers_and_following(endpoint):
    a, a_tok = new_user("fan")
    b, b_tok = new_user("star")
    org = new_org(b)
    a_api, b_api = HfApi(endpoint=endpoint, token=a_tok), HfApi(endpoint=endpoint, token=b_tok)

    for path in (f"/api/users/{b}/follow", f"/api/organizations/{org}/follow"):
        r = raw("POST", endpoint, path, token=a_tok)
        assert r.status_code == 200, r.text
        assert r.json() == {"isFollowing": True}
    # Following twice is once; nobody follows themselves; anonymous callers are refused.
    assert raw("POST", endpoint, f"/api/users/{b}/follow", token=a_tok).status_code == 200
    assert raw("POST", endpoint, f"/api/users/{a}/follow", token=a_tok).status_code == 400
    assert raw("POST", endpoint, f"/api/users/{b}/follow").status_code == 401

    followers = list(b_api.list_user_followers(b))
    assert [u.username for u in followers] == [a]
    assert followers[0].avatar_url == f"/avatars/{a}" and followers[0].fullname == a
    following = {u.username: u.user_type for u in a_api.list_user_following(a)}
    assert following == {b: "user", org: "org"}
    assert [u.username for u in b_api.list_organization_followers(org)] == [a]
    assert {m.username: m.is_following for m in a_api.list_organization_members(org)} == {b: True}

    seen_by_a = a_api.get_user_overview(b)
    assert seen_by_a.num_followers == 1 and seen_by_a.num_following == 0 and seen_by_a.is_following is True
    assert a_api.get_user_overview(a).num_following == 2
    assert a_api.get_organization_overview(org).num_followers == 1
    assert a_api.get_organization_overview(org).is_following is True

    r = raw("DELETE", endpoint, f"/api/users/{b}/follow", token=a_tok)
    assert r.status_code == 200 and r.json() == {"isFollowing": False}
    assert list(b_api.list_user_followers(b)) == []
    assert b_api.get_user_overview(b).num_followers == 0
    assert a_api.get_user_overview(b).is_following is False

    # Link pagination, as for members.
    r = raw("GET", endpoint, f"/api/users/{a}/following", params={"limit": 10})
    assert r.status_code == 200 and len(r.json()) == 1 and "link" not in r.headers
    with pytest.raises(HfHubHTTPError):
        list(a_api.list_user_followers(unique("nobody")))


def test_overviews(endpoint):
    owner, owner_tok = new_user("owner")
    other, other_tok = new_user("other")
    org = new_org(owner)
    owner_api, other_api = HfApi(endpoint=endpoint, token=owner_tok), HfApi(endpoint=endpoint, token=other_tok)
    owner_api.create_repo(f"{owner}/{unique('public')}")
    owner_api.create_repo(f"{owner}/{unique('private')}", private=True)
    owner_api.create_repo(f"{owner}/{unique('data')}", repo_type="dataset")
    liked = f"{org}/{unique('liked')}"
    owner_api.create_repo(liked)
    assert raw("POST", endpoint, f"/api/models/{liked}/like", token=other_tok).status_code == 200

    mine = owner_api.get_user_overview(owner)
    assert (mine.num_models, mine.num_datasets, mine.num_spaces) == (2, 1, 0)
    assert mine.username == owner and mine.user_type == "user" and mine.avatar_url == f"/avatars/{owner}"
    assert [o.name for o in mine.orgs] == [org] and mine.orgs[0].avatar_url == f"/avatars/{org}"
    # Private repositories count only for those who may see them.
    assert other_api.get_user_overview(owner).num_models == 1
    assert HfApi(endpoint=endpoint, token=False).get_user_overview(owner).num_models == 1
    assert other_api.get_user_overview(other).num_likes == 1

    r = raw("PATCH", endpoint, f"/api/organizations/{org}/profile", token=owner_tok,
            json={"fullname": "Org Team", "details": "We <b>build</b> models.", "website": "https://example.org/team"})
    assert r.status_code == 200, r.text
    o = other_api.get_organization_overview(org)
    assert (o.name, o.fullname, o.details, o.num_users, o.num_models) == (org, "Org Team", "We <b>build</b> models.", 1, 1)
    assert o.websiteUrl == "https://example.org/team"
    assert o.avatar_url == f"/avatars/{org}"
    # Only admins change it; only http and https websites.
    r = raw("PATCH", endpoint, f"/api/organizations/{org}/profile", token=other_tok, json={"details": "hacked"})
    assert r.status_code == 403
    r = raw("PATCH", endpoint, f"/api/organizations/{org}/profile", token=owner_tok, json={"website": "javascript:alert(1)"})
    assert r.status_code == 400
    r = raw("PATCH", endpoint, f"/api/users/{owner}/profile", token=owner_tok, json={"details": "Hello"})
    assert r.status_code == 200 and r.json()["details"] == "Hello"
    assert raw("PATCH", endpoint, f"/api/users/{owner}/profile", token=other_tok, json={"details": "x"}).status_code == 403

    # A user is not an organisation and the other way round.
    with pytest.raises(HfHubHTTPError) as e:
        other_api.get_organization_overview(owner)
    assert e.value.response.status_code == 404
    with pytest.raises(HfHubHTTPError) as e:
        other_api.get_user_overview(org)
    assert e.value.response.status_code == 404


def test_avatars(endpoint):
    owner, owner_tok = new_user("owner")
    other, other_tok = new_user("other")
    org = new_org(owner)
    api = HfApi(endpoint=endpoint, token=other_tok)

    # The identicon: an SVG, the same bytes every time.
    url = endpoint + api.get_user_overview(other).avatar_url
    r1, r2 = raw("GET", url, ""), raw("GET", url, "")
    assert r1.status_code == 200 and r1.headers["content-type"] == "image/svg+xml"
    assert r1.content.startswith(b"<svg") and r1.content == r2.content
    assert raw("GET", endpoint, f"/avatars/{owner}.svg").content != r1.content
    assert raw("GET", endpoint, f"/api/users/{other}/avatar").json() == {"avatarUrl": f"/avatars/{other}"}
    r = raw("GET", endpoint, f"/api/avatars/{org}", params={"redirect": "1"}, follow_redirects=False)
    assert r.status_code == 302 and r.headers["location"] == f"/avatars/{org}"

    # An uploaded PNG replaces it.
    image = png()
    r = raw("PUT", endpoint, f"/api/organizations/{org}/avatar", token=owner_tok, data=image, headers={"content-type": "image/png"})
    assert r.status_code == 200, r.text
    org_url = endpoint + api.get_organization_overview(org).avatar_url
    r = raw("GET", org_url, "")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png" and r.content == image
    members = {m.username: m.avatar_url for m in HfApi(endpoint=endpoint, token=owner_tok).list_organization_members(org)}
    assert members == {owner: f"/avatars/{owner}"}

    # Refused: another user's upload, SVG (scripts), something that is no image, too large.
    assert raw("PUT", endpoint, f"/api/organizations/{org}/avatar", token=other_tok, data=image).status_code == 403
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    assert raw("PUT", endpoint, f"/api/users/{other}/avatar", token=other_tok, data=svg).status_code == 400
    assert raw("PUT", endpoint, f"/api/users/{other}/avatar", token=other_tok, data=b"\x89PNG\r\n\x1a\nnot really").status_code == 400
    big = image + b"\x00" * (1 << 20)
    assert raw("PUT", endpoint, f"/api/users/{other}/avatar", token=other_tok, data=big).status_code in (400, 413)

    # Removed: back to the identicon.
    assert raw("DELETE", endpoint, f"/api/organizations/{org}/avatar", token=owner_tok).status_code == 200
    r = raw("GET", org_url, "")
    assert r.headers["content-type"] == "image/svg+xml"


def test_socials_and_author_data(endpoint):
    """Social handles set through the profile API; the owner's author object with expand=authorData."""
    owner, tok = new_user("social")
    r = raw("PATCH", endpoint, f"/api/users/{owner}/profile", token=tok,
            json={"socialHandles": {"github": "@octo-" + owner, "bluesky": f"{owner}.bsky.social"}})
    assert r.status_code == 200, r.text
    r = raw("PATCH", endpoint, f"/api/users/{owner}/profile", token=tok, json={"socialHandles": {"twitter": "https://x.com/me"}})
    assert r.status_code == 400
    socials = raw("GET", endpoint, f"/api/users/{owner}/socials").json()
    assert socials["user"] == owner
    assert socials["socialHandles"] == {"github": "octo-" + owner, "bluesky": f"{owner}.bsky.social"}

    api = HfApi(endpoint=endpoint, token=tok)
    repo = api.create_repo(f"{owner}/{unique('authored')}").repo_id
    info = api.model_info(repo, expand=["authorData", "likes"])
    assert info.authorData["name"] == owner and info.authorData["type"] == "user"
    assert info.authorData["followerCount"] == 0
    listed = list(api.list_models(author=owner, expand=["authorData"]))
    assert [m.authorData["name"] for m in listed] == [owner]
    assert not hasattr(api.model_info(repo), "authorData")
