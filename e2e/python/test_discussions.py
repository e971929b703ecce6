"""Discussions and pull requests, following the client's own TestHfApiDiscussions."""

import os
import subprocess
from urllib.parse import urlparse

import pytest
from huggingface_hub import CommitOperationAdd
from huggingface_hub.community import DiscussionComment, DiscussionStatusChange, DiscussionTitleChange
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError
from huggingface_hub.utils import get_session

pytestmark = pytest.mark.backends


@pytest.fixture
def repo_with_pr(api, new_repo):
    """alice's repository with PR #1 (a draft) and discussion #2, as the client's fixture makes them."""
    api.create_commit(new_repo, [CommitOperationAdd("file.txt", b"base\n")], commit_message="base")
    pr = api.create_discussion(new_repo, title="  Test Pull Request  ", pull_request=True)
    disc = api.create_discussion(new_repo, title="Test Discussion", description="A **question** <script>alert(1)</script>")
    return {"id": new_repo, "pr": pr, "discussion": disc}


def test_create_discussion_and_pull_request(api, repo_with_pr):
    repo_id, pr, disc = repo_with_pr["id"], repo_with_pr["pr"], repo_with_pr["discussion"]
    assert (pr.num, disc.num) == (1, 2)
    assert pr.title == "Test Pull Request"  # stored trimmed
    assert pr.is_pull_request and pr.status == "draft" and pr.git_reference == "refs/pr/1"
    assert not disc.is_pull_request and disc.status == "open"
    assert len(disc.events) == 1 and isinstance(disc.events[0], DiscussionComment)
    # The description is rendered with the cards' sanitiser: Markdown yes, script no.
    assert "<strong>question</strong>" in disc.events[0].rendered
    assert "<script" not in disc.events[0].rendered
    assert disc.url.endswith(f"/{repo_id}/discussions/2")
    # The pull request's ref exists at once, at the head of main.
    head = api.model_info(repo_id).sha
    assert api.model_info(repo_id, revision="refs/pr/1").sha == head
    assert pr.target_branch == "refs/heads/main" and pr.conflicting_files == []
    # Details are identical between calls.
    assert api.get_discussion_details(repo_id, 1) == pr
    assert api.get_discussion_details(repo_id, 2) == disc
    assert api.create_discussion(repo_id, title="Third one").num == 3


def test_list_discussions_with_filters(api, other_api, repo_with_pr, other_user):
    repo_id = repo_with_pr["id"]
    other_api.create_discussion(repo_id, title="From bob")

    def nums(**kw):
        return [d.num for d in api.get_repo_discussions(repo_id, **kw)]

    assert nums() == [3, 2, 1]  # newest first
    assert nums(discussion_type="pull_request") == [1]
    assert nums(discussion_type="discussion") == [3, 2]
    assert nums(author=other_user) == [3]
    assert nums(author="unknown") == []
    api.change_discussion_status(repo_id, 2, new_status="closed")
    assert nums(discussion_status="open") == [3, 1]  # drafts are open
    assert nums(discussion_status="closed") == [2]


def test_list_discussions_pages(api, new_repo):
    for i in range(53):
        api.create_discussion(new_repo, title=f"Discussion {i}")
    got = [d.num for d in api.get_repo_discussions(new_repo)]
    assert got == list(range(53, 0, -1))
    raw = get_session().get(f"{api.endpoint}/api/models/{new_repo}/discussions", params={"p": 1}).json()
    assert raw["start"] == 50 and raw["count"] == 53 and len(raw["discussions"]) == 3


def test_comment_edit_hide(api, other_api, repo_with_pr):
    repo_id = repo_with_pr["id"]
    comment = other_api.comment_discussion(repo_id, 2, "A comment from **bob**")
    assert comment.content == "A comment from **bob**" and comment.id == comment.id.lower()
    details = api.get_discussion_details(repo_id, 2)
    assert len(details.events) == 2 and details.events[1] == comment

    edited = other_api.edit_discussion_comment(repo_id, 2, comment.id, "Edited")
    assert edited.id == comment.id and edited.edited and edited.content == "Edited"
    assert len(edited.edit_history) == 2
    # The answer is exactly the event in a fresh details call.
    assert api.get_discussion_details(repo_id, 2).events[1] == edited

    # Someone else cannot edit or hide bob's comment unless they may write.
    with pytest.raises(HfHubHTTPError) as e:
        other_api.edit_discussion_comment(repo_id, 2, details.events[0].id, "Not mine")
    assert e.value.response.status_code == 403

    hidden = api.hide_discussion_comment(repo_id, 2, comment.id)  # alice writes the repo
    assert hidden.hidden and hidden.content == "" and hidden.rendered == ""
    assert api.get_discussion_details(repo_id, 2).events[1] == hidden
    with pytest.raises(HfHubHTTPError):
        other_api.edit_discussion_comment(repo_id, 2, comment.id, "Back again")


