"""Haven's no-code fine-tuning: train a model from a dataset repo and push it to a model repo.

    python train.py CONFIG.json

The config format and the lines this prints are described in README.md next to
this file; the Go side parses those lines, so their shape is a contract.
Models and datasets are read from, and the result pushed to, the hub that
HF_ENDPOINT names, with HF_TOKEN.
"""

import json
import math
import os
import sys
import tempfile
import time

# No progress bars in a line log: set before the libraries are imported.
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "warning")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

TASKS = {
    # task: (required column sets (one of), optional columns, default learning rate)
    "text-classification": ([("text", "label")], (), 5e-5),
    "token-classification": ([("tokens", "tags")], (), 5e-5),
    "causal-lm-lora": ([("text",), ("prompt", "completion"), ("messages",)], (), 2e-4),
    "sentence-embedding": ([("anchor", "positive"), ("sentence1", "sentence2", "score")], ("negative",), 2e-5),
}

CARD_TASK = {
    # task: (pipeline_tag, library_name, model-index task type)
    "text-classification": ("text-classification", "transformers", "text-classification"),
    "token-classification": ("token-classification", "transformers", "token-classification"),
    "causal-lm-lora": ("text-generation", "peft", "text-generation"),
    "sentence-embedding": ("sentence-similarity", "sentence-transformers", "sentence-similarity"),
}

HYPERPARAMETERS = {
    "epochs": 3,
    "learning_rate": None,  # the task's default
    "batch_size": 8,
    "max_length": 128,
    "seed": 42,
    "warmup_ratio": 0.0,
    "weight_decay": 0.0,
    "lora_r": 8,
    "lora_alpha": 16,
    "lora_dropout": 0.05,
    "eval_steps": None,  # None: evaluate (and checkpoint) once per epoch
    "max_steps": None,
}

CONFIG_KEYS = {"task", "base_model", "base_revision", "dataset", "dataset_config", "train_split", "eval_split",
               "eval_fraction", "columns", "hyperparameters", "output_repo", "private", "checkpoint_dir"}


class ConfigError(Exception):
    """A problem with the config or the data it names: reported in one line, exit status 2."""


def emit(kind, **fields):
    """One log line: `kind key=value key=value`, flushed."""
    parts = [kind] + [f"{k}={v}" for k, v in fields.items() if v is not None]
    print(" ".join(parts), flush=True)


def fmt(v):
    """Metric values: four decimals, or three significant digits when tiny or huge."""
    if isinstance(v, float):
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e6):
            return f"{v:.3e}"
        return f"{v:.4f}"
    return str(v)


# ----------------------------------------------------------------------------
# Config


