"""Webhooks with huggingface_hub: the settings API, and deliveries to a receiver started by the test.

TestPython runs the server with --webhooks-allow-private, since the receiver listens on loopback; the Go
test TestWebhooksRefusePrivate checks that a server without it refuses such a URL."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from huggingface_hub import WebhookWatchedItem
from huggingface_hub.utils import HfHubHTTPError, get_session

from helpers import eventually


class Receiver:
    """An HTTP server on loopback that records the webhooks it gets; the first `fail_first` get a 500."""

    def __init__(self, fail_first=0):
        self.fail_first = fail_first
        self.calls = 0
        self.got = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.calls += 1
                    failing = receiver.calls <= receiver.fail_first
                    if not failing:
                        receiver.got.append((self.headers.get("X-Webhook-Secret"), json.loads(body)))
                self.send_response(500 if failing else 200)
                self.end_headers()
                self.wfile.write(b"not yet" if failing else b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/webhooks/haven"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def payloads(self, scope=None):
        with self.lock:
            return [(s, p) for s, p in self.got if scope is None or p["event"]["scope"] == scope]

    def close(self):
        self.server.shutdown()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def flaky_receiver():
    r = Receiver(fail_first=1)
    yield r
    r.close()


def check_v3(p):
    """The fields huggingface_hub's WebhookPayload model requires, with their types."""
    assert p["webhook"]["version"] == 3 and isinstance(p["webhook"]["id"], str)
    assert p["event"]["action"] in ("create", "delete", "move", "update") and isinstance(p["event"]["scope"], str)
    repo = p["repo"]
    assert repo["type"] in ("model", "dataset", "space")
    assert isinstance(repo["id"], str) and isinstance(repo["name"], str) and isinstance(repo["private"], bool)
    assert isinstance(repo["owner"]["id"], str) and repo["url"]["web"].startswith("http")


def deliveries(endpoint, token, webhook_id):
    r = get_session().get(f"{endpoint}/api/settings/webhooks/{webhook_id}/deliveries", headers={"authorization": f"Bearer {token}"})
    r.raise_for_status()
    return r.json()


def test_manage(api, other_api, user):
    watched = [WebhookWatchedItem(type="user", name="julien-c"), WebhookWatchedItem(type="org", name="HuggingFaceH4")]
    hook = api.create_webhook(url="https://webhook.site/test", watched=watched, domains=["repo", "discussion"], secret="s3cret")
    try:
        assert len(hook.id) == 24 and hook.url == "https://webhook.site/test" and not hook.disabled
        assert [(w.type, w.name) for w in hook.watched] == [("user", "julien-c"), ("org", "HuggingFaceH4")]
        assert sorted(hook.domains) == ["discussion", "repo"]
        assert hook.secret == "s3cret"
        assert hook.id in [w.id for w in api.list_webhooks()]
        assert hook.id not in [w.id for w in other_api.list_webhooks()]
        assert api.get_webhook(hook.id).url == hook.url

        # Only the URL: the client sends watched=[] and no domains, which change nothing.
        updated = api.update_webhook(hook.id, url="https://webhook.site/other")
        assert updated.url == "https://webhook.site/other" and len(updated.watched) == 2 and len(updated.domains) == 2
        updated = api.update_webhook(hook.id, watched=[WebhookWatchedItem(type="model", name=f"{user}/x")], domains=["discussions"])
        assert [(w.type, w.name) for w in updated.watched] == [("model", f"{user}/x")] and updated.domains == ["discussion"]

        assert api.disable_webhook(hook.id).disabled is True
        assert api.get_webhook(hook.id).disabled is True
        assert api.enable_webhook(hook.id).disabled is False

        with pytest.raises(HfHubHTTPError) as e:
            other_api.get_webhook(hook.id)
        assert e.value.response.status_code == 404
        with pytest.raises(HfHubHTTPError):
            other_api.delete_webhook(hook.id)
    finally:
        api.delete_webhook(hook.id)
    with pytest.raises(HfHubHTTPError) as e:
        api.get_webhook(hook.id)
    assert e.value.response.status_code == 404