def test_rename_and_status(api, other_api, repo_with_pr):
    repo_id = repo_with_pr["id"]
    renamed = api.rename_discussion(repo_id, 2, "New title")
    assert isinstance(renamed, DiscussionTitleChange)
    assert (renamed.old_title, renamed.new_title) == ("Test Discussion", "New title")
    details = api.get_discussion_details(repo_id, 2)
    assert details.title == "New title" and renamed in details.events

    closed = api.change_discussion_status(repo_id, 2, new_status="closed", comment="Closing")
    assert isinstance(closed, DiscussionStatusChange) and closed.new_status == "closed"
    details = api.get_discussion_details(repo_id, 2)
    assert details.status == "closed" and closed in details.events
    assert api.change_discussion_status(repo_id, 2, new_status="open").new_status == "open"

    # bob neither wrote the discussion nor may write the repository.
    for call in (
        lambda: other_api.rename_discussion(repo_id, 2, "Taken over"),
        lambda: other_api.change_discussion_status(repo_id, 2, new_status="closed"),
    ):
        with pytest.raises(HfHubHTTPError) as e:
            call()
        assert e.value.response.status_code == 403
    # But he may close what he opened.
    mine = other_api.create_discussion(repo_id, title="Bob's own")
    assert other_api.change_discussion_status(repo_id, mine.num, new_status="closed").new_status == "closed"


def test_create_pr_commit_appears_as_pull_request(api, other_api, new_repo):
    api.create_commit(new_repo, [CommitOperationAdd("file.txt", b"base\n")], commit_message="base")
    info = other_api.create_commit(
        new_repo, [CommitOperationAdd("proposal.txt", b"from bob\n")], commit_message="Propose a file", create_pr=True
    )
    assert info.pr_num == 1 and info.pr_revision == "refs/pr/1"
    assert urlparse(info.pr_url).netloc == urlparse(api.endpoint).netloc
    assert info.pr_url.endswith(f"/{new_repo}/discussions/1")
    pr = api.get_discussion_details(new_repo, 1)
    assert pr.is_pull_request and pr.status == "open" and pr.author == "bob" and pr.title == "Propose a file"
    commits = [e for e in pr.events if e.type == "commit"]
    assert [c.oid for c in commits] == [info.oid] and commits[0].summary == "Propose a file"
    details = get_session().get(f"{api.endpoint}/api/models/{new_repo}/discussions/1", params={"diff": "1"}).json()
    assert "+from bob" in details["diff"]
    assert [d.num for d in api.get_repo_discussions(new_repo, discussion_type="pull_request")] == [1]

    # The author adds a commit to his pull request: it becomes an event.
    more = other_api.create_commit(
        new_repo, [CommitOperationAdd("more.txt", b"more\n")], commit_message="One more", revision="refs/pr/1"
    )
    events = [e for e in api.get_discussion_details(new_repo, 1).events if e.type == "commit"]
    assert [e.oid for e in events] == [info.oid, more.oid]

    # bob cannot merge; alice can, and main gets the files.
    with pytest.raises(HfHubHTTPError) as e:
        other_api.merge_pull_request(new_repo, 1)
    assert e.value.response.status_code == 403
    api.merge_pull_request(new_repo, 1, comment="Thanks")
    merged = api.get_discussion_details(new_repo, 1)
    assert merged.status == "merged" and merged.merge_commit_oid == api.model_info(new_repo).sha
    assert merged.events[-1].type == "status-change" and merged.events[-1].new_status == "merged"
    files = set(api.list_repo_files(new_repo))
    assert {"proposal.txt", "more.txt", "file.txt"} <= files


