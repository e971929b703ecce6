"""Scheduled jobs through the hf CLI and HfApi: firing on an @every schedule,
listing, inspecting, suspending, resuming, triggering and deleting."""

import time

import pytest
from huggingface_hub.errors import HfHubHTTPError

from conftest import TERMINAL, hf, hf_json, raw, unique, wait_job


def runs_of(api, name):
    """The jobs a schedule named name has started, oldest first."""
    jobs = [j for j in api.list_jobs(labels={"name": name}) if j.initiator and j.initiator.type == "scheduled-job"]
    return sorted(jobs, key=lambda j: j.created_at)


def wait_runs(api, name, n, timeout):
    deadline = time.monotonic() + timeout
    while True:
        runs = runs_of(api, name)
        if len(runs) >= n:
            return runs
        if time.monotonic() > deadline:
            pytest.fail(f"the schedule {name} started {len(runs)} jobs in {timeout}s, want {n}")
        time.sleep(0.5)


def settle(api, runs):
    for j in runs:
        wait_job(api, j.id, timeout=60)


def test_every_schedule_suspend_resume_delete(api, user, cleanup_jobs):
    name = unique("ticker")
    secret = unique("tick-secret")
    script = "import os; print('tick', os.environ['TICK_ENV'], os.environ['TICK_SECRET'], len(os.environ['TICK_SECRET']))"
    sid = hf("jobs", "scheduled", "run", "-q", "--name", name, "-e", "TICK_ENV=env-value", "-s", f"TICK_SECRET={secret}",
             "@every 4s", "python:3.12", "python", "-c", script).stdout.strip()
    cleanup_jobs[1].append((sid, None))
    assert len(sid) == 24, sid

    listed = hf_json("jobs", "scheduled", "ps")
    assert sid in [s["id"] for s in listed]
    (info,) = hf_json("jobs", "scheduled", "inspect", sid)
    assert info["schedule"] == "@every 4s"
    assert info["suspend"] is False
    assert info["job_spec"]["docker_image"] == "python:3.12"
    assert info["job_spec"]["labels"]["name"] == name
    assert info["status"]["next_job_run_at"]
    assert secret not in raw("GET", f"/api/scheduled-jobs/{user}/{sid}").text
    assert raw("GET", f"/api/scheduled-jobs/{user}/{sid}").json()["jobSpec"]["secrets"] == ["TICK_SECRET"]

    runs = wait_runs(api, name, 2, timeout=20)
    assert runs[0].initiator.id == sid
    done = wait_job(api, runs[0].id)
    assert done.status.stage == "COMPLETED"
    assert list(api.fetch_job_logs(job_id=runs[0].id)) == [f"tick env-value *** {len(secret)}"]
    assert done.secrets == ["TICK_SECRET"]

    sched = api.inspect_scheduled_job(scheduled_job_id=sid)
    assert sched.status.last_job is not None
    assert sched.status.last_job.id in [j.id for j in runs_of(api, name)]
    assert sched.status.next_job_run_at is not None

    # Suspended: no new run, hidden from the default listing.
    hf("jobs", "scheduled", "suspend", sid)
    assert api.inspect_scheduled_job(scheduled_job_id=sid).suspend is True
    time.sleep(1)  # a tick taken just before the suspension has started its job by now
    before = len(runs_of(api, name))
    time.sleep(8)
    after = runs_of(api, name)
    assert len(after) == before, "a suspended schedule started a job"
    settle(api, after)
    assert sid not in hf("jobs", "scheduled", "ps", "-q").stdout.split()
    assert sid in hf("jobs", "scheduled", "ps", "-a", "-q").stdout.split()
    assert sid in hf("jobs", "scheduled", "ps", "-q", "--status", "suspended").stdout.split()

    # Resumed: it fires again.
    hf("jobs", "scheduled", "resume", sid)
    assert api.inspect_scheduled_job(scheduled_job_id=sid).suspend is False
    assert sid in hf("jobs", "scheduled", "ps", "-q").stdout.split()
    wait_runs(api, name, before + 1, timeout=15)

    hf("jobs", "scheduled", "delete", sid)
    with pytest.raises(HfHubHTTPError) as e:
        api.inspect_scheduled_job(scheduled_job_id=sid)
    assert e.value.response.status_code == 404
    assert sid not in hf("jobs", "scheduled", "ps", "-a", "-q").stdout.split()
    time.sleep(1)  # a tick taken just before the delete has started its job by now
    count = len(runs_of(api, name))
    time.sleep(4.5)
    assert len(runs_of(api, name)) == count, "a deleted schedule started a job"
    settle(api, runs_of(api, name))