def test_commit_and_comment(api, other_api, new_repo, receiver, endpoint, token):
    hook = api.create_webhook(url=receiver.url, watched=[WebhookWatchedItem(type="model", name=new_repo)],
                              domains=["repo", "discussion"], secret="s3cret")
    try:
        info = api.upload_file(path_or_fileobj=b"hello\n", path_in_repo="hello.txt", repo_id=new_repo)
        sha = info.oid

        def commit_delivered():
            got = receiver.payloads("repo.content")
            assert got
            return got[0]

        secret, p = eventually(commit_delivered)
        assert secret == "s3cret"
        check_v3(p)
        assert p["event"] == {"action": "update", "scope": "repo.content"}
        assert p["repo"]["name"] == new_repo and p["repo"]["type"] == "model" and p["repo"]["private"] is False
        assert p["repo"]["headSha"] == sha
        assert p["repo"]["url"]["web"] == f"{endpoint}/{new_repo}"
        assert p["webhook"]["id"] == hook.id
        assert p["updatedRefs"] == [{"ref": "refs/heads/main", "oldSha": p["updatedRefs"][0]["oldSha"], "newSha": sha}]
        assert p["updatedRefs"][0]["oldSha"] != sha

        d = other_api.create_discussion(new_repo, title="A question", description="Is it **bold**?")
        other_api.comment_discussion(new_repo, d.num, "Another <b>comment</b>")

        def comment_delivered():
            got = receiver.payloads("discussion.comment")
            assert got
            return got[0]

        secret, p = eventually(comment_delivered)
        assert secret == "s3cret"
        check_v3(p)
        assert p["event"] == {"action": "create", "scope": "discussion.comment"}
        assert p["discussion"]["num"] == d.num and p["discussion"]["title"] == "A question"
        assert p["discussion"]["isPullRequest"] is False and p["discussion"]["status"] == "open"
        assert p["discussion"]["url"]["web"] == f"{endpoint}/{new_repo}/discussions/{d.num}"
        assert p["comment"]["content"] == "Another <b>comment</b>" and p["comment"]["hidden"] is False
        assert p["comment"]["url"]["web"].startswith(f"{endpoint}/{new_repo}/discussions/{d.num}#")
        opened = receiver.payloads("discussion")
        assert opened and opened[0][1]["event"]["action"] == "create" and opened[0][1]["comment"]["content"] == "Is it **bold**?"

        # Replay the commit's delivery: the receiver gets the same payload again.
        def commit_logged():
            log = [e for e in deliveries(endpoint, token, hook.id) if e["event"] == "repo.content.update"]
            assert log
            return log[-1]

        first = eventually(commit_logged)
        assert first["status"] == 200 and first["response"] == "ok" and first["durationMs"] >= 0
        before = len(receiver.payloads("repo.content"))
        r = get_session().post(f"{endpoint}/api/settings/webhooks/{hook.id}/replay/{first['id']}",
                               headers={"authorization": f"Bearer {token}"})
        r.raise_for_status()
        assert r.json() == {"status": 200}
        again = receiver.payloads("repo.content")
        assert len(again) == before + 1 and again[-1][1] == p_commit(receiver)
    finally:
        api.delete_webhook(hook.id)


def p_commit(receiver):
    return receiver.payloads("repo.content")[0][1]


