"""Haven's inference engine: serves one hub model over HTTP with the Hugging Face API shapes.

    python engine.py --model DIR --task TASK --port PORT [--host 127.0.0.1] [--name NAME]
                     [--max-batch 32] [--max-concurrency 16]

It listens at once (GET /health answers 503 while the model loads, 200 once it
is ready) and exits non-zero, saying why, when the model cannot be loaded.
Routes: POST / and /pipeline/{task} (HF task payloads), /v1/chat/completions,
/v1/completions, /v1/embeddings, GET /v1/models, /info, /metrics, /health, and
the TEI / TGI routes /embed, /similarity, /predict, /generate, /generate_stream.
See README.md beside this file.

Only the Python standard library and Haven's ML stack (mlstack/requirements.txt).
"""

import argparse
import base64
import json
import os
import signal
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from batching import Metrics  # noqa: E402
from errors import InputError  # noqa: E402

VERSION = "0.1.0"
MAX_BODY = 64 << 20
LOAD_WAIT = 10.0  # seconds a request waits for a loading model before 503


class HTTPError(Exception):
    def __init__(self, status, message, error_type="validation", headers=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type
        self.headers = headers or {}


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


class State:
    """What every request handler shares: the arguments, the loaded model and the counters."""

    def __init__(self, args):
        self.args = args
        self.name = args.name or os.path.basename(os.path.normpath(args.model))
        self.task = args.task
        self.metrics = Metrics()
        self.ready = threading.Event()
        self.backend = None
        self.device = None
        self.dtype = None
        self.load_seconds = None

    def load(self):
        import backends

        t0 = time.monotonic()
        args = self.args
        backends.check_weights(args.model)
        task = backends.normalize_task(args.task) or backends.infer_task(args.model)
        if task not in backends.SUPPORTED_TASKS:
            raise ValueError(f"task {task!r} is not served by this engine (it serves "
                             f"{', '.join(backends.SUPPORTED_TASKS)})")
        self.task = task
        self.device = backends.pick_device()
        window = args.batch_window_ms / 1000.0
        if task in backends.EMBEDDING_TASKS:
            b = backends.Embedder(args.model, self.device, args.max_batch, window, self.metrics)
        elif task in backends.CLASSIFIER_TASKS:
            b = backends.Classifier(args.model, self.device, args.max_batch, window, self.metrics)
        elif task in backends.PIPELINE_TASKS:
            b = backends.PipelineBackend(args.model, task, self.device, args.max_batch)
        else:
            b = backends.CausalLM(args.model, self.device, self.metrics)
        self.dtype = str(next(b.st.parameters()).dtype if getattr(b, "st", None) is not None
                         else b.model.dtype).replace("torch.", "")
        self.backend = b
        self.load_seconds = time.monotonic() - t0

    def response_model(self, requested):
        """The body's model echoed back, unless it is empty, the placeholder or a URL."""
        if isinstance(requested, str) and requested and requested not in ("dummy", "tgi") \
                and not requested.startswith(("http://", "https://")):
            return requested
        return self.name

    def info(self):
        a = self.args
        out = {"model_id": self.name, "served_model_name": self.name, "model_sha": None,
               "model_pipeline_tag": self.task, "task": self.task, "model_dir": os.path.abspath(a.model),
               "model_dtype": self.dtype, "device": self.device, "ready": self.ready.is_set(),
               "max_concurrent_requests": a.max_concurrency, "max_client_batch_size": a.max_batch,
               "max_batch_requests": a.max_batch, "batch_window_ms": a.batch_window_ms,
               "load_seconds": round(self.load_seconds, 3) if self.load_seconds is not None else None,
               "router": "haven-engine", "version": VERSION}
        if self.backend is not None:
            out["kind"] = self.backend.kind
            out.update(self.backend.info())
        return out


# ---------------------------------------------------------------- generation parameter parsing


def _stops(v, name="stop"):
    if v is None:
        return []
    if isinstance(v, str):
        return [v]
    if isinstance(v, list) and all(isinstance(s, str) for s in v):
        if len(v) > 16:
            raise InputError(f"at most 16 `{name}` sequences")
        return v
    raise InputError(f"`{name}` must be a string or a list of strings")


def tgi_params(p):
    """TGI `parameters` -> (GenParams, return_full_text|None, details)."""
    from backends import as_bool, as_float, as_int
    from generation import GenParams

    g = GenParams()
    g.max_new_tokens = as_int(p.get("max_new_tokens"), "max_new_tokens", 100, lo=1)
    temperature = as_float(p.get("temperature"), "temperature", None, lo=0.0)
    g.top_k = as_int(p.get("top_k"), "top_k", 0, lo=0)
    g.top_p = as_float(p.get("top_p"), "top_p", 1.0, lo=0.0, hi=1.0)
    g.typical_p = as_float(p.get("typical_p"), "typical_p", 1.0, lo=0.0, hi=1.0)
    g.repetition_penalty = as_float(p.get("repetition_penalty"), "repetition_penalty", 1.0, lo=1e-6)
    g.frequency_penalty = as_float(p.get("frequency_penalty"), "frequency_penalty", 0.0, lo=-2.0, hi=2.0)
    g.seed = as_int(p.get("seed"), "seed", None, lo=0)
    g.stop = _stops(p.get("stop"), "stop") + _stops(p.get("stop_sequences"), "stop_sequences")
    g.ignore_eos = as_bool(p.get("ignore_eos"), "ignore_eos", False)
    do_sample = as_bool(p.get("do_sample"), "do_sample", False)
    warpers = (temperature is not None and temperature != 1.0) or g.top_k > 0 or g.top_p < 1.0 or g.typical_p < 1.0
    g.do_sample = (do_sample or warpers) and temperature != 0.0
    g.temperature = temperature if temperature else 1.0
    if p.get("best_of") not in (None, 1):
        raise InputError("best_of > 1 is not supported by this engine")
    rft = as_bool(p.get("return_full_text"), "return_full_text", None)
    details = as_bool(p.get("details"), "details", False)
    return g, rft, details


def openai_params(body, default_max):
    """OpenAI chat/completions fields -> GenParams."""
    from backends import as_bool, as_float, as_int
    from generation import GenParams

    g = GenParams()
    mt = body.get("max_completion_tokens")
    if mt is None:
        mt = body.get("max_tokens")
    g.max_new_tokens = as_int(mt, "max_tokens", default_max, lo=1)
    temperature = as_float(body.get("temperature"), "temperature", 1.0, lo=0.0, hi=2.0)
    g.top_p = as_float(body.get("top_p"), "top_p", 1.0, lo=0.0, hi=1.0)
    g.top_k = as_int(body.get("top_k"), "top_k", 0, lo=0)
    g.seed = as_int(body.get("seed"), "seed", None, lo=0)
    g.frequency_penalty = as_float(body.get("frequency_penalty"), "frequency_penalty", 0.0, lo=-2.0, hi=2.0)
    g.presence_penalty = as_float(body.get("presence_penalty"), "presence_penalty", 0.0, lo=-2.0, hi=2.0)
    g.repetition_penalty = as_float(body.get("repetition_penalty"), "repetition_penalty", 1.0, lo=1e-6)
    g.stop = _stops(body.get("stop"))
    g.ignore_eos = as_bool(body.get("ignore_eos"), "ignore_eos", False)
    g.do_sample = temperature > 0
    g.temperature = temperature if temperature > 0 else 1.0
    n = as_int(body.get("n"), "n", 1, lo=1)
    if n != 1:
        raise InputError("n > 1 is not supported by this engine")
    return g


FINISH = {"eos_token": "stop", "stop_sequence": "stop", "length": "length"}


# ---------------------------------------------------------------- the HTTP handler


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY the
    # body waits for the peer's delayed ACK of the headers (about 40 ms).
    disable_nagle_algorithm = True
    server_version = "haven-engine/" + VERSION
    sys_version = ""

    # -------- plumbing

    @property
    def state(self) -> State:
        return self.server.state

    def log_message(self, fmt, *args):  # the default per-request stderr line; we print our own
        pass

    def _log(self, status, started, note=""):
        ms = (time.monotonic() - started) * 1000
        print(f"{self.command} {self.path} {status} {ms:.1f}ms{(' ' + note) if note else ''}", flush=True)
        self.state.metrics.request_done(status, ms / 1000)

    def _send(self, status, body, content_type="application/json", headers=None):
        data = body if isinstance(body, bytes) else dumps(body)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _error(self, status, message, error_type, headers=None):
        h = {"X-Error-Message": message.encode("ascii", "replace").decode()[:500].replace("\n", " ")}
        h.update(headers or {})
        self._send(status, {"error": message, "error_type": error_type}, headers=h)

    def _read_json(self):
        n = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raw = self._read_chunked()
        else:
            try:
                n = int(n or 0)
            except ValueError:
                raise HTTPError(400, "bad Content-Length") from None
            if n > MAX_BODY:
                self.close_connection = True
                raise HTTPError(413, f"the body is {n} bytes; the limit is {MAX_BODY} bytes")
            raw = self.rfile.read(n) if n else b""
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise HTTPError(400, f"the body is not valid JSON: {e}") from None
        if not isinstance(body, dict):
            raise HTTPError(400, "the body must be a JSON object")
        return body

    def _read_chunked(self):
        out = bytearray()
        while True:
            line = self.rfile.readline(65537)
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(out)
            out += self.rfile.read(size)
            self.rfile.readline(3)
            if len(out) > MAX_BODY:
                self.close_connection = True
                raise HTTPError(413, f"the body is over the limit of {MAX_BODY} bytes")

    def _start_sse(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.send_header("X-Accel-Buffering", "no")
        self.end_headers()
        self.close_connection = True
        self._streaming = True

    def _event(self, obj):
        self.wfile.write(b"data: " + (obj if isinstance(obj, bytes) else dumps(obj)) + b"\n\n")
        self.wfile.flush()

    # -------- entry points

    def do_GET(self):
        self._dispatch()

    def do_HEAD(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_PUT(self):
        self._dispatch()

    def do_DELETE(self):
        self._dispatch()

    def _dispatch(self):
        started = time.monotonic()
        self._streaming = False
        path = urlsplit(self.path).path.rstrip("/") or "/"
        status, note = 500, ""
        entered = False
        try:
            if self.command in ("GET", "HEAD"):
                status = self._get(path)
                return
            if self.command != "POST":
                raise HTTPError(405, f"{self.command} is not allowed here", "validation")
            route = self._post_route(path)
            if route is None:
                raise HTTPError(404, f"no route POST {path}", "not_found")
            body = self._read_json()
            if not self.state.metrics.try_enter(self.state.args.max_concurrency):
                raise HTTPError(429, f"this engine is serving its limit of {self.state.args.max_concurrency} "
                                     f"concurrent requests; retry shortly", "overloaded", {"Retry-After": "1"})
            entered = True
            self._wait_ready()
            status = route(body) or 200
        except HTTPError as e:
            status = e.status
            self._error(e.status, e.message, e.error_type, e.headers)
        except InputError as e:
            status = e.status
            self._error(e.status, str(e), "validation")
        except (BrokenPipeError, ConnectionResetError):
            status, note = 499, "client gone"
            self.close_connection = True
        except Exception as e:  # noqa: BLE001 - never a traceback in a response
            traceback.print_exc(file=sys.stderr)
            status = 500
            msg = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}".rstrip(": ")
            try:
                self._error(500, f"inference failed: {msg}", "generation")
            except OSError:
                note = "client gone"
        finally:
            if entered:
                self.state.metrics.add_in_flight(-1)
            self._log(status, started, note)

    def _wait_ready(self):
        if not self.state.ready.wait(LOAD_WAIT):
            raise HTTPError(503, f"Model {self.state.name} is loading", "unhealthy", {"Retry-After": "5"})

    def _get(self, path):
        st = self.state
        if path in ("/health", "/ping", "/v2/health/ready"):
            if st.ready.is_set():
                self._send(200, {"status": "ok"})
                return 200
            self._error(503, f"Model {st.name} is loading", "unhealthy", {"Retry-After": "2"})
            return 503
        if path in ("/info", "/"):
            self._send(200, st.info())
            return 200
        if path == "/metrics":
            text = st.metrics.render({"model": st.name, "task": st.task or ""})
            self._send(200, text.encode(), "text/plain; version=0.0.4; charset=utf-8")
            return 200
        if path in ("/v1/models", "/models"):
            self._send(200, {"object": "list", "data": [{"id": st.name, "object": "model", "created": 0,
                                                         "owned_by": "haven"}]})
            return 200
        if path.startswith("/v1/models/"):
            self._send(200, {"id": st.name, "object": "model", "created": 0, "owned_by": "haven"})
            return 200
        raise HTTPError(404, f"no route GET {path}", "not_found")

    def _post_route(self, path):
        if path == "/":
            return lambda body: self._task(None, body)
        if path.startswith("/pipeline/"):
            task = path[len("/pipeline/"):]
            return lambda body: self._task(task, body)
        return {
            "/v1/chat/completions": self._chat, "/chat/completions": self._chat,
            "/v1/completions": self._completions, "/completions": self._completions,
            "/v1/embeddings": self._embeddings, "/embeddings": self._embeddings,
            "/embed": self._embed, "/similarity": self._similarity, "/predict": self._predict,
            "/generate": lambda body: self._tgi(body, stream=False, compat=False),
            "/generate_stream": lambda body: self._tgi(body, stream=True, compat=False),
            "/invocations": lambda body: self._task(None, body),
        }.get(path)

    # -------- backend checks

    def _backend(self, kind, what):
        b = self.state.backend
        if b.kind != kind:
            raise HTTPError(422, f"{what} needs a {_KIND_NEEDS[kind]} model; {self.state.name} serves "
                                 f"{self.state.task}", "validation")
        return b

    # -------- HF task API

    def _task(self, task, body):
        import backends

        st = self.state
        b = st.backend
        if not task and b.kind == "embedding" and not isinstance(body.get("inputs"), dict):
            # The model's own route embeds texts whatever its tag: the Hub's clients send feature
            # extraction there for sentence-similarity models too.
            task = "feature-extraction"
        task = backends.normalize_task(task) if task else st.task
        if task not in b.tasks:
            raise HTTPError(422, f"model {st.name} serves {', '.join(b.tasks)}, not {task}", "validation")
        if b.kind == "generation":
            return self._tgi(body, stream=bool(body.get("stream")), compat=True)
        self._send(200, b.handle(task, body))
        return 200

    def _embed(self, body):
        b = self._backend("embedding", "/embed")
        self._send(200, b.feature_extraction(body))

    def _similarity(self, body):
        b = self._backend("embedding", "/similarity")
        self._send(200, b.sentence_similarity(body))

    def _predict(self, body):
        b = self._backend("classifier", "/predict")
        self._send(200, b.text_classification(body, flat_single=True))

    def _embeddings(self, body):
        import numpy as np

        from backends import as_int

        b = self._backend("embedding", "/v1/embeddings")
        inp = body.get("input")
        if isinstance(inp, str):
            texts = [inp]
        elif isinstance(inp, list) and inp and all(isinstance(x, str) for x in inp):
            texts = inp
        elif isinstance(inp, list) and inp and all(isinstance(x, int) for x in inp):
            texts = [b.count_tokens.tokenizer.decode(inp, skip_special_tokens=True)]
        elif isinstance(inp, list) and inp and all(isinstance(x, list) and all(isinstance(y, int) for y in x)
                                                   for x in inp):
            texts = [b.count_tokens.tokenizer.decode(x, skip_special_tokens=True) for x in inp]
        else:
            raise InputError("`input` must be a string, a list of strings, or token ids")
        fmt = body.get("encoding_format") or "float"
        if fmt not in ("float", "base64"):
            raise InputError("`encoding_format` must be float or base64")
        dims = as_int(body.get("dimensions"), "dimensions", None, lo=1)
        rows = b.embed(texts, normalize=True, truncate=bool(body.get("truncate", False)), dimensions=dims)
        tokens = sum(b.count_tokens(texts))
        data = []
        for i, row in enumerate(rows):
            emb = (base64.b64encode(np.asarray(row, dtype="<f4").tobytes()).decode() if fmt == "base64"
                   else row.tolist())
            data.append({"object": "embedding", "index": i, "embedding": emb})
        self._send(200, {"object": "list", "data": data, "model": self.state.response_model(body.get("model")),
                         "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    # -------- generation

    def _steps(self, lm, ids, gp):
        """The generator's steps, counting the request as queued until it holds the model."""
        m = self.state.metrics
        m.add_queued(1)
        waiting = [True]

        def got():
            if waiting[0]:
                waiting[0] = False
                m.add_queued(-1)

        try:
            yield from lm.gen.stream(ids, gp, queued=got)
        finally:
            got()

    def _generate(self, it, run, error_event):
        """Runs run(first step) over a generation's steps. A failure before anything was sent is the
        request's error (a JSON answer); once a stream has begun, it ends the stream with
        error_event(message)."""
        try:
            return run(next(it))
        except (BrokenPipeError, ConnectionResetError, InputError, HTTPError):
            raise
        except Exception as e:  # noqa: BLE001
            if not getattr(self, '_streaming', False):
                raise
            traceback.print_exc(file=sys.stderr)
            self._event(error_event(f"generation failed: {type(e).__name__}: {e}"))
            return 200
        finally:
            it.close()

    def _tgi(self, body, stream, compat):
        lm = self._backend("generation", "text generation")
        inputs = body.get("inputs")
        if not isinstance(inputs, str):
            raise InputError('text-generation takes {"inputs": str, "parameters": {…}}')
        gp, rft, details = tgi_params(body.get("parameters") or {})
        return_full = rft if rft is not None else compat  # the compat route defaults from the pipeline tag
        ids = lm.gen.encode(inputs)
        gp.max_new_tokens = lm.gen.check_lengths(ids, gp.max_new_tokens)
        it = self._steps(lm, ids, gp)

        def run(first):
            if not stream:
                steps = [first] + list(it)
                last = steps[-1]
                text = (inputs + last.generated_text) if return_full else last.generated_text
                out = {"generated_text": text}
                if details:
                    out["details"] = {"finish_reason": last.finish_reason, "generated_tokens": last.generated_tokens,
                                      "seed": last.seed if gp.do_sample else None, "prefill": [],
                                      "tokens": [_token(lm, s) for s in steps]}
                self._send(200, [out] if compat else out)
                return 200
            self._start_sse()
            index = 0
            for s in _chain(first, it):
                index += 1
                ev = {"index": index, "token": _token(lm, s), "generated_text": None, "details": None}
                if s.finish_reason:
                    ev["generated_text"] = (inputs + s.generated_text) if return_full else s.generated_text
                    if details:
                        ev["details"] = {"finish_reason": s.finish_reason, "generated_tokens": s.generated_tokens,
                                         "seed": s.seed if gp.do_sample else None, "input_length": len(ids)}
                self._event(ev)
            return 200

        return self._generate(it, run, lambda msg: {"error": msg, "error_type": "generation"})

    def _chat(self, body):
        lm = self._backend("generation", "chat completions")
        tools = body.get("tools") if isinstance(body.get("tools"), list) else None
        ids = lm.chat_prompt(body.get("messages"), tools)
        gp = openai_params(body, default_max=min(4096, max(1, lm.gen.max_total_tokens - len(ids))))
        gp.max_new_tokens = lm.gen.check_lengths(ids, gp.max_new_tokens)
        want_logprobs = bool(body.get("logprobs"))
        model = self.state.response_model(body.get("model"))
        cid = "chatcmpl-" + uuid.uuid4().hex[:24]
        created = int(time.time())
        fp = f"haven-engine-{VERSION}"
        it = self._steps(lm, ids, gp)

        def run(first):
            if not body.get("stream"):
                steps = [first] + list(it)
                last = steps[-1]
                choice = {"index": 0, "message": {"role": "assistant", "content": last.generated_text},
                          "logprobs": _logprobs(lm, steps) if want_logprobs else None,
                          "finish_reason": FINISH[last.finish_reason]}
                self._send(200, {"object": "chat.completion", "id": cid, "created": created, "model": model,
                                 "system_fingerprint": fp, "choices": [choice],
                                 "usage": _usage(len(ids), last.generated_tokens)})
                return 200
            opts = body.get("stream_options") if isinstance(body.get("stream_options"), dict) else {}
            self._start_sse()
            last = None
            for s in _chain(first, it):
                last = s
                if not s.text and not s.finish_reason:
                    continue
                self._event({"object": "chat.completion.chunk", "id": cid, "created": created, "model": model,
                             "system_fingerprint": fp,
                             "choices": [{"index": 0, "delta": {"role": "assistant", "content": s.text},
                                          "logprobs": _logprobs(lm, [s]) if want_logprobs else None,
                                          "finish_reason": FINISH.get(s.finish_reason)}],
                             "usage": None})
            if opts.get("include_usage") and last is not None:
                self._event({"object": "chat.completion.chunk", "id": cid, "created": created, "model": model,
                             "system_fingerprint": fp, "choices": [],
                             "usage": _usage(len(ids), last.generated_tokens)})
            self._event(b"[DONE]")
            return 200

        return self._generate(it, run, lambda msg: {"error": {"message": msg, "http_status_code": 500}})

    def _completions(self, body):
        lm = self._backend("generation", "completions")
        prompt = body.get("prompt")
        if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
            prompt = prompt[0]
        if isinstance(prompt, str):
            ids = lm.gen.encode(prompt)
        elif isinstance(prompt, list) and prompt and all(isinstance(x, int) for x in prompt):
            ids = list(prompt)
            prompt = lm.tokenizer.decode(ids)
        else:
            raise InputError("`prompt` must be a string (or one string in a list, or token ids)")
        gp = openai_params(body, default_max=16)
        gp.max_new_tokens = lm.gen.check_lengths(ids, gp.max_new_tokens)
        echo = bool(body.get("echo"))
        model = self.state.response_model(body.get("model"))
        cid = "cmpl-" + uuid.uuid4().hex[:24]
        created = int(time.time())
        fp = f"haven-engine-{VERSION}"
        it = self._steps(lm, ids, gp)

        def run(first):
            if not body.get("stream"):
                steps = [first] + list(it)
                last = steps[-1]
                text = (prompt + last.generated_text) if echo else last.generated_text
                self._send(200, {"id": cid, "object": "text_completion", "created": created, "model": model,
                                 "system_fingerprint": fp,
                                 "choices": [{"index": 0, "text": text, "logprobs": None,
                                              "finish_reason": FINISH[last.finish_reason]}],
                                 "usage": _usage(len(ids), last.generated_tokens)})
                return 200
            opts = body.get("stream_options") if isinstance(body.get("stream_options"), dict) else {}
            self._start_sse()
            last = None

            def chunk(text, finish):
                return {"id": cid, "object": "text_completion", "created": created, "model": model,
                        "system_fingerprint": fp,
                        "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish}]}

            if echo:
                self._event(chunk(prompt, None))
            for s in _chain(first, it):
                last = s
                if s.text or s.finish_reason:
                    self._event(chunk(s.text, FINISH.get(s.finish_reason)))
            if opts.get("include_usage") and last is not None:
                c = chunk("", None)
                c["choices"] = []
                c["usage"] = _usage(len(ids), last.generated_tokens)
                self._event(c)
            self._event(b"[DONE]")
            return 200

        return self._generate(it, run, lambda msg: {"error": {"message": msg, "http_status_code": 500}})


_KIND_NEEDS = {"embedding": "feature-extraction (embedding)", "classifier": "text-classification",
               "generation": "text-generation", "pipeline": "transformers pipeline"}


def _chain(first, rest):
    yield first
    yield from rest


def _token(lm, s):
    return {"id": s.token_id, "text": s.text, "logprob": round(s.logprob, 6), "special": s.special}


def _logprobs(lm, steps):
    return {"content": [{"token": lm.tokenizer.decode([s.token_id]), "logprob": round(s.logprob, 6),
                         "bytes": None, "top_logprobs": []} for s in steps]}


def _usage(prompt, completion):
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512

    def handle_error(self, request, client_address):
        err = sys.exc_info()[1]
        if isinstance(err, (ConnectionError, TimeoutError)):
            return  # a client that went away: nothing to report
        print(f"engine: error serving {client_address}: {type(err).__name__}: {err}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- main


def set_threads():
    """torch's intra-op threads from CPU_CORES or OMP_NUM_THREADS when set."""
    for var in ("CPU_CORES", "OMP_NUM_THREADS"):
        v = os.environ.get(var, "").strip()
        try:
            n = int(float(v))
        except ValueError:
            continue
        if n > 0:
            import torch

            torch.set_num_threads(n)
            try:
                torch.set_num_interop_threads(max(1, min(n, 4)))
            except RuntimeError:
                pass
            return n
    return None


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="engine.py", description="Serve one hub model over HTTP (HF API shapes).")
    ap.add_argument("--model", required=True, help="the model folder (a checkout of the model repository)")
    ap.add_argument("--task", default="", help="the pipeline tag to serve; inferred from the folder when empty")
    ap.add_argument("--port", type=int, required=True, help="TCP port (0: any free port, printed)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--name", default="", help="the model name answered in responses (default: the folder name)")
    ap.add_argument("--max-batch", type=int, default=32, help="most inputs per forward pass and per request")
    ap.add_argument("--max-concurrency", type=int, default=16, help="concurrent requests before 429")
    ap.add_argument("--batch-window-ms", type=float, default=5.0, help="how long a batch waits for more inputs")
    a = ap.parse_args(argv)
    if a.max_batch < 1 or a.max_concurrency < 1:
        ap.error("--max-batch and --max-concurrency must be at least 1")
    return a


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    state = State(args)
    try:
        server = Server((args.host, args.port), Handler)
    except OSError as e:
        print(f"engine: cannot listen on {args.host}:{args.port}: {e}", file=sys.stderr, flush=True)
        return 2
    server.state = state
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    port = server.server_address[1]
    print(f"engine listening on http://{args.host}:{port} model={args.model}", flush=True)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    try:
        threads = set_threads()
        state.load()
    except BaseException as e:  # noqa: BLE001 - the reason goes to the log, then a non-zero exit
        if isinstance(e, KeyboardInterrupt):
            return 130
        print(f"engine: cannot load the model in {args.model}: {type(e).__name__}: {e}", file=sys.stderr,
              flush=True)
        if os.environ.get("HAVEN_ENGINE_DEBUG"):
            traceback.print_exc(file=sys.stderr)
        server.server_close()
        return 1
    state.ready.set()
    print(f"engine ready task={state.task} model={state.name} load_seconds={state.load_seconds:.2f} "
          f"device={state.device} dtype={state.dtype} threads={threads or 'default'}", flush=True)
    while not stop.wait(3600):
        pass
    print("engine stopping", flush=True)
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # daemon threads (the batcher, torch pools) need not be joined
