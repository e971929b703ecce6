"""Tiny ONNX encoders for the Go engine's tests, built here.

Runs with the training environment's python (torch, transformers,
sentence-transformers; see e2e/pyshared/tiny_models.py):

    python build_onnx.py FOLDER

It writes two model folders, each with a tokenizer.json and an ONNX graph
exported from the PyTorch model with torch.onnx:

- FOLDER/embedder: a sentence-transformers model (a two-layer BERT, mean
  pooling) with its graph at onnx/model.onnx, card pipeline_tag
  sentence-similarity;
- FOLDER/classifier: a BERT sequence classifier (negative/positive) with
  its graph at model.onnx, card pipeline_tag text-classification,

- FOLDER/nli: a BERT sequence classifier with NLI labels (contradiction,
  neutral, entailment), card pipeline_tag zero-shot-classification;
- FOLDER/tokens: a BERT token classifier (O, B-PER, I-PER, B-LOC, I-LOC),
  card pipeline_tag token-classification;
- FOLDER/ranker: a BERT cross-encoder (one logit), card pipeline_tag
  text-ranking,

and FOLDER/reference.json: for a few texts, the normalised embeddings
sentence-transformers computes, the classifier's softmax scores, what
transformers' zero-shot and token-classification pipelines answer and the
scores sentence-transformers' CrossEncoder gives, which the Go engine must
reproduce. The heads of the last three are scaled up so that their labels
are far apart (a random head gives near ties, which any rounding reorders).
"""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pyshared"))
import tiny_models  # noqa: E402
from build_models import build_classifier, write_card  # noqa: E402

TEXTS = ["the movie was really great", "this book is awful", "alice lives in paris",
         "a red cat and a blue dog", "the food was good but the service was so boring and rather poor"]