def test_merge_draft_after_publishing(api, repo_with_pr, tmp_path):
    repo_id = repo_with_pr["id"]
    api.create_commit(repo_id, [CommitOperationAdd("pr.txt", b"pr\n")], commit_message="on the PR", revision="refs/pr/1")
    # main moves on meanwhile: the merge needs a merge commit.
    api.create_commit(repo_id, [CommitOperationAdd("main.txt", b"main\n")], commit_message="on main")
    with pytest.raises(HfHubHTTPError) as e:
        api.merge_pull_request(repo_id, 1)  # still a draft
    assert e.value.response.status_code == 400
    api.change_discussion_status(repo_id, 1, new_status="open")
    api.merge_pull_request(repo_id, 1)
    commit = api.list_repo_commits(repo_id)[0]
    assert commit.title.startswith("Merge pull request #1")
    assert {"pr.txt", "main.txt", "file.txt"} <= set(api.list_repo_files(repo_id))


def test_conflicting_pull_request(api, repo_with_pr, tmp_path):
    repo_id = repo_with_pr["id"]
    api.create_commit(repo_id, [CommitOperationAdd("file.txt", b"from the PR\n")], commit_message="pr", revision="refs/pr/1")
    api.create_commit(repo_id, [CommitOperationAdd("file.txt", b"from main\n")], commit_message="main")
    api.change_discussion_status(repo_id, 1, new_status="open")
    before = api.model_info(repo_id).sha
    assert api.get_discussion_details(repo_id, 1).conflicting_files == ["file.txt"]
    with pytest.raises(HfHubHTTPError) as e:
        api.merge_pull_request(repo_id, 1)
    assert e.value.response.status_code == 409
    assert "file.txt" in e.value.server_message
    assert api.model_info(repo_id).sha == before
    assert api.get_discussion_details(repo_id, 1).status == "open"
    path = api.hf_hub_download(repo_id, "file.txt", revision="main", cache_dir=tmp_path)
    assert open(path, "rb").read() == b"from main\n"


def test_git_push_to_pr_ref_is_a_commit_event(api, token, user, repo_with_pr, tmp_path):
    repo_id = repo_with_pr["id"]
    u = urlparse(api.endpoint)
    url = f"{u.scheme}://{user}:{token}@{u.netloc}/{repo_id}"
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_LFS_SKIP_SMUDGE": "1"}
    work = tmp_path / "clone"

    def git(*args, cwd=work):
        subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, timeout=120)

    git("clone", "-q", url, str(work), cwd=tmp_path)
    (work / "pushed.txt").write_text("pushed with git\n")
    git("add", "pushed.txt")
    git("-c", "user.name=alice", "-c", "user.email=alice@example.com", "commit", "-qm", "Pushed with git")
    git("push", "-q", "origin", "HEAD:refs/pr/1")
    head = api.model_info(repo_id, revision="refs/pr/1").sha
    commits = [e for e in api.get_discussion_details(repo_id, 1).events if e.type == "commit"]
    assert [(c.oid, c.summary) for c in commits] == [(head, "Pushed with git")]


def test_private_repo_discussions_are_invisible(api, other_api, anon_api, user, repo_name):
    repo_id = f"{user}/{repo_name}"
    api.create_repo(repo_id, private=True)
    api.create_discussion(repo_id, title="Secret discussion")
    assert [d.num for d in api.get_repo_discussions(repo_id)] == [1]
    for reader in (other_api, anon_api):
        for call in (
            lambda: list(reader.get_repo_discussions(repo_id)),
            lambda: reader.get_discussion_details(repo_id, 1),
            lambda: reader.comment_discussion(repo_id, 1, "hello"),
            lambda: reader.create_discussion(repo_id, title="Let me in"),
        ):
            with pytest.raises(RepositoryNotFoundError):
                call()


def test_anonymous_cannot_open_discussions(anon_api, repo_with_pr):
    with pytest.raises(HfHubHTTPError) as e:
        anon_api.create_discussion(repo_with_pr["id"], title="Anonymous")
    assert e.value.response.status_code == 401
    # But may read them.
    assert [d.num for d in anon_api.get_repo_discussions(repo_with_pr["id"])] == [2, 1]


