"""Jobs through the hf CLI: run, detach, logs, inspect, ps, hardware, cancel,
timeouts, exit codes and uv scripts, against Haven's process runner."""

import subprocess
import time

from conftest import HF, hf, hf_env, hf_json, raw, unique, wait_job


def test_run_prints_output_and_exits_zero(api, user):
    mark = unique("hello")
    proc = hf("jobs", "run", "python:3.12", "python", "-c", f"print('{mark}')", timeout=180)
    assert mark in proc.stdout
    assert "completed" in proc.stdout
    # No ports exposed, so no hint about where they are reachable.
    assert "Exposed ports" not in proc.stdout + proc.stderr
    # The job is there afterwards, finished.
    jobs = [j for j in api.list_jobs(namespace=user) if j.command[-1] == f"print('{mark}')"]
    assert len(jobs) == 1 and jobs[0].status.stage == "COMPLETED"

    # rerun: the same spec again, as a new job.
    again = hf("jobs", "rerun", "-d", "-q", jobs[0].id).stdout.strip()
    assert again != jobs[0].id
    rerun = wait_job(api, again)
    assert rerun.status.stage == "COMPLETED"
    assert rerun.command == jobs[0].command
    assert rerun.initiator.type == "duplicated-job"
    assert mark in hf("jobs", "logs", again).stdout


def test_detach_logs_tail_inspect_and_ps(api, user, cleanup_jobs):
    team = unique("team")
    script = "import time\nfor c in 'abcd':\n    print('line', c, flush=True)\ntime.sleep(8)\nprint('line e')"
    job_id = hf("jobs", "run", "-d", "-q", "-l", f"team={team}", "-l", "flagged", "-l", "kind=e2e", "--name", team,
                "python:3.12", "python", "-c", script).stdout.strip()
    cleanup_jobs[0].append((job_id, user))
    assert len(job_id) == 24 and all(c in "0123456789abcdef" for c in job_id), job_id

    # While it runs, the default listing (running and scheduling) shows it.
    wait_job(api, job_id, stages={"RUNNING"})
    running = hf_json("jobs", "ps")
    assert job_id in [j["id"] for j in running]
    assert all(j["status"] in ("RUNNING", "SCHEDULING") for j in running)
    assert job_id in hf("jobs", "ps", "-q", "--status", "running").stdout.split()

    # hf jobs wait blocks until it ends and exits 0 as it completed.
    waited = hf("jobs", "wait", job_id, "--timeout", "60s", timeout=90)
    assert waited.returncode == 0
    job = api.inspect_job(job_id=job_id)
    assert job.status.stage == "COMPLETED"

    logs = hf("jobs", "logs", job_id).stdout.splitlines()
    assert [l for l in logs if l.startswith("line")] == ["line a", "line b", "line c", "line d", "line e"]
    assert not any(l.startswith("===== Job started") for l in logs)
    assert hf("jobs", "logs", "-n", "2", job_id).stdout.splitlines() == ["line d", "line e"]
    assert hf("jobs", "logs", f"{user}/{job_id}").stdout.splitlines() == logs

    (info,) = hf_json("jobs", "inspect", job_id)
    assert info["id"] == job_id
    assert info["status"]["stage"] == "COMPLETED"
    assert info["docker_image"] == "python:3.12"
    assert info["command"] == ["python", "-c", script]
    assert info["labels"] == {"team": team, "flagged": "", "kind": "e2e", "name": team}
    assert info["owner"]["name"] == user
    assert info["flavor"] == "cpu-basic"
    assert info["finished_at"] and info["started_at"]

    # Finished: gone from the default listing, there with -a and the right filters.
    assert job_id not in hf("jobs", "ps", "-q").stdout.split()
    assert job_id in hf("jobs", "ps", "-a", "-q").stdout.split()
    assert job_id in hf("jobs", "ps", "-q", "--status", "error,completed").stdout.split()
    assert hf("jobs", "ps", "-a", "-q", "-l", f"team={team}").stdout.split() == [job_id]
    assert hf("jobs", "ps", "-a", "-q", "-l", f"team={team}", "-l", "kind=e2e").stdout.split() == [job_id]
    assert job_id in [j.id for j in api.list_jobs(labels={"team": team, "flagged": ""})]
    assert hf("jobs", "ps", "-a", "-q", "-l", f"team={team}", "-l", "kind=other").stdout.split() == []
    assert hf("jobs", "ps", "-a", "-q", "--name", team).stdout.split() == [job_id]

    # Labels: --name alone keeps the others, -l replaces them all.
    renamed = unique("renamed")
    hf("jobs", "labels", job_id, "--name", renamed)
    assert api.inspect_job(job_id=job_id).labels == {"team": team, "flagged": "", "kind": "e2e", "name": renamed}
    hf("jobs", "labels", job_id, "-l", "only=this")
    assert api.inspect_job(job_id=job_id).labels == {"only": "this"}
    proc = hf("jobs", "labels", job_id, "-l", "bad key=x", check=False)
    assert proc.returncode != 0
    assert api.inspect_job(job_id=job_id).labels == {"only": "this"}