def export(model, folder, name, outputs, per_token=()):
    """Exports a BERT to ONNX with dynamic batch and sequence axes, as Optimum does."""
    import torch
    from torch.onnx._internal.torchscript_exporter import onnx_proto_utils

    # The TorchScript exporter imports the onnx package only to splice in
    # onnxscript functions, which these graphs have none of; the ML stack
    # does not carry onnx, so that step is skipped.
    onnx_proto_utils._add_onnxscript_fn = lambda proto, opsets: proto
    model.eval()
    ids = torch.tensor([[2, 10, 11, 3]], dtype=torch.long)
    args = (ids, torch.ones_like(ids), torch.zeros_like(ids))
    dyn = {n: {0: "batch", 1: "sequence"} for n in ("input_ids", "attention_mask", "token_type_ids")}
    for o in outputs:
        dyn[o] = {0: "batch", 1: "sequence"} if o == "last_hidden_state" or o in per_token else {0: "batch"}
    path = os.path.join(folder, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.onnx.export(model, args, path, input_names=["input_ids", "attention_mask", "token_type_ids"],
                      output_names=outputs, dynamic_axes=dyn, opset_version=14, dynamo=False)


def additive_mask(attention_mask):
    """The [batch, 1, 1, seq] additive mask BERT applies, made here so that the
    graph has the plain ops of classic exports rather than transformers' mask
    functions."""
    import torch

    return (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min


def main(argv):
    if len(argv) != 2:
        sys.exit("usage: build_onnx.py FOLDER")
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

    root = argv[1]
    ref = {"texts": TEXTS}

    bert = os.path.join(root, "bert")
    tiny_models.build_bert(bert)
    emb = os.path.join(root, "embedder")
    tiny_models.build_sentence_transformer(bert, emb)
    write_card(emb, "sentence-similarity", ["sentence-transformers"])

    class LastHidden(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.m(input_ids=input_ids, attention_mask=additive_mask(attention_mask),
                          token_type_ids=token_type_ids).last_hidden_state

    export(LastHidden(AutoModel.from_pretrained(emb, attn_implementation="eager")), emb, "onnx/model.onnx", ["last_hidden_state"])
    st = SentenceTransformer(emb, device="cpu")
    ref["embeddings"] = st.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True).tolist()
    ref["max_seq_length"] = st.max_seq_length

    cls = os.path.join(root, "classifier")
    build_classifier(cls)

    class Logits(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.m(input_ids=input_ids, attention_mask=additive_mask(attention_mask),
                          token_type_ids=token_type_ids).logits

    model = AutoModelForSequenceClassification.from_pretrained(cls, attn_implementation="eager")
    export(Logits(model), cls, "model.onnx", ["logits"])
    tok = AutoTokenizer.from_pretrained(cls)
    with torch.inference_mode():
        logits = model(**tok(TEXTS, padding=True, return_tensors="pt")).logits
    ref["scores"] = torch.softmax(logits, dim=-1).tolist()
    ref["labels"] = [model.config.id2label[i] for i in range(model.config.num_labels)]
    build_tasks(root, ref, Logits)
    with open(os.path.join(root, "reference.json"), "w") as f:
        json.dump(ref, f)


ZS_TEXT = "alice flew to paris yesterday"
ZS_LABELS = ["paris", "london", "cat", "movie"]
TOKEN_TEXTS = ["alice lives in paris", "bob flew to london yesterday", "zzyzx met carol in rome", "carol and zzyzx qqq flew to oslo"]
RANK_QUERY = "where does alice live"
RANK_TEXTS = ["alice lives in paris", "the movie was great", "bob flew to london", "a red cat"]


def as_json(v):
    """Numpy scalars and arrays made plain."""
    if isinstance(v, dict):
        return {k: as_json(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [as_json(x) for x in v]
    if hasattr(v, "item"):
        return v.item()
    return v


def scaled_head(model, factor=40.0):
    import torch

    with torch.no_grad():
        model.classifier.weight.mul_(factor)
    return model


def build_tasks(root, ref, Logits):
    """The zero-shot, token-classification and text-ranking models and their references."""
    import torch
    from sentence_transformers import CrossEncoder
    from transformers import (AutoTokenizer, BertConfig, BertForSequenceClassification,
                              BertForTokenClassification, pipeline)

    def config(tok, labels):
        return BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                          intermediate_size=64, max_position_embeddings=128, pad_token_id=tok.pad_token_id,
                          id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)})

    # zero-shot: an NLI classifier
    nli = os.path.join(root, "nli")
    tok = tiny_models.build_bert_tokenizer(nli)
    torch.manual_seed(1)
    model = scaled_head(BertForSequenceClassification(config(tok, ["contradiction", "neutral", "entailment"])))
    model.save_pretrained(nli)
    write_card(nli, "zero-shot-classification")
    model = BertForSequenceClassification.from_pretrained(nli, attn_implementation="eager").eval()
    export(Logits(model), nli, "model.onnx", ["logits"])
    zs = pipeline("zero-shot-classification", model=model, tokenizer=AutoTokenizer.from_pretrained(nli), device="cpu")
    ref["zero_shot"] = []
    for multi in (False, True):
        out = zs(ZS_TEXT, candidate_labels=ZS_LABELS, multi_label=multi)
        ref["zero_shot"].append({"text": ZS_TEXT, "candidate_labels": ZS_LABELS, "multi_label": multi,
                                 "labels": out["labels"], "scores": as_json(out["scores"])})
    one = zs(ZS_TEXT, candidate_labels=ZS_LABELS[:1])
    ref["zero_shot"].append({"text": ZS_TEXT, "candidate_labels": ZS_LABELS[:1], "multi_label": False,
                             "labels": one["labels"], "scores": as_json(one["scores"])})

    # token classification
    tokf = os.path.join(root, "tokens")
    tok = tiny_models.build_bert_tokenizer(tokf)
    torch.manual_seed(2)
    model = scaled_head(BertForTokenClassification(config(tok, ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"])))
    model.save_pretrained(tokf)
    write_card(tokf, "token-classification")
    model = BertForTokenClassification.from_pretrained(tokf, attn_implementation="eager").eval()
    export(Logits(model), tokf, "model.onnx", ["logits"], per_token=("logits",))
    tc = pipeline("token-classification", model=model, tokenizer=AutoTokenizer.from_pretrained(tokf), device="cpu")
    ref["tokens"] = {"texts": TOKEN_TEXTS}
    for strategy in ("simple", "none", "first", "average", "max"):
        ref["tokens"][strategy] = [as_json(tc(t, aggregation_strategy=strategy)) for t in TOKEN_TEXTS]

    # text ranking: a cross-encoder
    rank = os.path.join(root, "ranker")
    tok = tiny_models.build_bert_tokenizer(rank)
    torch.manual_seed(3)
    model = scaled_head(BertForSequenceClassification(config(tok, ["LABEL_0"])), 10.0)
    model.save_pretrained(rank)
    write_card(rank, "text-ranking")
    model = BertForSequenceClassification.from_pretrained(rank, attn_implementation="eager").eval()
    export(Logits(model), rank, "model.onnx", ["logits"])
    ce = CrossEncoder(rank, device="cpu")
    ref["rerank"] = {"query": RANK_QUERY, "texts": RANK_TEXTS,
                     "scores": as_json(ce.predict([(RANK_QUERY, t) for t in RANK_TEXTS]).tolist())}


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    main(sys.argv)
