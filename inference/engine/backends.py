"""The model families the engine serves, each loaded from a model folder.

- Embedder: sentence-transformers models (pooled as the model's modules say)
  and plain transformers encoders (mean pooled): feature-extraction and
  sentence-similarity, dynamically batched.
- Classifier: ...ForSequenceClassification: text-classification (batched) and
  zero-shot-classification (an NLI model).
- PipelineBackend: token-classification, question-answering, fill-mask through
  transformers pipelines, one request at a time.
- CausalLM: text-generation, chat and completions (generation.Generator).

Every method that serves a request takes the request's JSON-decoded body and
returns a JSON-ready value, or raises InputError.
"""

import copy
import glob
import json
import math
import os
import re
import threading

import numpy as np

from batching import Batcher
from errors import InputError

WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.pt", "*.pth", "*.ckpt", "*.gguf", "*.h5", "*.msgpack", "*.onnx")

TASK_ALIASES = {
    "sentiment-analysis": "text-classification",
    "ner": "token-classification",
    "conversational": "text-generation",
    "embeddings": "feature-extraction",
}

EMBEDDING_TASKS = ("feature-extraction", "sentence-similarity")
CLASSIFIER_TASKS = ("text-classification", "zero-shot-classification")
PIPELINE_TASKS = ("token-classification", "question-answering", "fill-mask")
GENERATION_TASKS = ("text-generation",)
SUPPORTED_TASKS = EMBEDDING_TASKS + CLASSIFIER_TASKS + PIPELINE_TASKS + GENERATION_TASKS


def normalize_task(task):
    task = (task or "").strip().lower()
    return TASK_ALIASES.get(task, task)


def is_sentence_transformer(model_dir):
    return any(os.path.exists(os.path.join(model_dir, f))
               for f in ("modules.json", "config_sentence_transformers.json", "sentence_bert_config.json"))


def read_config(model_dir):
    path = os.path.join(model_dir, "config.json")
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def readme_pipeline_tag(model_dir):
    """The pipeline_tag of the model card's YAML front matter, if any."""
    path = os.path.join(model_dir, "README.md")
    try:
        with open(path, encoding="utf-8") as f:
            head = f.read(65536)
    except OSError:
        return ""
    m = re.match(r"\A---\s*\n(.*?)\n---", head, re.S)
    if not m:
        return ""
    t = re.search(r"^pipeline_tag:\s*['\"]?([\w-]+)", m.group(1), re.M)
    return t.group(1) if t else ""


def infer_task(model_dir):
    """The task to serve when none is given: from the folder's files and config.json."""
    if is_sentence_transformer(model_dir):
        return "feature-extraction"
    tag = normalize_task(readme_pipeline_tag(model_dir))
    if tag in SUPPORTED_TASKS:
        return tag
    archs = read_config(model_dir).get("architectures") or []
    for a in archs:
        for suffix, task in (("ForSequenceClassification", "text-classification"),
                             ("ForTokenClassification", "token-classification"),
                             ("ForQuestionAnswering", "question-answering"),
                             ("ForMaskedLM", "fill-mask"),
                             ("ForCausalLM", "text-generation"),
                             ("LMHeadModel", "text-generation"),
                             ("ForConditionalGeneration", "text-generation")):
            if a.endswith(suffix):
                return task
    for a in archs:
        if a.endswith("Model"):
            return "feature-extraction"
    raise ValueError(f"cannot tell the task of the model in {model_dir} (no sentence-transformers files, "
                     f"architectures {archs or 'missing'} in config.json): pass --task")


def check_weights(model_dir):
    if not os.path.isdir(model_dir):
        raise ValueError(f"model folder {model_dir} does not exist")
    for pat in WEIGHT_PATTERNS:
        if glob.glob(os.path.join(model_dir, "**", pat), recursive=True):
            return
    raise ValueError(f"no model weights in {model_dir} (looked for model.safetensors, pytorch_model.bin "
                     f"and other {', '.join(WEIGHT_PATTERNS)} files)")


def pick_device():
    import torch

    if torch.cuda.is_available():
        return "cuda"
    return "cpu"


def model_dtype(device):
    import torch

    if device == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