def load_config(path):
    try:
        with open(path) as f:
            cfg = json.load(f)
    except OSError as e:
        raise ConfigError(f"cannot read config {path}: {e.strerror}")
    except json.JSONDecodeError as e:
        raise ConfigError(f"config {path} is not valid JSON: {e}")
    if not isinstance(cfg, dict):
        raise ConfigError("config must be a JSON object")
    unknown = sorted(set(cfg) - CONFIG_KEYS)
    if unknown:
        raise ConfigError(f"unknown config key {unknown[0]!r}")

    task = cfg.get("task")
    if task not in TASKS:
        raise ConfigError(f"task must be one of {', '.join(TASKS)}; got {task!r}")
    for key in ("base_model", "dataset", "output_repo"):
        v = cfg.get(key)
        if not isinstance(v, str) or v.count("/") != 1 or not all(v.split("/")):
            raise ConfigError(f"{key} must be a repository id 'namespace/name'; got {v!r}")
    cfg.setdefault("base_revision", "main")
    cfg["base_revision"] = cfg["base_revision"] or "main"
    cfg.setdefault("dataset_config", None)
    cfg["train_split"] = cfg.get("train_split") or "train"
    cfg.setdefault("eval_split", None)
    frac = cfg.get("eval_fraction")
    frac = 0.1 if frac is None else frac
    if not isinstance(frac, (int, float)) or not 0 < frac < 1:
        raise ConfigError(f"eval_fraction must be a number between 0 and 1; got {frac!r}")
    cfg["eval_fraction"] = float(frac)
    cfg["private"] = bool(cfg.get("private", False))
    cfg.setdefault("checkpoint_dir", None)

    cols = cfg.get("columns")
    if not isinstance(cols, dict) or not all(isinstance(v, str) and v for v in cols.values()):
        raise ConfigError("columns must be an object mapping roles to dataset column names")
    required, optional, default_lr = TASKS[task]
    roles = set(cols)
    match = [r for r in required if set(r) <= roles and roles <= set(r) | set(optional)]
    if not match:
        forms = " or ".join("{" + ", ".join(r) + "}" for r in required)
        raise ConfigError(f"columns for {task} must be {forms}" +
                          (f" (optionally with {', '.join(optional)})" if optional else "") +
                          f"; got {{{', '.join(sorted(roles))}}}")
    if "negative" in cols and "anchor" not in cols:
        raise ConfigError("the negative column goes with {anchor, positive}")

    hp = dict(HYPERPARAMETERS)
    given = cfg.get("hyperparameters") or {}
    if not isinstance(given, dict):
        raise ConfigError("hyperparameters must be an object")
    unknown = sorted(set(given) - set(HYPERPARAMETERS))
    if unknown:
        raise ConfigError(f"unknown hyperparameter {unknown[0]!r}")
    hp.update({k: v for k, v in given.items() if v is not None})
    if hp["learning_rate"] is None:
        hp["learning_rate"] = default_lr

    def check(name, ok, what):
        v = hp[name]
        if v is None:
            return
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not ok(v):
            raise ConfigError(f"hyperparameter {name} must be {what}; got {v!r}")

    check("epochs", lambda v: v > 0, "a positive number")
    check("learning_rate", lambda v: v > 0, "a positive number")
    for name in ("batch_size", "max_length", "lora_r", "eval_steps", "max_steps"):
        check(name, lambda v: v == int(v) and v > 0, "a positive integer")
    check("seed", lambda v: v == int(v) and v >= 0, "a non-negative integer")
    check("warmup_ratio", lambda v: 0 <= v < 1, "a number in [0, 1)")
    check("weight_decay", lambda v: v >= 0, "a non-negative number")
    check("lora_alpha", lambda v: v > 0, "a positive number")
    check("lora_dropout", lambda v: 0 <= v < 1, "a number in [0, 1)")
    for name in ("batch_size", "max_length", "lora_r", "eval_steps", "max_steps", "seed"):
        if hp[name] is not None:
            hp[name] = int(hp[name])
    cfg["hyperparameters"] = hp
    return cfg


# ----------------------------------------------------------------------------
# Data


def load_splits(cfg):
    """The train and eval splits, with the configured columns checked."""
    import datasets

    datasets.disable_progress_bars()
    try:
        dd = datasets.load_dataset(cfg["dataset"], cfg["dataset_config"])
    except datasets.exceptions.DatasetNotFoundError as e:
        raise ConfigError(f"dataset {cfg['dataset']} not found or not readable: {e}")
    except ValueError as e:
        if "config" in str(e).lower():
            raise ConfigError(f"dataset {cfg['dataset']}: {str(e).splitlines()[0]}")
        raise
    if not isinstance(dd, datasets.DatasetDict):
        raise ConfigError(f"dataset {cfg['dataset']} did not load as a set of splits")
    splits = sorted(dd)
    if cfg["train_split"] not in dd:
        raise ConfigError(f"dataset has no split {cfg['train_split']!r} (it has: {', '.join(splits)})")
    train = dd[cfg["train_split"]]
    for role, col in cfg["columns"].items():
        if col not in train.column_names:
            raise ConfigError(f"unknown column {col!r} for {role} (dataset has: {', '.join(train.column_names)})")
    if cfg["eval_split"]:
        if cfg["eval_split"] not in dd:
            raise ConfigError(f"dataset has no split {cfg['eval_split']!r} (it has: {', '.join(splits)})")
        evals = dd[cfg["eval_split"]]
        for role, col in cfg["columns"].items():
            if col not in evals.column_names:
                raise ConfigError(f"unknown column {col!r} for {role} in split {cfg['eval_split']!r}")
    else:
        evals = None
    keep = list(dict.fromkeys(cfg["columns"].values()))
    train = train.select_columns(keep)
    if evals is not None:
        evals = evals.select_columns(keep)
    return train, evals


