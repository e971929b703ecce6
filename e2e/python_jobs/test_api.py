"""Jobs through HfApi: env and secrets, what a job sees inside, logs and
metrics, isolation between namespaces and refusals of bad specs."""

import time

import pytest
from huggingface_hub.errors import HfHubHTTPError, JobNotFoundError

from conftest import TERMINAL, hf, logs_of, raw, unique, wait_job

PY = ["python", "-c"]


def test_env_and_secrets(api, user, token):
    secret = unique("s3cr3t-value")
    script = (
        "import os\n"
        "print('env FOO=' + os.environ['FOO'])\n"
        "print('secret ' + os.environ['MY_SECRET'])\n"
        "print('secret length', len(os.environ['MY_SECRET']))\n"
        "print('unset secret', os.environ.get('UNSET_SECRET', '<absent>'))\n"
        "print('JOB_ID=' + os.environ['JOB_ID'])\n"
        "print('HF_ENDPOINT=' + os.environ['HF_ENDPOINT'])\n"
        "print('has token', os.environ.get('HF_TOKEN', '').startswith('hf_'))\n"
        "print('reversed token', os.environ['HF_TOKEN'][::-1])\n"
        "import sys; print('stderr secret ' + os.environ['MY_SECRET'] + ' twice ' + os.environ['MY_SECRET'], file=sys.stderr)\n"
    )
    job = api.run_job(image="python:3.12", command=PY + [script], env={"FOO": "bar baz"},
                      secrets={"MY_SECRET": secret, "UNSET_SECRET": None})
    assert job.owner.name == user
    assert job.secrets == ["MY_SECRET"]
    done = wait_job(api, job.id)
    assert done.status.stage == "COMPLETED", logs_of(api, job.id)
    logs = logs_of(api, job.id)
    text = "\n".join(logs)
    assert "env FOO=bar baz" in logs
    assert "secret ***" in logs
    assert f"secret length {len(secret)}" in logs  # the job did get the value
    assert "unset secret <absent>" in logs
    assert f"JOB_ID={job.id}" in logs
    assert f"HF_ENDPOINT={api.endpoint}" in logs
    assert "has token True" in logs
    assert "stderr secret *** twice ***" in logs
    assert secret not in text and token not in text
    # The job's token was its submitter's, and ends with the job.
    (job_token,) = [l.split()[-1][::-1] for l in logs if l.startswith("reversed token ")]
    assert job_token.startswith("hf_") and job_token != token
    resp = raw("GET", "/api/whoami-v2", token=job_token)
    assert resp.status_code == 401, resp.text

    body = raw("GET", f"/api/jobs/{user}/{job.id}").text
    assert secret not in body
    info = raw("GET", f"/api/jobs/{user}/{job.id}").json()
    assert info["secrets"] == ["MY_SECRET"]
    assert info["environment"] == {"FOO": "bar baz"}
    assert secret not in raw("GET", f"/api/jobs/{user}").text
    assert secret not in hf("jobs", "inspect", job.id, "--format", "json").stdout


def test_hfapi_lifecycle_logs_in_order(api, user, cleanup_jobs):
    name = unique("lines")
    script = "import time\nfor i in range(40):\n    print(f'line {i:02d}', flush=True)\n    time.sleep(0.05)\n"
    job = api.run_job(image="python:3.12", command=PY + [script], name=name, labels={"suite": "jobs-e2e"})
    cleanup_jobs[0].append((job.id, None))
    assert job.status.stage in ("SCHEDULING", "RUNNING")
    assert job.labels == {"name": name, "suite": "jobs-e2e"}
    # Follows from SCHEDULING to the end: every line, in order, once.
    logs = list(api.fetch_job_logs(job_id=job.id, follow=True))
    assert logs == [f"line {i:02d}" for i in range(40)]
    assert api.inspect_job(job_id=job.id).status.stage == "COMPLETED"
    assert list(api.fetch_job_logs(job_id=job.id, tail=3)) == ["line 37", "line 38", "line 39"]

    # Without a namespace, list_jobs asks the module-level whoami.
    assert job.id in [j.id for j in api.list_jobs()]
    assert [j.id for j in api.list_jobs(labels={"name": name})] == [job.id]
    assert [j.id for j in api.list_jobs(status="COMPLETED", labels={"name": name})] == [job.id]
    assert list(api.list_jobs(status=["RUNNING", "ERROR"], labels={"name": name})) == []
    hardware = api.list_jobs_hardware()
    assert "cpu-basic" in [h.name for h in hardware]


