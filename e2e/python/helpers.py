"""Helpers shared by the end-to-end tests."""

import hashlib
import time
import uuid
from pathlib import Path

from huggingface_hub.utils import get_session


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def eventually(check, timeout=15.0, interval=0.2):
    """Retries check() until it stops raising AssertionError or the timeout passes.

    For values the server may compute in the background (card metadata, counters)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(interval)


def raw(method, endpoint, path, token=None, **kwargs):
    """A raw HTTP request through the client's own session, for calls the library lacks."""
    headers = kwargs.pop("headers", {})
    if token:
        headers["authorization"] = f"Bearer {token}"
    return get_session().request(method, endpoint + path, headers=headers, **kwargs)


def files_under(root: Path):
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and ".cache" not in p.relative_to(root).parts
    }