def hold_out(train, cfg, stratify=None):
    """Splits eval_fraction of train off as the eval set, with the seed."""
    if len(train) < 2:
        raise ConfigError(f"the train split has {len(train)} rows: too few to hold out an eval set")
    seed = cfg["hyperparameters"]["seed"]
    frac = cfg["eval_fraction"]
    if stratify:
        try:
            s = train.train_test_split(test_size=frac, seed=seed, stratify_by_column=stratify)
            return s["train"], s["test"]
        except ValueError:
            pass  # a class too small to stratify: split plainly
    s = train.train_test_split(test_size=frac, seed=seed)
    return s["train"], s["test"]


def label_names(feature, values, column):
    """The label names: the ClassLabel's names, else the sorted distinct values."""
    from datasets import ClassLabel, Value

    if isinstance(feature, ClassLabel):
        return list(feature.names), None
    ok = isinstance(feature, Value) and (feature.dtype in ("string", "large_string", "bool")
                                         or feature.dtype.startswith(("int", "uint")))
    if not ok:
        raise ConfigError(f"label column {column!r} is not categorical ({feature_kind(feature)}): "
                          "use a ClassLabel, string, integer or boolean column")
    distinct = sorted({v for v in values if v is not None})
    if not distinct:
        raise ConfigError(f"label column {column!r} has no values")
    return [str(v) for v in distinct], {v: i for i, v in enumerate(distinct)}


def feature_kind(feature):
    dtype = getattr(feature, "dtype", None)
    return dtype if isinstance(dtype, str) else type(feature).__name__


# ----------------------------------------------------------------------------
# Logging callback


EVAL_KEYS = {
    "text-classification": ("eval_loss", "eval_accuracy", "eval_f1"),
    "token-classification": ("eval_loss", "eval_accuracy", "eval_f1"),
    "causal-lm-lora": ("eval_loss", "eval_perplexity"),
    "sentence-embedding": ("eval_loss",),
}


def make_callback(task, batch_size, st_metric=None):
    """The TrainerCallback that prints progress, eval and checkpoint lines."""
    from transformers import TrainerCallback

    class LineLog(TrainerCallback):
        def __init__(self):
            self.t0 = None
            self.step0 = 0
            self.last_eval = None  # (step, metrics)

        def on_train_begin(self, args, state, control, **kw):
            self.t0 = time.time()
            self.step0 = state.global_step

        def eval_metrics(self, logs):
            out = {}
            for key in EVAL_KEYS[task]:
                if key in logs:
                    out[key] = float(logs[key])
            if task == "causal-lm-lora" and "eval_loss" in logs:
                out["eval_perplexity"] = math.exp(min(float(logs["eval_loss"]), 700.0))
            if st_metric:
                source, name = st_metric
                for key, v in logs.items():
                    if key.startswith("eval_") and key.endswith(source):
                        out[name] = float(v)
                        break
            return out

        def on_log(self, args, state, control, logs=None, **kw):
            logs = logs or {}
            epoch = f"{state.epoch:.2f}" if state.epoch is not None else None
            if any(k.startswith("eval_") for k in logs):
                metrics = self.eval_metrics(logs)
                self.last_eval = (state.global_step, metrics)
                emit("eval", step=state.global_step, epoch=epoch, **{k: fmt(v) for k, v in metrics.items()})
            elif "loss" in logs and self.t0 is not None:
                step, total = state.global_step, state.max_steps
                elapsed = max(time.time() - self.t0, 1e-9)
                done = max(step - self.step0, 0)
                sps = done * batch_size * args.gradient_accumulation_steps * max(args.world_size, 1) / elapsed
                eta = (total - step) * elapsed / done if done else None
                lr = logs.get("learning_rate")
                emit("progress", step=f"{step}/{total}", epoch=epoch, loss=f"{float(logs['loss']):.4f}",
                     learning_rate=f"{float(lr):.3g}" if lr is not None else None,
                     samples_per_second=f"{sps:.1f}", eta=f"{round(eta)}s" if eta is not None else None)

        def on_step_end(self, args, state, control, **kw):
            if state.global_step >= state.max_steps:
                control.should_log = True  # the last step always gets its progress line

        def on_save(self, args, state, control, **kw):
            emit("checkpoint", step=state.global_step, path=f"checkpoint-{state.global_step}")

    return LineLog()


