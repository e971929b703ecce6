"""Image columns in the viewer: cells as asset URLs, the assets themselves, and
their access rules for private datasets.

The parquet file is written as `datasets` writes an Image column (a struct of
bytes and path, with the features in the "huggingface" metadata); the PNGs
are built here with zlib, so the suite needs no imaging library.
"""

import io
import json
import struct
import urllib.error
import urllib.parse
import urllib.request
import zlib

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import push, unique


def make_png(width, height, rgba):
    """A PNG of one colour: 8-bit RGB, or RGBA when rgba has four values."""
    color_type = 6 if len(rgba) == 4 else 2
    raw = b"".join(b"\x00" + bytes(rgba) * width for _ in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


IMAGES = [make_png(4, 3, (255, 0, 0)), make_png(2, 5, (0, 0, 255, 128)), None]
LABELS = ["red", "translucent", "none"]


def image_parquet():
    table = pa.table(
        {
            "image": pa.array(
                [None if b is None else {"bytes": b, "path": f"{i}.png"} for i, b in enumerate(IMAGES)],
                type=pa.struct([("bytes", pa.binary()), ("path", pa.string())]),
            ),
            "label": LABELS,
        }
    )
    features = {"image": {"_type": "Image"}, "label": {"dtype": "string", "_type": "Value"}}
    table = table.replace_schema_metadata({"huggingface": json.dumps({"info": {"features": features}})})
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def fetch(url, token=None):
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


@pytest.fixture(scope="module")
def image_ds(api, user, viewer, token):
    repo_id = f"{user}/{unique('images')}"
    push(api, repo_id, {"data/train-00000-of-00001.parquet": image_parquet()})
    viewer.wait_ready(repo_id, token)
    return repo_id


@pytest.fixture(scope="module")
def private_image_ds(api, user, viewer, token):
    repo_id = f"{user}/{unique('private-images')}"
    push(api, repo_id, {"data/train-00000-of-00001.parquet": image_parquet()}, private=True)
    viewer.wait_ready(repo_id, token)
    return repo_id


def check_rows(endpoint, ds, body, base):
    assert body["features"] == [
        {"feature_idx": 0, "name": "image", "type": {"_type": "Image"}},
        {"feature_idx": 1, "name": "label", "type": {"dtype": "string", "_type": "Value"}},
    ]
    rows = body["rows"]
    assert [r["row"]["label"] for r in rows] == LABELS
    sha = None
    for i, (ext, (w, h)) in enumerate([("jpg", (4, 3)), ("png", (2, 5))]):
        cell = rows[i]["row"]["image"]
        assert set(cell) == {"src", "height", "width"}
        assert (cell["width"], cell["height"]) == (w, h)
        url = urllib.parse.urlsplit(cell["src"])
        prefix = f"/datasets-server/{base}/{ds}/--/"
        assert url.path.startswith(prefix), url.path
        sha, rest = url.path[len(prefix) :].split("/--/")
        assert len(sha) == 40
        assert rest == f"default/train/{i}/image/image.{ext}"
        assert cell["src"].startswith(endpoint)
    assert rows[2]["row"]["image"] is None
    return sha


def test_first_rows_and_rows_link_images(viewer, endpoint, image_ds, token):
    body = viewer.ok("first-rows", token, dataset=image_ds, config="default", split="train")
    check_rows(endpoint, image_ds, body, "assets")
    assert all(r["truncated_cells"] == [] for r in body["rows"])
    body = viewer.ok("rows", token, dataset=image_ds, config="default", split="train")
    check_rows(endpoint, image_ds, body, "cached-assets")
    body = viewer.ok("filter", token, dataset=image_ds, config="default", split="train", where="\"label\"='translucent'")
    assert body["rows"][0]["row_idx"] == 1
    assert body["rows"][0]["row"]["image"]["src"].endswith("/train/1/image/image.png")


def test_assets_are_served(viewer, image_ds, token):
    rows = viewer.ok("first-rows", token, dataset=image_ds, config="default", split="train")["rows"]
    status, headers, data = fetch(rows[0]["row"]["image"]["src"])
    assert status == 200, data
    assert headers["Content-Type"] == "image/jpeg"
    assert data[:3] == b"\xff\xd8\xff"  # re-encoded as JPEG, as upstream
    status, headers, data = fetch(rows[1]["row"]["image"]["src"])
    assert status == 200
    assert headers["Content-Type"] == "image/png"
    assert data == IMAGES[1]  # a PNG with transparency is served as stored
    # The same cell under /cached-assets (the /rows URL) is the same file.
    cached = viewer.ok("rows", token, dataset=image_ds, config="default", split="train")["rows"][1]["row"]["image"]["src"]
    assert fetch(cached)[2] == IMAGES[1]
    # Another row, column or file name than the cell's is not an asset.
    src = rows[1]["row"]["image"]["src"]
    for bad in (src.replace("/1/image/", "/2/image/"), src.replace("/1/image/", "/1/label/"), src.replace("image.png", "image.jpg")):
        assert fetch(bad)[0] == 404, bad


def test_private_assets(viewer, endpoint, private_image_ds, token, other_token):
    rows = viewer.ok("first-rows", token, dataset=private_image_ds, config="default", split="train")["rows"]
    src = rows[1]["row"]["image"]["src"]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(src).query)
    assert set(query) == {"expires", "signature"}
    # The signed URL works without credentials, as in a browser's <img>.
    status, headers, data = fetch(src)
    assert status == 200 and data == IMAGES[1]
    assert headers["Cache-Control"].startswith("private")
    bare = src.split("?")[0]
    # Unsigned: only for who may read the dataset, and the others see a
    # missing dataset, as on every viewer endpoint.
    assert fetch(bare, token)[0] == 200
    assert fetch(bare)[0] == 401
    assert fetch(bare, other_token)[0] == 404
    # A signature is good for its own path only, and not past its expiry.
    other_row = src.replace("/1/image/image.png", "/0/image/image.jpg")
    assert fetch(other_row)[0] == 401
    expired = bare + "?" + urllib.parse.urlencode({"expires": "1", "signature": query["signature"][0]})
    assert fetch(expired)[0] == 401
