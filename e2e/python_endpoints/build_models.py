"""Models for the endpoints suite, built here and pushed to Haven.

Runs with the training environment's python (torch, transformers; see
e2e/pyshared/tiny_models.py):

    python build_models.py NAMESPACE

with HF_ENDPOINT and HF_TOKEN set. It pushes

- ep-classifier: a tiny BERT sequence classifier (text-classification) in
  two commits on main (the second changes the card only), and a third commit
  on the branch "broken" whose weights are corrupt;
- ep-classifier-large: the same task with a BERT a few hundred times larger
  (slower on every request),

and prints one JSON object with the repositories and commits.
"""

import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pyshared"))
import tiny_models  # noqa: E402


def card(folder, note=""):
    with open(os.path.join(folder, "README.md"), "w", encoding="utf-8") as f:
        f.write("---\npipeline_tag: text-classification\n---\n# A classifier for Haven's endpoint tests\n" + note)


def build_classifier(folder, hidden=32, layers=2, heads=2):
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    tok = tiny_models.build_bert_tokenizer(folder)
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(tok), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                     intermediate_size=4 * hidden, max_position_embeddings=128, pad_token_id=tok.pad_token_id,
                     id2label={0: "negative", 1: "positive"}, label2id={"negative": 0, "positive": 1})
    BertForSequenceClassification(cfg).save_pretrained(folder)
    card(folder)


def main(argv):
    if len(argv) != 2:
        sys.exit("usage: build_models.py NAMESPACE  (with HF_ENDPOINT and HF_TOKEN set)")
    ns = argv[1]
    from huggingface_hub import CommitOperationAdd, HfApi

    api = HfApi()
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        f = os.path.join(tmp, "small")
        build_classifier(f)
        repo = out["classifier"] = f"{ns}/ep-classifier"
        out["first"] = tiny_models.push_folder(api, repo, f)
        card(f, "\nSecond version.\n")
        out["second"] = api.upload_file(path_or_fileobj=os.path.join(f, "README.md"), path_in_repo="README.md",
                                        repo_id=repo, commit_message="second version").oid
        api.create_branch(repo, branch="broken", revision=out["second"])
        out["broken"] = api.create_commit(repo, revision="broken", commit_message="corrupt weights", operations=[
            CommitOperationAdd(path_in_repo="model.safetensors", path_or_fileobj=b"\x00not safetensors\x00" * 64)]).oid

        f = os.path.join(tmp, "large")
        build_classifier(f, hidden=384, layers=6, heads=6)
        out["large"] = f"{ns}/ep-classifier-large"
        tiny_models.push_folder(api, out["large"], f)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    main(sys.argv)
