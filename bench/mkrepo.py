#!/usr/bin/env python3
"""Fills a model repository with a realistic tree of about 50 files.

A sharded checkpoint as LFS files (small random bytes: the API benchmarks only
look at the tree) plus the usual configs, tokenizer files, a model card and
evaluation results, all in one commit. Standard library only.

    mkrepo.py URL TOKEN NAMESPACE/REPO
"""

import base64
import hashlib
import json
import sys
import urllib.request

SHARDS = 24


def request(method, url, token=None, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req) as resp:
        return resp.read()


def small_files():
    files = {
        "README.md": "---\nlicense: apache-2.0\nlanguage: [en]\nlibrary_name: transformers\n"
        "pipeline_tag: text-generation\ntags: [bench, llama]\n---\n\n# Bench model\n\n"
        + "A model card of ordinary length. " * 60 + "\n",
        "config.json": json.dumps({"architectures": ["LlamaForCausalLM"], "hidden_size": 4096,
                                   "num_hidden_layers": 32, "vocab_size": 32000}, indent=2),
        "generation_config.json": json.dumps({"do_sample": True, "temperature": 0.7}, indent=2),
        "tokenizer_config.json": json.dumps({"model_max_length": 4096, "padding_side": "left"}, indent=2),
        "special_tokens_map.json": json.dumps({"bos_token": "<s>", "eos_token": "</s>"}, indent=2),
        "tokenizer.json": json.dumps({"model": {"vocab": {"tok%d" % i: i for i in range(3000)}}}),
        "vocab.txt": "\n".join("tok%d" % i for i in range(2000)),
        "merges.txt": "\n".join("t%d o%d" % (i, i) for i in range(2000)),
        "LICENSE": "Apache License, Version 2.0\n" * 40,
        "USE_POLICY.md": "Use this model responsibly.\n" * 20,
        "model.safetensors.index.json": json.dumps({"weight_map": {
            "layer.%d" % i: "model-%05d-of-%05d.safetensors" % (i % SHARDS + 1, SHARDS) for i in range(400)}}),
        "training_args.json": json.dumps({"lr": 3e-4, "epochs": 3, "batch_size": 512}),
        "trainer_state.json": json.dumps({"log_history": [{"step": s, "loss": 2.0 - s / 1e4} for s in range(300)]}),
    }
    for i in range(12):
        files["eval_results_task%02d.json" % i] = json.dumps({"task": i, "accuracy": 0.5 + i / 100})
    return files


def main():
    url, token, repo_id = sys.argv[1], sys.argv[2], sys.argv[3]
    shards = []
    for i in range(SHARDS):
        data = b"".join(hashlib.sha256(b"%d-%d" % (i, j)).digest() for j in range(128))  # 4 KiB
        shards.append(("model-%05d-of-%05d.safetensors" % (i + 1, SHARDS), data, hashlib.sha256(data).hexdigest()))

    batch = {"operation": "upload", "transfers": ["basic"],
             "objects": [{"oid": oid, "size": len(data)} for _, data, oid in shards]}
    resp = json.loads(request("POST", "%s/%s.git/info/lfs/objects/batch" % (url, repo_id), token,
                              json.dumps(batch).encode(),
                              {"Content-Type": "application/vnd.git-lfs+json",
                               "Accept": "application/vnd.git-lfs+json"}))
    by_oid = {oid: data for _, data, oid in shards}
    for obj in resp["objects"]:
        up = (obj.get("actions") or {}).get("upload")
        if up:
            request("PUT", up["href"], None, by_oid[obj["oid"]], up.get("header") or {})

    lines = [{"key": "header", "value": {"summary": "Add checkpoint"}}]
    for path, content in small_files().items():
        lines.append({"key": "file", "value": {"path": path, "encoding": "base64",
                                                "content": base64.b64encode(content.encode()).decode()}})
    for path, data, oid in shards:
        lines.append({"key": "lfsFile", "value": {"path": path, "algo": "sha256", "oid": oid, "size": len(data)}})
    body = "\n".join(json.dumps(l) for l in lines).encode()
    request("POST", "%s/api/models/%s/commit/main" % (url, repo_id), token, body,
            {"Content-Type": "application/x-ndjson"})


if __name__ == "__main__":
    main()