def test_trigger_conflicts_while_the_last_run_runs(api, user, other_api, cleanup_jobs):
    name = unique("sleeper")
    sched = api.create_scheduled_job(image="python:3.12", command=["python", "-c", "import time; time.sleep(300)"],
                                     schedule="@yearly", name=name)
    cleanup_jobs[1].append((sched.id, None))
    assert sched.concurrency is False
    assert sched.owner.name == user

    # Without @, as the CLI's help shows it.
    other = api.create_scheduled_job(image="python:3.12", command=["true"], schedule="hourly", suspend=True)
    cleanup_jobs[1].append((other.id, None))
    assert other.suspend is True
    assert other.status.next_job_run_at is None
    api.delete_scheduled_job(scheduled_job_id=other.id)

    first = api.trigger_scheduled_job(scheduled_job_id=sched.id)
    cleanup_jobs[0].append((first.id, None))
    assert first.initiator.type == "scheduled-job"
    assert first.labels["name"] == name
    wait_job(api, first.id, stages={"RUNNING"})
    with pytest.raises(HfHubHTTPError) as e:
        api.trigger_scheduled_job(scheduled_job_id=sched.id)
    assert e.value.response.status_code == 409
    proc = hf("jobs", "scheduled", "trigger", sched.id, check=False)
    assert proc.returncode != 0
    assert api.inspect_scheduled_job(scheduled_job_id=sched.id).status.last_job.id == first.id

    # Others cannot see or trigger it.
    with pytest.raises(HfHubHTTPError) as e:
        other_api.trigger_scheduled_job(scheduled_job_id=sched.id, namespace=user)
    assert e.value.response.status_code in (403, 404)
    with pytest.raises(HfHubHTTPError) as e:
        other_api.inspect_scheduled_job(scheduled_job_id=sched.id, namespace=user)
    assert e.value.response.status_code in (403, 404)

    api.cancel_job(job_id=first.id)
    assert wait_job(api, first.id).status.stage == "CANCELED"
    second = hf_json("jobs", "scheduled", "trigger", sched.id)
    second_id = second["id"] if isinstance(second, dict) else second[0]["id"]
    cleanup_jobs[0].append((second_id, None))
    assert second_id != first.id
    assert api.inspect_scheduled_job(scheduled_job_id=sched.id).status.last_job.id == second_id
    api.cancel_job(job_id=second_id)
    assert wait_job(api, second_id).status.stage == "CANCELED"

    # With concurrency on, a trigger while one runs starts another.
    conc = api.create_scheduled_job(image="python:3.12", command=["python", "-c", "import time; time.sleep(300)"],
                                    schedule="0 0 1 1 *", concurrency=True)
    cleanup_jobs[1].append((conc.id, None))
    a = api.trigger_scheduled_job(scheduled_job_id=conc.id)
    cleanup_jobs[0].append((a.id, None))
    b = api.trigger_scheduled_job(scheduled_job_id=conc.id)
    cleanup_jobs[0].append((b.id, None))
    assert a.id != b.id
    for j in (a, b):
        api.cancel_job(job_id=j.id)
    for j in (a, b):
        assert wait_job(api, j.id).status.stage == "CANCELED"
    api.delete_scheduled_job(scheduled_job_id=conc.id)
    api.delete_scheduled_job(scheduled_job_id=sched.id)
    assert raw("GET", f"/api/scheduled-jobs/{user}/{sched.id}").status_code == 404