def training_args(cls, cfg, out_dir, n_train, **extra):
    """The TrainingArguments (or a subclass) shared by every task."""
    import torch

    hp = cfg["hyperparameters"]
    per_epoch = max(1, math.ceil(n_train / hp["batch_size"]))
    total = hp["max_steps"] or math.ceil(per_epoch * hp["epochs"])
    if hp["eval_steps"]:
        when = dict(eval_strategy="steps", eval_steps=hp["eval_steps"], save_strategy="steps",
                    save_steps=hp["eval_steps"])
    else:
        when = dict(eval_strategy="epoch", save_strategy="epoch")
    cuda = torch.cuda.is_available()
    args = dict(
        output_dir=out_dir,
        num_train_epochs=hp["epochs"],
        max_steps=hp["max_steps"] or -1,
        learning_rate=hp["learning_rate"],
        per_device_train_batch_size=hp["batch_size"],
        per_device_eval_batch_size=hp["batch_size"],
        weight_decay=hp["weight_decay"],
        warmup_steps=hp["warmup_ratio"] if hp["warmup_ratio"] else 0,
        seed=hp["seed"],
        data_seed=hp["seed"],
        logging_strategy="steps",
        logging_steps=max(1, total // 50),
        save_total_limit=2,
        report_to="none",
        disable_tqdm=True,
        use_cpu=not cuda,
        bf16=cuda and torch.cuda.is_bf16_supported(),
        dataloader_num_workers=0,
        **when,
    )
    args.update(extra)
    return cls(**args)


def last_checkpoint(folder):
    """The newest checkpoint-N folder in folder with a trainer state, or None."""
    if not folder or not os.path.isdir(folder):
        return None
    best = None
    for name in os.listdir(folder):
        if name.startswith("checkpoint-") and name[len("checkpoint-"):].isdigit():
            path = os.path.join(folder, name)
            if os.path.isfile(os.path.join(path, "trainer_state.json")):
                step = int(name[len("checkpoint-"):])
                if best is None or step > best[0]:
                    best = (step, path)
    return best


def train_and_evaluate(trainer, callback, cfg, work):
    """Trains (resuming from checkpoint_dir when it holds a checkpoint) and returns the final eval metrics."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    # The line log replaces the Trainer's own printing of log dicts and progress bars.
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    resume = last_checkpoint(cfg["checkpoint_dir"])
    if resume:
        emit("resume", checkpoint=os.path.basename(resume[1]), step=resume[0])
    emit("stage", name="training")
    trainer.train(resume_from_checkpoint=resume[1] if resume else None)
    emit("stage", name="evaluating")
    if callback.last_eval and callback.last_eval[0] == trainer.state.global_step:
        return callback.last_eval[1]  # training ended with an evaluation: that one is final
    trainer.evaluate()
    return callback.last_eval[1] if callback.last_eval else {}


# ----------------------------------------------------------------------------
# Tasks: each returns (folder to push, final metrics, extra card facts)


def set_seed(cfg):
    from transformers import set_seed as _set_seed

    _set_seed(cfg["hyperparameters"]["seed"])


def load_tokenizer(cfg):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(cfg["base_model"], revision=cfg["base_revision"])


def f1_macro(preds, labels, n):
    import numpy as np

    f1s = []
    for c in range(n):
        tp = int(np.sum((preds == c) & (labels == c)))
        fp = int(np.sum((preds == c) & (labels != c)))
        fn = int(np.sum((preds != c) & (labels == c)))
        if tp + fp + fn:
            f1s.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(f1s)) if f1s else 0.0


def run_text_classification(cfg, work):
    import numpy as np
    from datasets import ClassLabel
    from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding, Trainer, TrainingArguments

    hp, cols = cfg["hyperparameters"], cfg["columns"]
    train, evals = load_splits(cfg)
    text, label = cols["text"], cols["label"]
    for split in (train, evals):
        if split is not None and feature_kind(split.features[text]) not in ("string", "large_string"):
            raise ConfigError(f"text column {text!r} is not a string column ({feature_kind(split.features[text])})")
    values = list(train[label]) + (list(evals[label]) if evals is not None else [])
    names, mapping = label_names(train.features[label], values, label)
    if len(names) < 2:
        raise ConfigError(f"label column {label!r} has only one class ({names[0]})")
    target = ClassLabel(names=names)

    def to_ids(split):
        if mapping is not None:
            split = split.map(lambda b: {label: [mapping[v] for v in b[label]]}, batched=True)
        return split.cast_column(label, target)

    train = to_ids(train)
    if evals is None:
        train, evals = hold_out(train, cfg, stratify=label)
    else:
        evals = to_ids(evals)

    tok = load_tokenizer(cfg)

    def encode(b):
        enc = tok(b[text], truncation=True, max_length=hp["max_length"])
        enc["labels"] = b[label]
        return enc

    train = train.map(encode, batched=True, remove_columns=train.column_names)
    evals = evals.map(encode, batched=True, remove_columns=evals.column_names)
    set_seed(cfg)
    model = AutoModelForSequenceClassification.from_pretrained(
        cfg["base_model"], revision=cfg["base_revision"], num_labels=len(names),
        id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)}, ignore_mismatched_sizes=True)
    if model.config.pad_token_id is None and tok.pad_token_id is not None:
        model.config.pad_token_id = tok.pad_token_id

    def metrics(p):
        preds = np.argmax(p.predictions, axis=-1)
        return {"accuracy": float(np.mean(preds == p.label_ids)), "f1": f1_macro(preds, p.label_ids, len(names))}

    cb = make_callback(cfg["task"], hp["batch_size"])
    trainer = Trainer(model=model, args=training_args(TrainingArguments, cfg, cfg["_out"], len(train)),
                      train_dataset=train, eval_dataset=evals, processing_class=tok,
                      data_collator=DataCollatorWithPadding(tok), compute_metrics=metrics, callbacks=[cb])
    final = train_and_evaluate(trainer, cb, cfg, work)
    out = os.path.join(work, "model")
    trainer.model.save_pretrained(out)
    tok.save_pretrained(out)
    return out, final, {"labels": names, "train_rows": len(train), "eval_rows": len(evals)}


def run_token_classification(cfg, work):
    import numpy as np
    from datasets import ClassLabel
    from transformers import (AutoModelForTokenClassification, DataCollatorForTokenClassification, Trainer,
                              TrainingArguments)

    hp, cols = cfg["hyperparameters"], cfg["columns"]
    train, evals = load_splits(cfg)
    tokens_col, tags_col = cols["tokens"], cols["tags"]
    for split in (train, evals):
        if split is None:
            continue
        f = split.features[tokens_col]
        inner = getattr(f, "feature", None)
        if inner is None or feature_kind(inner) not in ("string", "large_string"):
            raise ConfigError(f"tokens column {tokens_col!r} must hold lists of strings ({feature_kind(f)})")
        if getattr(split.features[tags_col], "feature", None) is None:
            raise ConfigError(f"tags column {tags_col!r} must hold lists of tags "
                              f"({feature_kind(split.features[tags_col])})")
    inner = train.features[tags_col].feature
    values = [v for row in train[tags_col] for v in row]
    if evals is not None:
        values += [v for row in evals[tags_col] for v in row]
    names, mapping = label_names(inner, values, tags_col)
    if not isinstance(inner, ClassLabel) and evals is not None and evals.features[tags_col].feature != inner:
        raise ConfigError(f"tags column {tags_col!r} has different types in the train and eval splits")

    tok = load_tokenizer(cfg)
    if not getattr(tok, "is_fast", False):
        raise ConfigError("token classification needs a fast tokenizer (tokenizer.json) to align words and tags")

    def encode(b):
        enc = tok(b[tokens_col], is_split_into_words=True, truncation=True, max_length=hp["max_length"])
        labels = []
        for i, tags in enumerate(b[tags_col]):
            ids = [mapping[t] for t in tags] if mapping is not None else tags
            if len(ids) != len(b[tokens_col][i]):
                raise ConfigError(f"row with {len(b[tokens_col][i])} tokens has {len(ids)} tags")
            prev, row = None, []
            for w in enc.word_ids(i):
                row.append(-100 if w is None or w == prev else ids[w])
                prev = w
            labels.append(row)
        enc["labels"] = labels
        return enc

    if evals is None:
        train, evals = hold_out(train, cfg)
    train = train.map(encode, batched=True, remove_columns=train.column_names)
    evals = evals.map(encode, batched=True, remove_columns=evals.column_names)
    set_seed(cfg)
    model = AutoModelForTokenClassification.from_pretrained(
        cfg["base_model"], revision=cfg["base_revision"], num_labels=len(names),
        id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)}, ignore_mismatched_sizes=True)

    def metrics(p):
        preds = np.argmax(p.predictions, axis=-1)
        mask = p.label_ids != -100
        pr, gold = preds[mask], p.label_ids[mask]
        return {"accuracy": float(np.mean(pr == gold)) if gold.size else 0.0, "f1": f1_macro(pr, gold, len(names))}

    cb = make_callback(cfg["task"], hp["batch_size"])
    trainer = Trainer(model=model, args=training_args(TrainingArguments, cfg, cfg["_out"], len(train)),
                      train_dataset=train, eval_dataset=evals, processing_class=tok,
                      data_collator=DataCollatorForTokenClassification(tok), compute_metrics=metrics, callbacks=[cb])
    final = train_and_evaluate(trainer, cb, cfg, work)
    out = os.path.join(work, "model")
    trainer.model.save_pretrained(out)
    tok.save_pretrained(out)
    return out, final, {"labels": names, "train_rows": len(train), "eval_rows": len(evals)}


def run_causal_lm_lora(cfg, work):
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    hp, cols = cfg["hyperparameters"], cfg["columns"]
    train, evals = load_splits(cfg)
    rename = {col: role for role, col in cols.items()}
    for split in (train, evals):
        if split is None:
            continue
        for role, col in cols.items():
            kind = feature_kind(split.features[col])
            if role != "messages" and kind not in ("string", "large_string"):
                raise ConfigError(f"{role} column {col!r} is not a string column ({kind})")
            if role == "messages" and getattr(split.features[col], "feature", None) is None:
                raise ConfigError(f"messages column {col!r} must hold lists of {{role, content}} messages")
    train = train.rename_columns({c: r for c, r in rename.items() if c != r})
    if evals is None:
        train, evals = hold_out(train, cfg)
    else:
        evals = evals.rename_columns({c: r for c, r in rename.items() if c != r})

    tok = load_tokenizer(cfg)
    if "messages" in cols and not tok.chat_template:
        raise ConfigError("the base model's tokenizer has no chat template: use {text} or {prompt, completion} columns")
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    cuda = torch.cuda.is_available()
    set_seed(cfg)
    model = AutoModelForCausalLM.from_pretrained(
        cfg["base_model"], revision=cfg["base_revision"],
        dtype=torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float32)
    lora = LoraConfig(r=hp["lora_r"], lora_alpha=hp["lora_alpha"], lora_dropout=hp["lora_dropout"],
                      target_modules="all-linear", task_type="CAUSAL_LM",
                      revision=None if cfg["base_revision"] == "main" else cfg["base_revision"])
    cb = make_callback(cfg["task"], hp["batch_size"])
    args = training_args(SFTConfig, cfg, cfg["_out"], len(train), max_length=hp["max_length"],
                         activation_checkpointing=cuda, dataset_num_proc=None)
    trainer = SFTTrainer(model=model, args=args, train_dataset=train, eval_dataset=evals, processing_class=tok,
                         peft_config=lora, callbacks=[cb])
    final = train_and_evaluate(trainer, cb, cfg, work)
    out = os.path.join(work, "model")
    trainer.model.save_pretrained(out)
    tok.save_pretrained(out)
    fmt_name = "messages" if "messages" in cols else "prompt-completion" if "prompt" in cols else "text"
    return out, final, {"data_format": fmt_name, "train_rows": len(train), "eval_rows": len(evals)}


def run_sentence_embedding(cfg, work):
    import random

    from sentence_transformers import (SentenceTransformer, SentenceTransformerTrainer,
                                       SentenceTransformerTrainingArguments)
    from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator, TripletEvaluator
    from sentence_transformers.sentence_transformer.losses import CoSENTLoss, MultipleNegativesRankingLoss
    from sentence_transformers.sentence_transformer.training_args import BatchSamplers

    hp, cols = cfg["hyperparameters"], cfg["columns"]
    train, evals = load_splits(cfg)
    roles = ["anchor", "positive", "negative"] if "anchor" in cols else ["sentence1", "sentence2", "score"]
    roles = [r for r in roles if r in cols]
    for split in (train, evals):
        if split is None:
            continue
        for role in roles:
            kind = feature_kind(split.features[cols[role]])
            want = ("float", "double", "int") if role == "score" else ("string", "large_string")
            if not kind.startswith(want):
                raise ConfigError(f"{role} column {cols[role]!r} is not a {'number' if role == 'score' else 'string'}"
                                  f" column ({kind})")

    def shape(split):
        # The trainer feeds the columns to the loss in order, and calls the score column "score".
        split = split.select_columns([cols[r] for r in roles])
        tmp = {cols[r]: f"__{r}" for r in roles}
        split = split.rename_columns(tmp).rename_columns({f"__{r}": r for r in roles})
        if "score" in roles:
            split = split.cast_column("score", __import__("datasets").Value("float32"))
        return split

    train = shape(train)
    if evals is None:
        train, evals = hold_out(train, cfg)
    else:
        evals = shape(evals)
    set_seed(cfg)
    model = SentenceTransformer(cfg["base_model"], revision=cfg["base_revision"])
    model.max_seq_length = hp["max_length"]
    if "score" in roles:
        loss = CoSENTLoss(model)
        evaluator = EmbeddingSimilarityEvaluator(evals["sentence1"], evals["sentence2"], evals["score"],
                                                 batch_size=hp["batch_size"])
        st_metric = ("spearman_cosine", "eval_spearman")
    else:
        loss = MultipleNegativesRankingLoss(model)
        if "negative" in roles:
            negatives = evals["negative"]
        else:
            # No negatives: another row's positive, picked with the seed.
            positives = evals["positive"]
            rng = random.Random(hp["seed"])
            negatives = []
            for i in range(len(positives)):
                j = rng.randrange(len(positives) - 1) if len(positives) > 1 else 0
                negatives.append(positives[j + 1 if j >= i and len(positives) > 1 else j])
        evaluator = TripletEvaluator(evals["anchor"], evals["positive"], negatives, batch_size=hp["batch_size"])
        st_metric = ("cosine_accuracy", "eval_cosine_accuracy")
    cb = make_callback(cfg["task"], hp["batch_size"], st_metric=st_metric)
    args = training_args(SentenceTransformerTrainingArguments, cfg, cfg["_out"], len(train),
                         batch_sampler=BatchSamplers.NO_DUPLICATES if "anchor" in roles else BatchSamplers.BATCH_SAMPLER)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=train, eval_dataset=evals, loss=loss,
                                         evaluator=evaluator, callbacks=[cb])
    final = train_and_evaluate(trainer, cb, cfg, work)
    out = os.path.join(work, "model")
    model.save(out, create_model_card=False)
    return out, final, {"loss": type(loss).__name__, "train_rows": len(train), "eval_rows": len(evals)}


RUNNERS = {
    "text-classification": run_text_classification,
    "token-classification": run_token_classification,
    "causal-lm-lora": run_causal_lm_lora,
    "sentence-embedding": run_sentence_embedding,
}


# ----------------------------------------------------------------------------
# Model card and push


METRIC_NAMES = {"loss": "Loss", "accuracy": "Accuracy", "f1": "F1 (macro)", "perplexity": "Perplexity",
                "cosine_accuracy": "Cosine accuracy", "spearman": "Spearman correlation (cosine)"}

TASK_TITLES = {"text-classification": "Text Classification", "token-classification": "Token Classification",
               "text-generation": "Text Generation", "sentence-similarity": "Sentence Similarity"}


def model_card(cfg, metrics, facts):
    import yaml

    task = cfg["task"]
    pipeline, library, index_task = CARD_TASK[task]
    hp = cfg["hyperparameters"]
    name = cfg["output_repo"].split("/")[1]
    metric_rows = [(k[len("eval_"):], v) for k, v in metrics.items()]
    data_ref = {"name": cfg["dataset"], "type": cfg["dataset"]}
    if cfg["dataset_config"]:
        data_ref["config"] = cfg["dataset_config"]
    if cfg["eval_split"]:
        data_ref["split"] = cfg["eval_split"]
    evaluated_on = (f"split `{cfg['eval_split']}`" if cfg["eval_split"] else
                    f"{cfg['eval_fraction']:.0%} of split `{cfg['train_split']}` held out with seed {hp['seed']}")
    tags = ["haven-finetune", task]
    tags += {"causal-lm-lora": ["lora", "sft", "trl"], "sentence-embedding": ["sentence-transformers"]}.get(task, [])
    meta = {
        "base_model": cfg["base_model"],
        "datasets": [cfg["dataset"]],
        "library_name": library,
        "pipeline_tag": pipeline,
        "tags": tags,
        "model-index": [{
            "name": name,
            "results": [{
                "task": {"type": index_task, "name": TASK_TITLES[index_task]},
                "dataset": data_ref,
                "metrics": [{"type": k, "value": round(v, 6), "name": METRIC_NAMES.get(k, k)}
                            for k, v in metric_rows],
            }],
        }],
    }
    how = {
        "text-classification": "fine-tuned for text classification",
        "token-classification": "fine-tuned for token classification",
        "causal-lm-lora": "a LoRA adapter trained with supervised fine-tuning (TRL SFTTrainer)",
        "sentence-embedding": "fine-tuned as a sentence embedding model (sentence-transformers)",
    }[task]
    lines = ["---", yaml.safe_dump(meta, sort_keys=False, allow_unicode=True).rstrip(), "---", "",
             f"# {name}", "",
             f"This model is {how}, starting from [{cfg['base_model']}](/{cfg['base_model']}) "
             f"(revision `{cfg['base_revision']}`) on the dataset [{cfg['dataset']}](/datasets/{cfg['dataset']}).",
             "It was trained by Haven's no-code fine-tuning.", ""]
    if facts.get("labels"):
        lines += ["Labels: " + ", ".join(f"`{x}`" for x in facts["labels"]), ""]
    if task == "causal-lm-lora":
        lines += ["Load it with `peft.AutoPeftModelForCausalLM.from_pretrained(...)`; the base model is read from "
                  "its adapter config.", ""]
    lines += ["## Evaluation", "", f"On {evaluated_on} ({facts.get('eval_rows', '?')} rows):", "",
              "| metric | value |", "| --- | --- |"]
    lines += [f"| {METRIC_NAMES.get(k, k)} | {v:.4f} |" for k, v in metric_rows] or ["| (none) | |"]
    lines += ["", "## Training hyperparameters", "", "| hyperparameter | value |", "| --- | --- |"]
    shown = dict(hp)
    if task != "causal-lm-lora":
        for k in ("lora_r", "lora_alpha", "lora_dropout"):
            shown.pop(k)
    lines += [f"| {k} | {'' if v is None else v} |" for k, v in shown.items()]
    lines += [f"| train rows | {facts.get('train_rows', '?')} |", "| columns | "
              + ", ".join(f"{r}={c}" for r, c in cfg["columns"].items()) + " |"]
    return "\n".join(lines) + "\n"


def push(cfg, folder):
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(cfg["output_repo"], private=cfg["private"], exist_ok=True)
    info = api.upload_folder(repo_id=cfg["output_repo"], folder_path=folder,
                             commit_message=f"Fine-tune {cfg['base_model']} on {cfg['dataset']} ({cfg['task']})")
    return info.oid


# ----------------------------------------------------------------------------


def run(cfg):
    emit("stage", name="loading")
    if not cfg["checkpoint_dir"] and os.environ.get("HAVEN_DATA_DIR"):
        # A Haven job's folder that outlives restarts: the job resumes from it.
        cfg["checkpoint_dir"] = os.path.join(os.environ["HAVEN_DATA_DIR"], "checkpoints")
    with tempfile.TemporaryDirectory(prefix="haven-finetune-") as work:
        cfg["_out"] = cfg["checkpoint_dir"] or os.path.join(work, "checkpoints")
        os.makedirs(cfg["_out"], exist_ok=True)
        import transformers

        transformers.utils.logging.disable_progress_bar()
        folder, metrics, facts = RUNNERS[cfg["task"]](cfg, work)
        for name in ("training_args.bin", "README.md"):
            p = os.path.join(folder, name)
            if os.path.exists(p):
                os.remove(p)
        with open(os.path.join(folder, "README.md"), "w") as f:
            f.write(model_card(cfg, metrics, facts))
        emit("stage", name="pushing")
        sha = push(cfg, folder)
        emit("pushed", repo=cfg["output_repo"], revision=sha)
    emit("stage", name="done")


def main(argv):
    if len(argv) != 2:
        print("usage: python train.py CONFIG.json", file=sys.stderr)
        return 2
    try:
        cfg = load_config(argv[1])
        run(cfg)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 2
    except Exception as e:  # any failure: a traceback, then one clear last line
        import traceback

        traceback.print_exc()
        msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
        print(f"error: {type(e).__name__}: {msg}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
