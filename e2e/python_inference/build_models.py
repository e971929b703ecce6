"""Models for the inference suite, built here and pushed to Haven.

Runs with the training environment's python (torch, transformers; see
e2e/pyshared/tiny_models.py):

    python build_models.py NAMESPACE MINILM_FOLDER

with HF_ENDPOINT and HF_TOKEN set. It pushes

- minilm: all-MiniLM-L6-v2 (a real sentence-transformers model, 384
  dimensions) from MINILM_FOLDER, as feature-extraction;
- classifier: a tiny BERT sequence classifier (negative/positive), and a
  private copy of it;
- llama: a tiny two-layer Llama with a chat template, as text-generation;
- noweights: a card and a config.json only,

and prints one JSON object mapping each role to its repository id.
"""

import json
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pyshared"))
import tiny_models  # noqa: E402


def write_card(folder, task, tags=()):
    """Replaces the card's front matter with one naming the task."""
    path = os.path.join(folder, "README.md")
    body = ""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            body = re.sub(r"\A---\n.*?\n---\n", "", f.read(), flags=re.S)
    front = f"---\npipeline_tag: {task}\n"
    if tags:
        front += "tags:\n" + "".join(f"- {t}\n" for t in tags)
    with open(path, "w", encoding="utf-8") as f:
        f.write(front + "---\n" + (body or f"# A {task} model for Haven's tests\n"))


def build_classifier(folder):
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    tok = tiny_models.build_bert_tokenizer(folder)
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=128, pad_token_id=tok.pad_token_id,
                     id2label={0: "negative", 1: "positive"}, label2id={"negative": 0, "positive": 1})
    BertForSequenceClassification(cfg).save_pretrained(folder)
    write_card(folder, "text-classification")


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: build_models.py NAMESPACE MINILM_FOLDER  (with HF_ENDPOINT and HF_TOKEN set)")
    ns, minilm = argv[1], argv[2]
    from huggingface_hub import HfApi

    api = HfApi()
    repos = {}
    with tempfile.TemporaryDirectory() as tmp:
        f = os.path.join(tmp, "minilm")
        shutil.copytree(minilm, f, ignore=shutil.ignore_patterns(".gitattributes"))
        write_card(f, "feature-extraction", ["sentence-transformers"])
        repos["minilm"] = f"{ns}/inf-minilm"
        tiny_models.push_folder(api, repos["minilm"], f)

        f = os.path.join(tmp, "classifier")
        build_classifier(f)
        repos["classifier"] = f"{ns}/inf-classifier"
        tiny_models.push_folder(api, repos["classifier"], f)
        repos["private"] = f"{ns}/inf-private"
        api.create_repo(repos["private"], private=True)
        tiny_models.push_folder(api, repos["private"], f)

        f = os.path.join(tmp, "llama")
        tiny_models.build_causal(f)
        write_card(f, "text-generation", ["conversational"])
        repos["llama"] = f"{ns}/inf-llama"
        tiny_models.push_folder(api, repos["llama"], f)

        f = os.path.join(tmp, "noweights")
        os.makedirs(f)
        with open(os.path.join(f, "config.json"), "w") as out:
            json.dump({"model_type": "bert"}, out)
        write_card(f, "feature-extraction")
        repos["noweights"] = f"{ns}/inf-noweights"
        tiny_models.push_folder(api, repos["noweights"], f)
    print(json.dumps(repos), flush=True)


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    main(sys.argv)