def test_metrics_and_cancel(api, user, cleanup_jobs):
    script = "import time\nprint('started', flush=True)\nx = bytearray(20 << 20)\ntime.sleep(120)\n"
    job = api.run_job(image="python:3.12", command=PY + [script])
    cleanup_jobs[0].append((job.id, None))
    wait_job(api, job.id, stages={"RUNNING"})
    deadline = time.monotonic() + 20
    while "started" not in logs_of(api, job.id) and time.monotonic() < deadline:
        time.sleep(0.3)
    samples = list(api.fetch_job_metrics(job_id=job.id))
    assert len(samples) >= 1, "no metrics sample for a running job"
    sample = samples[0]
    assert sample["memory_total_bytes"] > 0
    assert sample["memory_used_bytes"] > 0
    assert "cpu_usage_pct" in sample
    stats = hf("jobs", "stats", job.id, "--format", "json", timeout=60)
    assert job.id in stats.stdout, stats.stdout + stats.stderr

    start = time.monotonic()
    api.cancel_job(job_id=job.id)
    done = wait_job(api, job.id, timeout=30)
    assert done.status.stage == "CANCELED"
    assert time.monotonic() - start < 15
    # A finished job has no metrics any more; the client takes that quietly.
    assert list(api.fetch_job_metrics(job_id=job.id)) == []


HUB_SCRIPT = """\
# /// script
# requires-python = ">=3.10"
# dependencies = ["huggingface_hub"]
# ///
import csv
import io
import os
import sys

from huggingface_hub import HfApi, hf_hub_download

dataset, model = sys.argv[1], sys.argv[2]
print("endpoint", os.environ["HF_ENDPOINT"])
path = hf_hub_download(dataset, "numbers.csv", repo_type="dataset")
with open(path) as f:
    rows = list(csv.DictReader(f))
total = sum(int(r["n"]) for r in rows)
print("rows", len(rows), "total", total)
api = HfApi()
print("whoami", api.whoami()["name"])
api.upload_file(
    path_or_fileobj=f"total={total} rows={len(rows)} job={os.environ['JOB_ID']}\\n".encode(),
    path_in_repo="result.txt",
    repo_id=model,
    commit_message="result from a job",
)
print("uploaded")
"""


def test_job_token_reaches_the_hub(api, user, endpoint, tmp_path):
    """A uv job given a script by URL reads a dataset of its submitter and
    writes to their model repo with the token Haven gives it."""
    dataset = f"{user}/{unique('numbers')}"
    model = f"{user}/{unique('results')}"
    scripts = f"{user}/{unique('scripts')}"
    api.create_repo(dataset, repo_type="dataset", private=True)
    api.upload_file(path_or_fileobj=b"n,name\n1,a\n2,b\n39,c\n", path_in_repo="numbers.csv", repo_id=dataset,
                    repo_type="dataset")
    api.create_repo(model, private=True)
    api.create_repo(scripts, private=False)
    api.upload_file(path_or_fileobj=HUB_SCRIPT.encode(), path_in_repo="script.py", repo_id=scripts)
    url = f"{endpoint}/{scripts}/resolve/main/script.py"

    # hf jobs uv run fetches the script at the URL and ships it through the
    # artifacts bucket, as it does a local one.
    name = unique("hubjob")
    proc = hf("jobs", "uv", "run", "--name", name, "--image", "ghcr.io/astral-sh/uv:python3.12-bookworm",
              url, dataset, model, timeout=300, check=False)
    (job,) = api.list_jobs(labels={"name": name})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert job.status.stage == "COMPLETED"
    assert job.command[-2:] == [dataset, model]
    out = proc.stdout
    assert "rows 3 total 42" in out
    assert f"whoami {user}" in out
    assert "uploaded" in out
    assert api.list_repo_commits(model)[0].title == "result from a job"
    result = api.hf_hub_download(model, "result.txt", local_dir=tmp_path)
    assert open(result).read() == f"total=42 rows=3 job={job.id}\n"

    # run_uv_job passes the URL through: uv inside the job downloads it from Haven.
    job = api.run_uv_job(script=url, script_args=[dataset, model], image="ghcr.io/astral-sh/uv:python3.12-bookworm")
    assert url in job.command
    done = wait_job(api, job.id, timeout=120)
    logs = logs_of(api, job.id)
    assert done.status.stage == "COMPLETED", logs
    assert "uploaded" in logs
    result = api.hf_hub_download(model, "result.txt", local_dir=tmp_path / "again")
    assert open(result).read() == f"total=42 rows=3 job={job.id}\n"


