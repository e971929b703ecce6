"""Small datasets in every format the hub converts, made by the tests."""

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq

TRAIN = [{"text": f"row {i} 東京 café Привет", "label": i % 3, "score": i * 0.5} for i in range(25)]
TEST = [{"text": f"test {i} صباح", "label": i % 2, "score": i * 1.5} for i in range(5)]


def encode(fmt, rows):
    if fmt == "csv":
        out = "text,label,score\n" + "".join(f"{r['text']},{r['label']},{r['score']}\n" for r in rows)
        return out.encode()
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
    if fmt == "parquet":
        buf = io.BytesIO()
        pq.write_table(pa.Table.from_pylist(rows), buf)
        return buf.getvalue()
    if fmt == "txt":
        return "".join(r["text"] + "\n" for r in rows).encode()
    raise ValueError(fmt)


def expected(fmt, rows):
    if fmt == "txt":
        return [{"text": r["text"]} for r in rows]
    return rows


CARD_WITH_CONFIGS = """---
configs:
- config_name: main
  default: true
  data_files:
  - split: train
    path: "files/first_*"
  - split: test
    path: "files/second_*"
---
# A dataset with configs
"""


def files_for(fmt, with_configs):
    """Returns ({path: bytes}, config name, {split: rows})."""
    if with_configs:
        files = {
            "README.md": CARD_WITH_CONFIGS.encode(),
            f"files/first_part.{fmt}": encode(fmt, TRAIN),
            f"files/second_part.{fmt}": encode(fmt, TEST),
        }
        return files, "main", {"train": expected(fmt, TRAIN), "test": expected(fmt, TEST)}
    files = {f"data/train.{fmt}": encode(fmt, TRAIN), f"data/test.{fmt}": encode(fmt, TEST)}
    return files, "default", {"train": expected(fmt, TRAIN), "test": expected(fmt, TEST)}