def test_discussions_on_datasets_and_spaces(api, user, repo_name):
    for repo_type in ("dataset", "space"):
        repo_id = f"{user}/{repo_name}-{repo_type}"
        kw = {"space_sdk": "static"} if repo_type == "space" else {}
        api.create_repo(repo_id, repo_type=repo_type, **kw)
        d = api.create_discussion(repo_id, title="Hello", repo_type=repo_type)
        assert d.url.endswith(f"/{repo_type}s/{repo_id}/discussions/1")
        assert api.get_discussion_details(repo_id, 1, repo_type=repo_type).repo_type == repo_type


def test_upload_folder_create_pr_by_a_reader(api, other_api, new_repo, tmp_path):
    """upload_folder(create_pr=True) opens a draft with create_pull_request, then commits to its ref."""
    api.create_commit(new_repo, [CommitOperationAdd("file.txt", b"base\n")], commit_message="base")
    folder = tmp_path / "proposal"
    folder.mkdir()
    (folder / "config.json").write_text('{"proposed": true}\n')
    (folder / "weights.bin").write_bytes(b"\x00" + os.urandom(2048))
    info = other_api.upload_folder(repo_id=new_repo, folder_path=folder, commit_message="Proposed files", create_pr=True)
    assert info.pr_num == 1 and info.pr_url.endswith(f"/{new_repo}/discussions/1")
    pr = api.get_discussion_details(new_repo, 1)
    assert pr.is_pull_request and pr.author == "bob" and pr.title == "Proposed files"
    assert [e.oid for e in pr.events if e.type == "commit"] == [info.oid]
    assert {"config.json", "weights.bin"} <= set(api.list_repo_files(new_repo, revision="refs/pr/1"))
    assert "config.json" not in api.list_repo_files(new_repo)


def test_pin_lock_react_delete(api, other_api, token, other_token, repo_with_pr):
    """Pins, locks, reactions and deletion through the Hub's routes, seen through the client."""
    repo_id = repo_with_pr["id"]
    base = f"{api.endpoint}/api/models/{repo_id}/discussions"
    session = get_session()

    def post(tok, path, body):
        return session.post(base + path, json=body, headers={"authorization": f"Bearer {tok}"})

    # Only writers pin; the pinned discussion comes first in the client's listing.
    assert post(other_token, "/1/pin", {"pinned": True}).status_code == 403
    assert post(token, "/1/pin", {"pinned": True}).status_code == 200
    assert [d.num for d in api.get_repo_discussions(repo_id)] == [1, 2]
    details = api.get_discussion_details(repo_id, 1)
    assert details.events[-1].type == "pinning-change"

    # A locked discussion takes comments from writers only.
    assert post(token, "/2/lock", {"locked": True}).status_code == 200
    with pytest.raises(HfHubHTTPError) as e:
        other_api.comment_discussion(repo_id, 2, "Still there?")
    assert e.value.response.status_code == 403
    api.comment_discussion(repo_id, 2, "Owners may still answer")
    assert post(token, "/2/lock", {"locked": False}).status_code == 200
    other_api.comment_discussion(repo_id, 2, "Thanks")

    # Reactions to the opening comment show in the details and the listing.
    opening = api.get_discussion_details(repo_id, 2).events[0].id
    for tok in (token, other_token):
        assert post(tok, f"/2/comment/{opening}/reaction", {"action": "add", "reaction": "🔥"}).status_code == 200
    assert post(token, f"/2/comment/{opening}/reaction", {"action": "add", "reaction": "nope"}).status_code == 400
    raw = session.get(f"{base}/2").json()
    assert raw["events"][0]["data"]["reactions"] == [{"reaction": "🔥", "users": [repo_id.split("/")[0], other_api.whoami()["name"]], "count": 2}]
    listing = session.get(base, params={"sort": "reactions", "search": "discussion"}).json()["discussions"]
    assert [(d["num"], d["numReactionUsers"], d["topReactions"]) for d in listing] == [(2, 2, [{"reaction": "🔥", "count": 2}])]

    # Deletion is for the repository's admins.
    assert session.delete(f"{base}/2", headers={"authorization": f"Bearer {other_token}"}).status_code == 403
    assert session.delete(f"{base}/2", headers={"authorization": f"Bearer {token}"}).status_code == 200
    with pytest.raises(HfHubHTTPError) as e:
        api.get_discussion_details(repo_id, 2)
    assert e.value.response.status_code == 404
    assert [d.num for d in api.get_repo_discussions(repo_id)] == [1]