def test_isolation_between_namespaces(api, other_api, read_api, endpoint, user, other_user, org, cleanup_jobs):
    job = api.run_job(image="python:3.12", command=PY + ["import time; time.sleep(60)"])
    cleanup_jobs[0].append((job.id, None))

    # Bob does not see alice's job, in her namespace or his.
    for ns in (user, other_user):
        with pytest.raises(JobNotFoundError):
            other_api.inspect_job(job_id=job.id, namespace=ns)
        with pytest.raises(JobNotFoundError):
            other_api.cancel_job(job_id=job.id, namespace=ns)
        with pytest.raises(JobNotFoundError):
            list(other_api.fetch_job_logs(job_id=job.id, namespace=ns))
    with pytest.raises(HfHubHTTPError) as e:
        list(other_api.list_jobs(namespace=user))
    assert e.value.response.status_code in (403, 404)
    assert job.id not in [j.id for j in other_api.list_jobs(namespace=other_user)]
    with pytest.raises(HfHubHTTPError) as e:
        other_api.run_job(image="python:3.12", command=["true"], namespace=user)
    assert e.value.response.status_code in (403, 404)
    with pytest.raises(HfHubHTTPError) as e:
        other_api.run_job(image="python:3.12", command=["true"], namespace=org)
    assert e.value.response.status_code in (403, 404)
    proc = hf("jobs", "inspect", f"{user}/{job.id}", token=other_api.token, check=False)
    assert proc.returncode != 0
    proc = hf("jobs", "cancel", f"{user}/{job.id}", token=other_api.token, check=False)
    assert proc.returncode != 0

    # A read token of alice's lists and inspects, but neither runs nor cancels.
    assert read_api.inspect_job(job_id=job.id, namespace=user).id == job.id
    assert job.id in [j.id for j in read_api.list_jobs(namespace=user)]
    with pytest.raises(HfHubHTTPError) as e:
        read_api.run_job(image="python:3.12", command=["true"], namespace=user)
    assert e.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as e:
        read_api.cancel_job(job_id=job.id, namespace=user)
    assert e.value.response.status_code == 403
    # Nobody anonymous.
    assert raw("GET", f"/api/jobs/{user}", token="").status_code == 401
    assert raw("GET", f"/api/jobs/{user}/{job.id}", token="").status_code == 401
    assert api.inspect_job(job_id=job.id).status.stage in ("SCHEDULING", "RUNNING")

    api.cancel_job(job_id=job.id)
    assert wait_job(api, job.id).status.stage == "CANCELED"

    # Alice runs a job in her organisation; it belongs to the org.
    org_job = api.run_job(image="python:3.12", command=PY + ["import os; print('in', os.environ['JOB_ID'])"],
                          namespace=org)
    assert org_job.owner.name == org and org_job.owner.type == "org"
    done = wait_job(api, org_job.id, namespace=org)
    assert done.status.stage == "COMPLETED"
    assert logs_of(api, org_job.id, namespace=org) == [f"in {org_job.id}"]
    assert org_job.id in [j.id for j in api.list_jobs(namespace=org)]
    assert org_job.id not in [j.id for j in api.list_jobs(namespace=user)]
    with pytest.raises(JobNotFoundError):
        api.inspect_job(job_id=org_job.id, namespace=user)
    with pytest.raises(JobNotFoundError):
        other_api.inspect_job(job_id=org_job.id, namespace=org)


def _refused(body, *words, path=None, user="alice"):
    resp = raw("POST", path or f"/api/jobs/{user}", json=body)
    assert resp.status_code == 400, (resp.status_code, resp.text)
    message = resp.headers.get("x-error-message", "")
    assert message, dict(resp.headers)
    assert resp.json() == {"error": message}
    for w in words:
        assert w.lower() in message.lower(), message
    return message


def test_bad_specs_are_refused(api, user):
    ok = {"dockerImage": "python:3.12", "command": ["true"]}
    _refused({**ok, "flavor": "quantum-xl"}, "quantum-xl", "cpu-basic", user=user)
    msg = _refused({**ok, "dockerImage": "nginx:latest"}, "nginx:latest", "python:3", "ubuntu", user=user)
    assert "uv" in msg
    _refused({**ok, "labels": {"bad label": "x"}}, "label", user=user)
    _refused({**ok, "labels": {"ok": "bad value!"}}, "label", user=user)
    _refused({"command": ["true"]}, "dockerImage", "spaceId", user=user)
    _refused({**ok, "spaceId": f"{user}/some-space"}, "dockerImage", "spaceId", user=user)
    _refused({"schedule": "every now and then", "jobSpec": ok}, "schedule", path=f"/api/scheduled-jobs/{user}")
    _refused({"schedule": "61 * * * *", "jobSpec": ok}, "schedule", path=f"/api/scheduled-jobs/{user}")

    # Through the clients, the message reaches the user.
    with pytest.raises(HfHubHTTPError) as e:
        api.run_job(image="nginx:latest", command=["true"])
    assert e.value.response.status_code == 400
    assert "nginx:latest" in str(e.value)
    proc = hf("jobs", "run", "--flavor", "quantum-xl", "python:3.12", "true", check=False)
    assert proc.returncode != 0
    proc = hf("jobs", "scheduled", "run", "not-a-schedule", "python:3.12", "true", check=False)
    assert proc.returncode != 0
    assert "schedule" in (proc.stdout + proc.stderr).lower()
    # None of these made a job.
    assert not [j for j in api.list_jobs() if j.docker_image == "nginx:latest"]
