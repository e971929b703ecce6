"""Builds the engine suite's model folders (run with the ML stack's python).

    python build_models.py OUT

Writes OUT/bert (a plain BertModel: mean-pooled feature extraction),
OUT/classifier (BertForSequenceClassification, labels negative/positive),
OUT/ner (BertForTokenClassification, BIO tags), OUT/qa (BertForQuestionAnswering),
OUT/llama (a tiny Llama with a chat template), OUT/noweights (config and
tokenizer only). All randomly initialised from e2e/pyshared/tiny_models.py.
"""

import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pyshared"))
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import tiny_models  # noqa: E402


def main(out):
    import torch
    from transformers import (AutoTokenizer, BertConfig, BertForQuestionAnswering, BertForSequenceClassification,
                              BertForTokenClassification)

    bert = os.path.join(out, "bert")
    tiny_models.build_bert(bert)
    cls = os.path.join(out, "classifier")
    tok = AutoTokenizer.from_pretrained(bert)
    base = BertConfig.from_pretrained(bert)
    cfg = BertConfig(**{**base.to_dict(), "num_labels": 2, "id2label": {0: "negative", 1: "positive"},
                        "label2id": {"negative": 0, "positive": 1}, "architectures": None})
    torch.manual_seed(1)
    BertForSequenceClassification(cfg).save_pretrained(cls)
    tok.save_pretrained(cls)
    tags = {i: t for i, t in enumerate(["O", "B-PER", "I-PER", "B-LOC", "I-LOC"])}
    cfg = BertConfig(**{**base.to_dict(), "num_labels": len(tags), "id2label": tags,
                        "label2id": {t: i for i, t in tags.items()}, "architectures": None})
    torch.manual_seed(2)
    BertForTokenClassification(cfg).save_pretrained(os.path.join(out, "ner"))
    tok.save_pretrained(os.path.join(out, "ner"))
    torch.manual_seed(3)
    BertForQuestionAnswering(BertConfig(**{**base.to_dict(), "architectures": None})).save_pretrained(
        os.path.join(out, "qa"))
    tok.save_pretrained(os.path.join(out, "qa"))
    tiny_models.build_causal(os.path.join(out, "llama"))
    nw = os.path.join(out, "noweights")
    os.makedirs(nw, exist_ok=True)
    for f in os.listdir(cls):
        if not f.endswith((".safetensors", ".bin")):
            shutil.copy(os.path.join(cls, f), nw)


if __name__ == "__main__":
    main(sys.argv[1])
