"""Loads a pushed fine-tune back from Haven and prints what it does, as JSON.

Run with the training environment's python (the test process has no torch):

    python check_model.py classify REPO TEXT...   -> {"labels": [...], "id2label": {...}}
    python check_model.py adapter REPO            -> {"base": ..., "generated": ..., "lora_modules": n}
"""

import json
import os
import sys

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def classify(repo, texts):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    model = AutoModelForSequenceClassification.from_pretrained(repo)
    tok = AutoTokenizer.from_pretrained(repo)
    clf = pipeline("text-classification", model=model, tokenizer=tok)
    return {"labels": [r["label"] for r in clf(texts)], "id2label": model.config.id2label}


def adapter(repo):
    import torch
    from peft import PeftConfig, PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cfg = PeftConfig.from_pretrained(repo)
    base = AutoModelForCausalLM.from_pretrained(cfg.base_model_name_or_path)
    model = PeftModel.from_pretrained(base, repo)
    tok = AutoTokenizer.from_pretrained(repo)
    ids = tok("what colour is the red cat ?", return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=4, do_sample=False)
    lora = sum(1 for name, _ in model.named_modules() if name.endswith("lora_A"))
    return {"base": cfg.base_model_name_or_path, "generated": tok.decode(out[0]), "lora_modules": lora}


if __name__ == "__main__":
    mode, repo, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
    result = classify(repo, rest) if mode == "classify" else adapter(repo)
    print("RESULT " + json.dumps(result), flush=True)
