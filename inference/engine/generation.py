"""Token-by-token decoding for causal language models.

One generation runs at a time per model (a lock); each yields Step objects as
tokens are decided, so the HTTP layer can stream them (TGI and OpenAI SSE) or
collect them. Sampling (temperature, top-k, top-p, typical-p, repetition and
frequency penalties, seeds) and stop sequences are done here, on the logits of
the model's forward pass with its key/value cache.
"""

import copy
import inspect
import random
import threading
from dataclasses import dataclass, field

import torch


from errors import InputError


@dataclass
class GenParams:
    max_new_tokens: int = 100
    do_sample: bool = False
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    typical_p: float = 1.0
    repetition_penalty: float = 1.0
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    seed: int | None = None
    stop: list = field(default_factory=list)
    ignore_eos: bool = False


@dataclass
class Step:
    token_id: int
    text: str  # the text this step adds to the output (may be "" while bytes are incomplete or held back)
    logprob: float
    special: bool
    finish_reason: str | None = None  # "length" | "eos_token" | "stop_sequence" on the last step
    generated_text: str | None = None  # the whole output, on the last step
    generated_tokens: int = 0
    seed: int | None = None


class Generator:
    def __init__(self, model, tokenizer, device, metrics):
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.metrics = metrics
        self.lock = threading.Lock()
        # request threads encode prompts with their own copy while a generation decodes
        self.encode_tokenizer = copy.deepcopy(tokenizer)
        self.encode_lock = threading.Lock()
        cfg = model.config
        ctx = None
        for key in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length", "n_ctx"):
            v = getattr(cfg, key, None)
            if isinstance(v, int) and v > 0:
                ctx = v
                break
        tmax = getattr(tokenizer, "model_max_length", None)
        if isinstance(tmax, int) and 0 < tmax < 10**7:
            ctx = min(ctx, tmax) if ctx else tmax
        self.max_total_tokens = ctx or 2048
        eos = set()
        gc = getattr(model, "generation_config", None)
        for src in (getattr(gc, "eos_token_id", None), getattr(cfg, "eos_token_id", None), tokenizer.eos_token_id):
            if isinstance(src, int):
                eos.add(src)
            elif isinstance(src, (list, tuple)):
                eos.update(x for x in src if isinstance(x, int))
        self.eos_ids = eos
        self.special_ids = set(getattr(tokenizer, "all_special_ids", []) or [])
        try:
            params = set(inspect.signature(model.forward).parameters)
        except (TypeError, ValueError):
            params = set()
        # transformers 5.x renamed past_key_values to cache; older model classes keep the old name
        self.cache_arg = "cache" if "cache" in params else "past_key_values"
        self.keep_arg = "logits_to_keep" in params

    def encode(self, text, add_special_tokens=True):
        with self.encode_lock:
            return self.encode_tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"]

    def check_lengths(self, prompt_ids, max_new_tokens):
        """Clamps max_new_tokens to the context; raises 413 when the prompt leaves no room."""
        n = len(prompt_ids)
        if n == 0:
            raise InputError("the prompt is empty")
        if n >= self.max_total_tokens:
            raise InputError(
                f"the prompt is {n} tokens, and this model's context is {self.max_total_tokens} tokens "
                f"(prompt plus generated tokens must fit)", status=413)
        return max(1, min(max_new_tokens, self.max_total_tokens - n))

    def stream(self, prompt_ids, p: GenParams, queued=None):
        """Yields one Step per generated token; the last one has finish_reason and generated_text.

        queued, if given, is called once the lock is taken (the request stops waiting).
        """
        with self.lock:
            if queued:
                queued()
            yield from self._run(prompt_ids, p)

    def _run(self, prompt_ids, p):
        seed = p.seed if p.seed is not None else random.randrange(2**63)
        gen = torch.Generator(device=self.device)
        gen.manual_seed(seed)
        max_new = self.check_lengths(prompt_ids, p.max_new_tokens)
        stops = [s for s in p.stop if s]
        hold_max = max((len(s) for s in stops), default=1) - 1
        counts = {}
        seen = set(prompt_ids)
        out_ids = []
        emitted = 0  # characters of the decoded output already sent
        text = ""
        past = None
        ids = torch.tensor([prompt_ids], device=self.device)
        with torch.inference_mode():
            while True:
                kwargs = {self.cache_arg: past} if past is not None else {}
                if self.keep_arg:
                    kwargs["logits_to_keep"] = 1
                out = self.model(input_ids=ids, use_cache=True, **kwargs)
                past = out.get("cache") if out.get("cache") is not None else out.get("past_key_values")
                logits = out.logits[0, -1, :].float()
                logprobs = torch.log_softmax(logits, dim=-1)
                scores = self._process(logits, p, seen, counts)
                if p.ignore_eos and self.eos_ids:
                    scores[list(self.eos_ids)] = -float("inf")
                if p.do_sample:
                    probs = torch.softmax(scores, dim=-1)
                    tok = int(torch.multinomial(probs, 1, generator=gen).item())
                else:
                    tok = int(torch.argmax(scores).item())
                lp = float(logprobs[tok].item())
                out_ids.append(tok)
                seen.add(tok)
                counts[tok] = counts.get(tok, 0) + 1
                special = tok in self.special_ids
                finish = None
                if tok in self.eos_ids and not p.ignore_eos:
                    finish = "eos_token"
                text = self.tokenizer.decode(out_ids, skip_special_tokens=True)
                final_text = text
                if stops:
                    cut = _find_stop(text, stops, max(0, emitted - hold_max))
                    if cut is not None:
                        final_text = text[:cut]
                        finish = finish or "stop_sequence"
                if finish is None and len(out_ids) >= max_new:
                    finish = "length"
                if finish:
                    delta = final_text[emitted:] if len(final_text) > emitted else ""
                    emitted = len(final_text)
                    self.metrics.tokens(len(prompt_ids), len(out_ids))
                    yield Step(tok, delta, lp, special, finish, final_text, len(out_ids), seed)
                    return
                safe = len(text)
                if text.endswith("\ufffd"):
                    safe -= 1
                if stops:
                    safe -= _held_back(text[:safe], stops)
                delta = text[emitted:safe] if safe > emitted else ""
                emitted = max(emitted, safe)
                yield Step(tok, delta, lp, special)
                ids = torch.tensor([[tok]], device=self.device)

    @staticmethod
    def _process(logits, p, seen, counts):
        scores = logits.clone()
        if p.repetition_penalty and p.repetition_penalty != 1.0 and seen:
            idx = torch.tensor(sorted(seen), device=scores.device)
            vals = scores[idx]
            scores[idx] = torch.where(vals < 0, vals * p.repetition_penalty, vals / p.repetition_penalty)
        if (p.frequency_penalty or p.presence_penalty) and counts:
            idx = torch.tensor(list(counts.keys()), device=scores.device)
            c = torch.tensor(list(counts.values()), device=scores.device, dtype=scores.dtype)
            scores[idx] -= c * p.frequency_penalty + p.presence_penalty
        if not p.do_sample:
            return scores
        if p.temperature and p.temperature != 1.0:
            scores = scores / p.temperature
        if p.top_k and 0 < p.top_k < scores.shape[-1]:
            kth = torch.topk(scores, p.top_k).values[-1]
            scores = scores.masked_fill(scores < kth, -float("inf"))
        if p.top_p is not None and 0 < p.top_p < 1.0:
            sorted_scores, order = torch.sort(scores, descending=True)
            cum = torch.softmax(sorted_scores, dim=-1).cumsum(dim=-1)
            drop = cum > p.top_p
            drop[1:] = drop[:-1].clone()  # keep the token that crosses top_p
            drop[0] = False
            scores = scores.masked_fill(torch.zeros_like(drop).scatter(0, order, drop), -float("inf"))
        if p.typical_p is not None and 0 < p.typical_p < 1.0:
            logp = torch.log_softmax(scores, dim=-1)
            pr = logp.exp()
            ent = -(torch.nan_to_num(logp) * pr).sum()
            shifted = (-torch.nan_to_num(logp, neginf=-1e9) - ent).abs()
            order = torch.argsort(shifted)
            cum = pr[order].cumsum(dim=-1)
            last = int((cum < p.typical_p).sum().item())
            keep = order[: last + 1]
            mask = torch.ones_like(scores, dtype=torch.bool)
            mask[keep] = False
            scores = scores.masked_fill(mask, -float("inf"))
        return scores


def _find_stop(text, stops, start):
    best = None
    for s in stops:
        i = text.find(s, start)
        if i >= 0 and (best is None or i < best):
            best = i
    return best


def _held_back(text, stops):
    """How many trailing characters of text could begin a stop sequence (so are not sent yet)."""
    longest = max(len(s) for s in stops)
    for k in range(min(longest - 1, len(text)), 0, -1):
        tail = text[-k:]
        if any(s.startswith(tail) for s in stops):
            return k
    return 0