# ---------------------------------------------------------------- helpers


def as_texts(inputs, what="inputs"):
    """str or [str] -> ([str], was_single)."""
    if isinstance(inputs, str):
        return [inputs], True
    if isinstance(inputs, list) and inputs and all(isinstance(x, str) for x in inputs):
        return list(inputs), False
    if isinstance(inputs, list) and not inputs:
        raise InputError(f"`{what}` is an empty list")
    if inputs is None:
        raise InputError(f"`{what}` is missing: send {{\"{what}\": \"some text\"}}")
    raise InputError(f"`{what}` must be a string or a list of strings")


def as_bool(v, name, default):
    if v is None:
        return default
    if isinstance(v, bool):
        return v
    raise InputError(f"`{name}` must be true or false")


def as_int(v, name, default, lo=None, hi=None):
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not v.is_integer()):
        raise InputError(f"`{name}` must be an integer")
    v = int(v)
    if lo is not None and v < lo:
        raise InputError(f"`{name}` must be at least {lo}")
    if hi is not None and v > hi:
        raise InputError(f"`{name}` must be at most {hi}")
    return v


def as_float(v, name, default, lo=None, hi=None):
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise InputError(f"`{name}` must be a number")
    v = float(v)
    if not math.isfinite(v) or (lo is not None and v < lo) or (hi is not None and v > hi):
        raise InputError(f"`{name}` must be a number between {lo} and {hi}")
    return v


def params_of(body):
    p = body.get("parameters")
    if p is None:
        return {}
    if not isinstance(p, dict):
        raise InputError("`parameters` must be an object")
    return p


def check_batch(n, max_batch):
    if n > max_batch:
        raise InputError(f"{n} inputs in one request; this engine takes at most {max_batch} (--max-batch)",
                         status=413)


def model_max_length(tokenizer, config, fallback=512):
    cands = []
    t = getattr(tokenizer, "model_max_length", None)
    if isinstance(t, int) and 0 < t < 10**7:
        cands.append(t)
    for key in ("max_position_embeddings", "n_positions"):
        v = getattr(config, key, None)
        if isinstance(v, int) and v > 0:
            cands.append(v)
    return min(cands) if cands else fallback


class TokenCounter:
    """Counts tokens in request threads with a copy of the model's tokenizer.

    A fast tokenizer is not safe to share between threads while another call
    changes its padding or truncation (the batcher's forward passes do), so
    request threads use their own copy, one at a time.
    """

    def __init__(self, tokenizer):
        self.tokenizer = copy.deepcopy(tokenizer)
        self.lock = threading.Lock()

    def __call__(self, texts, pairs=None):
        with self.lock:
            if pairs is not None and any(p is not None for p in pairs):
                return [len(self.tokenizer(t, p)["input_ids"]) if p is not None
                        else len(self.tokenizer(t)["input_ids"]) for t, p in zip(texts, pairs)]
            return [len(ids) for ids in self.tokenizer(list(texts))["input_ids"]]


def check_lengths(counter, texts, limit, truncate, pairs=None):
    """Raises 413 naming the first input longer than limit tokens, unless truncate."""
    if truncate:
        return
    lens = counter(texts, pairs)
    for i, n in enumerate(lens):
        if n > limit:
            raise InputError(f"input {i} is {n} tokens, more than this model's limit of {limit} tokens; "
                             f"shorten it or pass truncate=true", status=413)