def test_retry(api, new_repo, flaky_receiver, endpoint, token):
    hook = api.create_webhook(url=flaky_receiver.url, watched=[WebhookWatchedItem(type="model", name=new_repo)], domains=["repo"])
    try:
        api.upload_file(path_or_fileobj=b"x\n", path_in_repo="x.txt", repo_id=new_repo)

        def delivered():
            got = flaky_receiver.payloads("repo.content")
            assert got
            return got[0]

        secret, p = eventually(delivered, timeout=30)
        assert secret is None  # no secret set, no header
        check_v3(p)
        assert flaky_receiver.calls == 2

        # The receiver has its answer before the server writes the attempt
        # down.
        def logged():
            log = [e for e in deliveries(endpoint, token, hook.id) if e["event"] == "repo.content.update"]
            assert len(log) == 2
            return log

        log = eventually(logged, timeout=30)
        assert [(e["attempt"], e["status"], e["ok"]) for e in reversed(log)] == [(1, 500, False), (2, 200, True)]
        assert log[-1]["response"] == "not yet"
    finally:
        api.delete_webhook(hook.id)


def test_private_repo_not_delivered_to_others(api, other_api, user, receiver, repo_name):
    private_repo = f"{user}/{repo_name}-private"
    public_repo = f"{user}/{repo_name}-public"
    api.create_repo(private_repo, private=True)
    api.create_repo(public_repo)
    hook = other_api.create_webhook(url=receiver.url, watched=[WebhookWatchedItem(type="user", name=user)], domains=["repo"])
    try:
        api.upload_file(path_or_fileobj=b"secret\n", path_in_repo="s.txt", repo_id=private_repo)
        api.upload_file(path_or_fileobj=b"public\n", path_in_repo="p.txt", repo_id=public_repo)

        def public_delivered():
            got = [p for _, p in receiver.payloads("repo.content") if p["repo"]["name"] == public_repo]
            assert got

        eventually(public_delivered)
        assert not [p for _, p in receiver.payloads() if p["repo"]["name"] == private_repo]
    finally:
        other_api.delete_webhook(hook.id)


def test_webhook_runs_a_job(api, other_api, user, new_repo):
    # The source job: whatever it ran, every event runs it again with the payload in its environment.
    source = api.run_job(image="ubuntu", command=["sh", "-c", 'echo "repo=$WEBHOOK_REPO_ID type=$WEBHOOK_REPO_TYPE key=$API_KEY"; '
                                                  'echo "$WEBHOOK_PAYLOAD" | head -c 300; echo; '
                                                  'test -n "$WEBHOOK_SECRET" && echo signed'])
    hook = api.create_webhook(job_id=source.id, watched=[WebhookWatchedItem(type="model", name=new_repo)], domains=["repo"],
                              secret="s3cret", secrets={"API_KEY": "k-4711"})
    try:
        assert hook.url is None and hook.job is not None and hook.job.docker_image == "ubuntu"
        assert api.get_webhook(hook.id).job.command == source.command
        # Someone who may not run jobs where the source job runs cannot make a webhook of it.
        with pytest.raises(HfHubHTTPError):
            other_api.create_webhook(job_id=source.id, watched=[WebhookWatchedItem(type="model", name=new_repo)])

        api.upload_file(path_or_fileobj=b"hi\n", path_in_repo="hi.txt", repo_id=new_repo)

        def started():
            jobs = [j for j in api.list_jobs(namespace=user) if j.id != source.id and j.command == source.command]
            assert jobs
            return jobs[0]

        job = eventually(started, timeout=30)
        done = eventually(lambda: _ended(api, job.id), timeout=60)
        assert done.status.stage == "COMPLETED", done.status
        logs = "\n".join(api.fetch_job_logs(job_id=job.id))
        assert f"repo={new_repo} type=model key=***" in logs, logs
        assert '"event":' in logs and "signed" in logs
        assert "k-4711" not in logs and "s3cret" not in logs
        assert "WEBHOOK_SECRET" not in (done.environment or {}) and "API_KEY" in (done.secrets or [])
    finally:
        api.delete_webhook(hook.id)


def _ended(api, job_id):
    j = api.inspect_job(job_id=job_id)
    assert j.status.stage not in ("SCHEDULING", "RUNNING")
    return j