def test_logs_wait_while_the_job_is_queued(api, user, cleanup_jobs):
    """With both slots busy a job waits in SCHEDULING; hf jobs run must still
    show all of its output once it runs (the log stream stays open)."""
    sleepers = []
    for _ in range(2):
        j = api.run_job(image="python:3.12", command=["python", "-c", "import time; time.sleep(300)"])
        cleanup_jobs[0].append((j.id, None))
        sleepers.append(j)
    for j in sleepers:
        wait_job(api, j.id, stages={"RUNNING"})
    name = unique("queued")
    proc = subprocess.Popen([HF, "jobs", "run", "--name", name, "python:3.12", "python", "-c",
                             "print('first'); print('second')"],
                            env=hf_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while not list(api.list_jobs(labels={"name": name})):
            assert time.monotonic() < deadline, "the job was not submitted"
            time.sleep(0.2)
        (queued,) = api.list_jobs(labels={"name": name})
        # One more, canceled while it waits: it never runs.
        dropped = api.run_job(image="python:3.12", command=["python", "-c", "print('should not run')"])
        cleanup_jobs[0].append((dropped.id, None))
        hf("jobs", "cancel", dropped.id)
        assert api.inspect_job(job_id=dropped.id).status.stage == "CANCELED"
        time.sleep(2)
        assert api.inspect_job(job_id=queued.id).status.stage == "SCHEDULING"
        assert proc.poll() is None, "hf jobs run gave up on a queued job"
        for j in sleepers:
            api.cancel_job(job_id=j.id)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out + err
    lines = out.splitlines()
    assert "first" in lines and "second" in lines, out
    assert lines.index("first") < lines.index("second")
    time.sleep(1)
    never = api.inspect_job(job_id=dropped.id)
    assert never.status.stage == "CANCELED" and never.started_at is None
    assert list(api.fetch_job_logs(job_id=dropped.id)) == []


def test_list_pages(api, user):
    """More jobs than one page: list_jobs and hf jobs ps follow the Link header."""
    name = unique("many")
    ids = {api.run_job(image="ubuntu", command=["true"], name=name).id for _ in range(55)}
    listed = [j.id for j in api.list_jobs(labels={"name": name})]
    assert len(listed) == len(set(listed)) == 55 and set(listed) == ids
    every = [j.id for j in api.list_jobs()]
    assert len(every) == len(set(every)) and ids <= set(every)
    assert set(hf("jobs", "ps", "-a", "-q", "--limit", "0", "--name", name).stdout.split()) == ids
    assert len(hf("jobs", "ps", "-a", "-q", "--limit", "7", "--name", name).stdout.split()) == 7
    for jid in ids:
        wait_job(api, jid, timeout=60)


def test_hardware():
    flavors = hf_json("jobs", "hardware")
    names = [f["name"] for f in flavors]
    assert "cpu-basic" in names
    basic = next(f for f in flavors if f["name"] == "cpu-basic")
    assert basic["cpu"] and basic["ram"]
    assert "cpu-basic" in hf("jobs", "hardware").stdout


def test_exit_code_ends_in_error(api, user):
    name = unique("exit3")
    proc = hf("jobs", "run", "--name", name, "python:3.12", "python", "-c", "import sys; print('failing'); sys.exit(3)", check=False)
    assert proc.returncode != 0
    assert "failing" in proc.stdout
    assert "Exit code: 3" in proc.stdout + proc.stderr
    (job,) = api.list_jobs(namespace=user, labels={"name": name})
    assert job.status.stage == "ERROR"
    assert "Exit code: 3" in job.status.message


def test_out_of_memory_ends_in_error_and_haven_stays_up(api, user):
    # More than cpu-basic's 16 GB: refused at once by the memory limit, nothing is touched.
    name = unique("oom")
    proc = hf("jobs", "run", "--name", name, "python:3.12", "python", "-c",
              "print('allocating', flush=True); b = bytearray(40 * 2**30)", check=False)
    assert proc.returncode != 0
    (job,) = api.list_jobs(namespace=user, labels={"name": name})
    assert job.status.stage == "ERROR"
    assert "Memory limit exceeded" in job.status.message, job.status.message
    assert "MemoryError" in "\n".join(api.fetch_job_logs(job_id=job.id))
    assert raw("GET", "/api/jobs/hardware").status_code == 200  # Haven stays up


def test_timeout_ends_in_error(api, user, cleanup_jobs):
    job_id = hf("jobs", "run", "-d", "-q", "--timeout", "3s",
                "python:3.12", "python", "-c", "import time; print('sleeping', flush=True); time.sleep(120)").stdout.strip()
    cleanup_jobs[0].append((job_id, user))
    assert raw("GET", f"/api/jobs/{user}/{job_id}").json()["timeoutSeconds"] == 3
    start = time.monotonic()
    job = wait_job(api, job_id, timeout=60)
    assert job.status.stage == "ERROR"
    assert "timeout" in job.status.message.lower()
    assert time.monotonic() - start < 45
    assert "sleeping" in "\n".join(api.fetch_job_logs(job_id=job_id))


def test_cancel_a_long_job(api, user, cleanup_jobs):
    job_id = hf("jobs", "run", "-d", "-q", "python:3.12", "python", "-c", "import time; time.sleep(300)").stdout.strip()
    cleanup_jobs[0].append((job_id, user))
    wait_job(api, job_id, stages={"RUNNING"})
    time.sleep(0.5)  # the process is started, not only the stage moved
    start = time.monotonic()
    hf("jobs", "cancel", job_id)
    job = wait_job(api, job_id, timeout=30)
    assert job.status.stage == "CANCELED"
    assert time.monotonic() - start < 15
    assert job_id not in hf("jobs", "ps", "-q").stdout.split()
    assert job_id in hf("jobs", "ps", "-q", "--status", "canceled").stdout.split()


UV_LOCAL_SCRIPT = """\
# /// script
# requires-python = ">=3.10"
# dependencies = []
# ///
import os
import sys

print("args:", sys.argv[1:])
with open(sys.argv[1], "w") as f:
    f.write("written by " + os.environ["JOB_ID"] + " " + sys.argv[2] + "\\n")
print("done")
"""


def test_uv_run_local_script_uses_the_artifacts_bucket(api, user, tmp_path, cleanup_jobs):
    script = tmp_path / "make_out.py"
    script.write_text(UV_LOCAL_SCRIPT)
    mark = unique("mark")
    proc = hf("jobs", "uv", "run", "--name", mark, str(script), "/data/out.txt", mark, timeout=240)
    assert "done" in proc.stdout, proc.stdout + proc.stderr
    (job,) = api.list_jobs(namespace=user, labels={"name": mark})
    assert job.status.stage == "COMPLETED"
    assert job.docker_image.startswith("ghcr.io/astral-sh/uv:")
    (vol,) = job.volumes
    assert vol.type == "bucket" and vol.source == f"{user}/jobs-artifacts" and vol.mount_path == "/data"

    bucket = f"{user}/jobs-artifacts"
    files = {e.path for e in api.list_bucket_tree(bucket, recursive=True) if e.type == "file"}
    prefix = vol.path.strip("/")
    assert f"{prefix}/make_out.py" in files, files
    assert f"{prefix}/out.txt" in files, files
    dest = tmp_path / "out.txt"
    api.download_bucket_files(bucket, [(f"{prefix}/out.txt", dest)], raise_on_missing_files=True)
    assert dest.read_text() == f"written by {job.id} {mark}\n"