def softmax(x):
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(x - x.max())
    return e / e.sum()


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def to_json(v):
    """numpy / torch values inside pipeline outputs -> plain Python."""
    if isinstance(v, dict):
        return {k: to_json(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [to_json(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if hasattr(v, "tolist") and hasattr(v, "dtype"):
        return v.tolist()
    return v


# ---------------------------------------------------------------- embeddings


class Embedder:
    kind = "embedding"
    tasks = EMBEDDING_TASKS

    def __init__(self, model_dir, device, max_batch, window, metrics):
        import torch

        self.torch = torch
        self.device = device
        self.max_batch = max_batch
        self.st = None
        self.prompts = {}
        self.default_prompt_name = None
        if is_sentence_transformer(model_dir):
            from sentence_transformers import SentenceTransformer

            self.st = SentenceTransformer(model_dir, device=device, local_files_only=True)
            self.st.eval()
            self.tokenizer = self.st.tokenizer
            self.max_length = int(self.st.max_seq_length or model_max_length(self.tokenizer, None))
            self.prompts = dict(getattr(self.st, "prompts", None) or {})
            self.default_prompt_name = getattr(self.st, "default_prompt_name", None)
            self.pooling = self._st_pooling(model_dir)
        else:
            from transformers import AutoModel, AutoTokenizer

            self.tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
            self.model = AutoModel.from_pretrained(model_dir, local_files_only=True,
                                                   dtype=model_dtype(device)).to(device).eval()
            self.max_length = model_max_length(self.tokenizer, self.model.config)
            self.pooling = "mean"
        self.count_tokens = TokenCounter(self.tokenizer)
        self.batcher = Batcher(self._forward, max_batch, window, metrics)
        self.dimensions = len(self._forward(["warm up"])[0])

    @staticmethod
    def _st_pooling(model_dir):
        for cfg in glob.glob(os.path.join(model_dir, "*Pooling*", "config.json")):
            try:
                with open(cfg, encoding="utf-8") as f:
                    c = json.load(f)
            except (OSError, ValueError):
                continue
            if c.get("pooling_mode"):
                return str(c["pooling_mode"])
            for k, v in c.items():
                if k.startswith("pooling_mode_") and v is True:
                    return k[len("pooling_mode_"):].replace("_tokens", "")
        return "model"

    def _forward(self, texts):
        """[str] -> float32 array (n, d), not normalised."""
        torch = self.torch
        with torch.inference_mode():
            if self.st is not None:
                # prompts are already prepended by embed(); "" stops encode adding the default one again
                emb = self.st.encode(texts, prompt="", batch_size=max(len(texts), 1), convert_to_numpy=True,
                                     show_progress_bar=False)
                return np.asarray(emb, dtype=np.float32)
            enc = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length,
                                 return_tensors="pt").to(self.device)
            out = self.model(**enc)
            hidden = out.last_hidden_state.float()
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return pooled.cpu().numpy().astype(np.float32)

    def embed(self, texts, normalize=True, truncate=False, prompt_name=None, dimensions=None):
        check_batch(len(texts), self.max_batch)
        if prompt_name is not None or self.default_prompt_name:
            name = prompt_name if prompt_name is not None else self.default_prompt_name
            if name not in self.prompts:
                raise InputError(f"unknown prompt_name {name!r}; this model has "
                                 f"{sorted(self.prompts) or 'no prompts'}")
            texts = [self.prompts[name] + t for t in texts]
        check_lengths(self.count_tokens, texts, self.max_length, truncate)
        rows = np.stack(self.batcher.submit(texts))
        if dimensions is not None:
            if not (0 < dimensions <= rows.shape[1]):
                raise InputError(f"dimensions must be between 1 and {rows.shape[1]}")
            rows = rows[:, :dimensions]
        if normalize:
            rows = rows / np.clip(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12, None)
        return rows

    def feature_extraction(self, body):
        texts, _ = as_texts(body.get("inputs"))
        p = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}

        def opt(name):
            return body.get(name) if body.get(name) is not None else p.get(name)

        dims = as_int(opt("dimensions"), "dimensions", None, lo=1)
        rows = self.embed(texts, normalize=as_bool(opt("normalize"), "normalize", True),
                          truncate=as_bool(opt("truncate"), "truncate", False),
                          prompt_name=opt("prompt_name"), dimensions=dims)
        return rows.tolist()

    def sentence_similarity(self, body):
        inputs = body.get("inputs")
        if not isinstance(inputs, dict):
            raise InputError('sentence-similarity takes {"inputs": {"source_sentence": str, "sentences": [str]}}')
        src = inputs.get("source_sentence")
        sents = inputs.get("sentences")
        if not isinstance(src, str):
            raise InputError("`inputs.source_sentence` must be a string")
        if not isinstance(sents, list) or not sents or not all(isinstance(s, str) for s in sents):
            raise InputError("`inputs.sentences` must be a non-empty list of strings")
        p = params_of(body)
        check_batch(len(sents) + 1, self.max_batch)
        rows = self.embed([src] + sents, normalize=True, truncate=as_bool(p.get("truncate"), "truncate", True),
                          prompt_name=p.get("prompt_name"))
        return [float(x) for x in rows[1:] @ rows[0]]

    def info(self):
        return {"model_type": {"embedding": {"pooling": self.pooling}}, "dimensions": self.dimensions,
                "max_input_length": self.max_length}

    def handle(self, task, body):
        if task == "sentence-similarity" or isinstance(body.get("inputs"), dict):
            return self.sentence_similarity(body)
        return self.feature_extraction(body)


# ---------------------------------------------------------------- classification


class Classifier:
    kind = "classifier"
    tasks = CLASSIFIER_TASKS

    def __init__(self, model_dir, device, max_batch, window, metrics):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.torch = torch
        self.device = device
        self.max_batch = max_batch
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        self.model = AutoModelForSequenceClassification.from_pretrained(
            model_dir, local_files_only=True, dtype=model_dtype(device)).to(device).eval()
        cfg = self.model.config
        self.max_length = model_max_length(self.tokenizer, cfg)
        n = cfg.num_labels
        self.labels = [str((cfg.id2label or {}).get(i, f"LABEL_{i}")) for i in range(n)]
        problem = getattr(cfg, "problem_type", None)
        if problem == "multi_label_classification" or n == 1:
            self.default_fn = "sigmoid"
        elif problem == "regression":
            self.default_fn = "none"
        else:
            self.default_fn = "softmax"
        self.count_tokens = TokenCounter(self.tokenizer)
        self.batcher = Batcher(self._forward, max_batch, window, metrics)
        self.zero_shot = None
        self.zs_lock = threading.Lock()
        self._forward([("warm up", None)])

    def _forward(self, items):
        """[(text, pair|None)] -> [logits row]."""
        out = [None] * len(items)
        groups = {}
        for i, (_, pair) in enumerate(items):
            groups.setdefault(pair is not None, []).append(i)
        torch = self.torch
        with torch.inference_mode():
            for has_pair, idx in groups.items():
                texts = [items[i][0] for i in idx]
                pairs = [items[i][1] for i in idx] if has_pair else None
                enc = self.tokenizer(texts, pairs, padding=True, truncation=True, max_length=self.max_length,
                                     return_tensors="pt").to(self.device)
                logits = self.model(**enc).logits.float().cpu().numpy()
                for j, i in enumerate(idx):
                    out[i] = logits[j]
        return out

    def _items(self, inputs):
        """inputs -> ([(text, pair)], single)."""
        if isinstance(inputs, dict):
            if not isinstance(inputs.get("text"), str):
                raise InputError('a text pair is {"text": str, "text_pair": str}')
            pair = inputs.get("text_pair")
            if pair is not None and not isinstance(pair, str):
                raise InputError("`text_pair` must be a string")
            return [(inputs["text"], pair)], True
        if isinstance(inputs, list) and inputs and all(isinstance(x, dict) for x in inputs):
            return [self._items(x)[0][0] for x in inputs], False
        texts, single = as_texts(inputs)
        return [(t, None) for t in texts], single

    def text_classification(self, body, flat_single=False):
        items, single = self._items(body.get("inputs"))
        p = params_of(body)
        check_batch(len(items), self.max_batch)
        fn = p.get("function_to_apply") or self.default_fn
        if fn not in ("softmax", "sigmoid", "none"):
            raise InputError("`function_to_apply` must be softmax, sigmoid or none")
        top_k = as_int(p.get("top_k"), "top_k", None, lo=1)
        truncate = as_bool(p.get("truncation", p.get("truncate", body.get("truncate"))), "truncation", False)
        check_lengths(self.count_tokens, [t for t, _ in items], self.max_length, truncate, [q for _, q in items])
        results = []
        for logits in self.batcher.submit(items):
            if fn == "softmax":
                scores = softmax(logits)
            elif fn == "sigmoid":
                scores = sigmoid(logits)
            else:
                scores = np.asarray(logits, dtype=np.float64)
            ranked = sorted(({"label": self.labels[i], "score": float(s)} for i, s in enumerate(scores)),
                            key=lambda r: r["score"], reverse=True)
            results.append(ranked[:top_k] if top_k else ranked)
        if flat_single and single:
            return results[0]
        return results

    def zero_shot_classification(self, body):
        inputs = body.get("inputs")
        if isinstance(inputs, dict):  # some clients send {"inputs": {"text": …, "candidate_labels": …}}
            body = dict(body, inputs=inputs.get("text") or inputs.get("sequence"),
                        parameters={**params_of(body), **{k: v for k, v in inputs.items()
                                                          if k in ("candidate_labels", "multi_label",
                                                                   "hypothesis_template")}})
            inputs = body["inputs"]
        if not isinstance(inputs, str):
            raise InputError("zero-shot-classification takes {\"inputs\": str, \"parameters\": "
                             "{\"candidate_labels\": [str]}}")
        p = params_of(body)
        labels = p.get("candidate_labels")
        if isinstance(labels, str):
            labels = [s.strip() for s in labels.split(",") if s.strip()]
        if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
            raise InputError("`parameters.candidate_labels` must be a non-empty list of strings")
        check_batch(len(labels), self.max_batch)
        kwargs = {"candidate_labels": labels, "multi_label": as_bool(p.get("multi_label"), "multi_label", False)}
        if p.get("hypothesis_template") is not None:
            if not isinstance(p["hypothesis_template"], str) or "{}" not in p["hypothesis_template"]:
                raise InputError("`hypothesis_template` must be a string containing {}")
            kwargs["hypothesis_template"] = p["hypothesis_template"]
        with self.zs_lock:
            if self.zero_shot is None:
                from transformers import ZeroShotClassificationPipeline

                self.zero_shot = ZeroShotClassificationPipeline(model=self.model, tokenizer=self.tokenizer,
                                                                device=self.model.device)
            out = self.zero_shot(inputs, **kwargs)
        return [{"label": lab, "score": float(s)} for lab, s in zip(out["labels"], out["scores"])]

    def info(self):
        cfg = self.model.config
        return {"model_type": {"classifier": {"id2label": {str(i): lab for i, lab in enumerate(self.labels)},
                                              "label2id": {lab: i for i, lab in enumerate(self.labels)}}},
                "max_input_length": self.max_length, "problem_type": getattr(cfg, "problem_type", None)}

    def handle(self, task, body):
        if task == "zero-shot-classification":
            return self.zero_shot_classification(body)
        return self.text_classification(body)


# ---------------------------------------------------------------- transformers pipelines


class PipelineBackend:
    kind = "pipeline"

    def __init__(self, model_dir, task, device, max_batch):
        import transformers
        from transformers import AutoTokenizer

        self.task = task
        self.tasks = (task,)
        self.max_batch = max_batch
        auto = {"token-classification": transformers.AutoModelForTokenClassification,
                "question-answering": transformers.AutoModelForQuestionAnswering,
                "fill-mask": transformers.AutoModelForMaskedLM}[task]
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        self.model = auto.from_pretrained(model_dir, local_files_only=True, dtype=model_dtype(device)).to(device).eval()
        self.max_length = model_max_length(self.tokenizer, self.model.config)
        # transformers 5 dropped the question-answering pipeline: extractive QA is done here (_qa)
        self.pipe = None if task == "question-answering" else transformers.pipeline(
            task, model=self.model, tokenizer=self.tokenizer, device=self.model.device)
        self.lock = threading.Lock()

    def _call(self, *args, **kwargs):
        with self.lock:
            try:
                return to_json(self.pipe(*args, **kwargs))
            except (ValueError, KeyError, TypeError) as e:
                raise InputError(f"{self.task}: {e}") from e

    def token_classification(self, body):
        texts, single = as_texts(body.get("inputs"))
        check_batch(len(texts), self.max_batch)
        p = params_of(body)
        strategy = p.get("aggregation_strategy") or "simple"
        if strategy not in ("none", "simple", "first", "average", "max"):
            raise InputError("`aggregation_strategy` must be none, simple, first, average or max")
        kwargs = {"aggregation_strategy": strategy}
        if p.get("ignore_labels") is not None:
            if not isinstance(p["ignore_labels"], list):
                raise InputError("`ignore_labels` must be a list of labels")
            kwargs["ignore_labels"] = p["ignore_labels"]
        if p.get("stride") is not None:
            kwargs["stride"] = as_int(p.get("stride"), "stride", None, lo=0)
        out = []
        for t in texts:
            ents = self._call(t, **kwargs)
            for e in ents:
                if "entity_group" not in e and "entity" in e:
                    e["entity_group"] = e["entity"]
                e["score"] = float(e.get("score", 0.0))
            out.append(ents)
        return out[0] if single else out

    def question_answering(self, body):
        inputs = body.get("inputs")
        if isinstance(inputs, dict):
            q, c = inputs.get("question"), inputs.get("context")
        else:
            q, c = body.get("question"), body.get("context")
        if not isinstance(q, str) or not isinstance(c, str) or not q.strip() or not c.strip():
            raise InputError('question-answering takes {"inputs": {"question": str, "context": str}}')
        p = params_of(body)
        kwargs = {}
        for name in ("top_k", "doc_stride", "max_answer_len", "max_seq_len", "max_question_len"):
            if p.get(name) is not None:
                kwargs[name] = as_int(p[name], name, None, lo=1)
        for name in ("handle_impossible_answer", "align_to_words"):
            if p.get(name) is not None:
                kwargs[name] = as_bool(p[name], name, None)
        with self.lock:
            return self._qa(q, c, **kwargs)

    def _qa(self, question, context, top_k=1, doc_stride=128, max_answer_len=15, max_seq_len=None,
            max_question_len=64, handle_impossible_answer=False, align_to_words=True):
        """Extractive question answering: the best context spans by start x end probability."""
        import torch

        tok = self.tokenizer
        if not getattr(tok, "is_fast", False):
            raise InputError("question-answering needs a fast tokenizer (tokenizer.json)")
        max_seq_len = min(max_seq_len or self.max_length, self.max_length)
        qids = tok(question, add_special_tokens=False)["input_ids"]
        if len(qids) > max_question_len:
            raise InputError(f"the question is {len(qids)} tokens; the limit is {max_question_len}", status=413)
        stride = max(0, min(doc_stride, max_seq_len // 2))
        enc = tok(question, context, truncation="only_second", max_length=max_seq_len, stride=stride,
                  return_overflowing_tokens=True, return_offsets_mapping=True, padding=True, return_tensors="pt")
        offsets = enc.pop("offset_mapping").tolist()
        enc.pop("overflow_to_sample_mapping", None)
        seq_ids = [enc.sequence_ids(i) for i in range(len(offsets))]
        with torch.inference_mode():
            out = self.model(**{k: v.to(self.model.device) for k, v in enc.items()})
        starts, ends = out.start_logits.float().cpu().numpy(), out.end_logits.float().cpu().numpy()
        cands, null = [], 0.0
        for f in range(len(offsets)):
            ctx = np.array([sid == 1 for sid in seq_ids[f]])
            if not ctx.any():
                continue
            keep = ctx.copy()
            keep[0] = True  # the first token stands for "no answer"
            s = np.where(keep, starts[f], -1e9)
            e = np.where(keep, ends[f], -1e9)
            ps, pe = softmax(s), softmax(e)
            null = max(null, float(ps[0] * pe[0]))
            idx = np.where(ctx)[0]
            scores = np.triu(np.outer(ps[idx], pe[idx])) - np.tril(np.ones((len(idx), len(idx))), -1)
            scores -= np.triu(np.ones((len(idx), len(idx))), max_answer_len) * 2
            flat = np.argsort(-scores, axis=None)[: max(top_k, 1) * 2]
            for k in flat:
                i, j = np.unravel_index(k, scores.shape)
                if scores[i, j] <= 0:
                    continue
                a, b = offsets[f][idx[i]][0], offsets[f][idx[j]][1]
                if align_to_words:
                    while a > 0 and context[a - 1].isalnum() and context[a].isalnum():
                        a -= 1
                    while b < len(context) and b > 0 and context[b - 1].isalnum() and context[b].isalnum():
                        b += 1
                cands.append((float(scores[i, j]), a, b))
        best, seen = [], set()
        for score, a, b in sorted(cands, reverse=True):
            if (a, b) not in seen:
                seen.add((a, b))
                best.append({"answer": context[a:b], "score": score, "start": int(a), "end": int(b)})
        if handle_impossible_answer:
            best.append({"answer": "", "score": null, "start": 0, "end": 0})
            best.sort(key=lambda r: r["score"], reverse=True)
        best = best[:top_k]
        if not best:
            best = [{"answer": "", "score": 0.0, "start": 0, "end": 0}]
        return best[0] if top_k == 1 else best

    def fill_mask(self, body):
        texts, single = as_texts(body.get("inputs"))
        check_batch(len(texts), self.max_batch)
        mask = self.tokenizer.mask_token
        for t in texts:
            if not mask or mask not in t:
                raise InputError(f"the input must contain the mask token {mask}")
        p = params_of(body)
        kwargs = {}
        if p.get("top_k") is not None:
            kwargs["top_k"] = as_int(p["top_k"], "top_k", None, lo=1)
        if p.get("targets") is not None:
            tg = p["targets"]
            if isinstance(tg, str):
                tg = [tg]
            if not isinstance(tg, list) or not all(isinstance(x, str) for x in tg):
                raise InputError("`targets` must be a list of strings")
            kwargs["targets"] = tg
        out = [self._call(t, **kwargs) for t in texts]
        return out[0] if single else out

    def info(self):
        return {"max_input_length": self.max_length}

    def handle(self, task, body):
        return {"token-classification": self.token_classification,
                "question-answering": self.question_answering,
                "fill-mask": self.fill_mask}[task](body)


# ---------------------------------------------------------------- generation


class CausalLM:
    kind = "generation"
    tasks = GENERATION_TASKS

    def __init__(self, model_dir, device, metrics):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from generation import Generator

        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        self.model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True,
                                                          dtype=model_dtype(device)).to(device).eval()
        self.gen = Generator(self.model, self.tokenizer, device, metrics)
        self.has_template = bool(getattr(self.tokenizer, "chat_template", None))

    def chat_prompt(self, messages, tools=None):
        """OpenAI messages -> prompt token ids, through the tokenizer's chat template or a plain fallback."""
        if not isinstance(messages, list) or not messages:
            raise InputError("`messages` must be a non-empty list")
        msgs = []
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or not isinstance(m.get("role"), str):
                raise InputError(f"messages[{i}] must be an object with a role")
            content = m.get("content")
            if isinstance(content, list):
                parts = []
                for part in content:
                    if isinstance(part, dict) and part.get("type") == "text":
                        parts.append(str(part.get("text", "")))
                    elif isinstance(part, dict) and part.get("type") in ("image_url", "input_audio", "image"):
                        raise InputError("this model takes text only; messages[%d] has a %s part"
                                         % (i, part.get("type")))
                    elif isinstance(part, str):
                        parts.append(part)
                content = "".join(parts)
            elif content is None:
                content = ""
            elif not isinstance(content, str):
                raise InputError(f"messages[{i}].content must be a string or a list of parts")
            msg = {"role": m["role"], "content": content}
            for k in ("tool_calls", "tool_call_id", "name"):
                if m.get(k) is not None:
                    msg[k] = m[k]
            msgs.append(msg)
        if self.has_template:
            try:
                kwargs = {"tools": tools} if tools else {}
                text = self.tokenizer.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False,
                                                          **kwargs)
            except Exception as e:  # noqa: BLE001 - a template error is the request's (e.g. roles order)
                raise InputError(f"the chat template rejected the messages: {e}") from e
            if not isinstance(text, str):
                raise InputError("the chat template did not produce text")
            bos = self.tokenizer.bos_token
            add_special = not (bos and text.startswith(bos))
            return self.gen.encode(text, add_special_tokens=add_special and bool(bos))
        text = "".join(f"{m['role']}: {m['content']}\n" for m in msgs) + "assistant:"
        return self.gen.encode(text)

    def info(self):
        return {"max_input_tokens": self.gen.max_total_tokens - 1, "max_total_tokens": self.gen.max_total_tokens,
                "chat_template": self.has_template}
