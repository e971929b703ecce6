"""The hf command-line interface against the server (HF_ENDPOINT is set by the harness)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import unique

HF = str(Path(sys.executable).parent / "hf")


def hf(*args, token=None, check=True):
    env = dict(os.environ)
    env.pop("HF_TOKEN", None)
    if token:
        env["HF_TOKEN"] = token
    proc = subprocess.run([HF, *args], env=env, capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        pytest.fail(f"hf {' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def test_cli_whoami(token, user, org):
    out = hf("auth", "whoami", "--format", "json", token=token).stdout
    info = json.loads(out)
    assert info["user"] == user
    assert org in info["orgs"].split(",")


def test_cli_repo_create_upload_download(api, token, user, tmp_path):
    repo_id = f"{user}/{unique('cli')}"
    hf("repos", "create", repo_id, token=token)
    assert api.model_info(repo_id).id == repo_id

    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "config.json").write_text('{"cli": true}\n')
    (src / "sub" / "weights.bin").write_bytes(os.urandom(70_000))
    hf("upload", repo_id, str(src), ".", "--commit-message", "upload from the CLI", token=token)
    assert sorted(api.list_repo_files(repo_id)) == [".gitattributes", "config.json", "sub/weights.bin"]
    assert api.list_repo_commits(repo_id)[0].title == "upload from the CLI"

    hf("upload", repo_id, str(src / "config.json"), "renamed.json", token=token)
    assert "renamed.json" in api.list_repo_files(repo_id)

    out = tmp_path / "out"
    hf("download", repo_id, "--local-dir", str(out), token=token)
    assert (out / "config.json").read_text() == '{"cli": true}\n'
    assert (out / "sub" / "weights.bin").read_bytes() == (src / "sub" / "weights.bin").read_bytes()
    assert (out / "renamed.json").read_text() == '{"cli": true}\n'

    one = tmp_path / "one"
    hf("download", repo_id, "sub/weights.bin", "--local-dir", str(one), token=token)
    assert (one / "sub" / "weights.bin").read_bytes() == (src / "sub" / "weights.bin").read_bytes()
    assert not (one / "config.json").exists()


def test_cli_private_repo_and_errors(api, token, other_token, user, tmp_path):
    repo_id = f"{user}/{unique('cli-private')}"
    hf("repos", "create", repo_id, "--private", token=token)
    assert api.model_info(repo_id).private is True
    proc = hf("download", repo_id, ".gitattributes", "--local-dir", str(tmp_path / "bob"), token=other_token, check=False)
    assert proc.returncode != 0
    assert not (tmp_path / "bob" / ".gitattributes").exists()
    proc = hf("repos", "create", repo_id, token=token, check=False)
    assert proc.returncode != 0, "creating an existing repository must fail without --exist-ok"
    hf("repos", "create", repo_id, "--exist-ok", token=token)
