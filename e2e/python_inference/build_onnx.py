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

and FOLDER/reference.json: for a few texts, the normalised embeddings
sentence-transformers computes and the classifier's softmax scores, which the
Go engine must reproduce.
"""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pyshared"))
import tiny_models  # noqa: E402
from build_models import build_classifier, write_card  # noqa: E402

TEXTS = ["the movie was really great", "this book is awful", "alice lives in paris",
         "a red cat and a blue dog", "the food was good but the service was so boring and rather poor"]


def export(model, folder, name, outputs):
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
        dyn[o] = {0: "batch", 1: "sequence"} if o == "last_hidden_state" else {0: "batch"}
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
    with open(os.path.join(root, "reference.json"), "w") as f:
        json.dump(ref, f)


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    main(sys.argv)
