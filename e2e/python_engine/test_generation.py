"""A tiny randomly initialised Llama: chat, completions and TGI text generation, streamed and not."""

import json
import threading

import httpx
import pytest
from huggingface_hub import InferenceClient

CHAT = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "what colour is the red cat ?"}]


def sse(response):
    """The data: payloads of an SSE response, in order."""
    assert response.headers["content-type"].startswith("text/event-stream")
    return [line[len("data:"):].strip() for line in response.iter_lines() if line.startswith("data:")]


def test_chat_completion(llama):
    r = llama.post("/v1/chat/completions", {"model": "dummy", "messages": CHAT, "max_tokens": 8, "seed": 1})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["object"] == "chat.completion" and out["model"] == "tiny-llama"  # "dummy" is not echoed
    assert out["id"] and isinstance(out["created"], int) and "system_fingerprint" in out
    (choice,) = out["choices"]
    assert choice["index"] == 0 and choice["message"]["role"] == "assistant"
    assert isinstance(choice["message"]["content"], str)
    assert choice["finish_reason"] in ("stop", "length")
    u = out["usage"]
    assert u["completion_tokens"] <= 8 and u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]

    r = llama.post("/v1/chat/completions", {"model": "my-name", "messages": CHAT, "max_tokens": 4,
                                            "ignore_eos": True})
    assert r.json()["model"] == "my-name" and r.json()["choices"][0]["finish_reason"] == "length"
    assert r.json()["usage"]["completion_tokens"] == 4

    # a seed makes sampling repeatable
    body = {"messages": CHAT, "max_tokens": 10, "seed": 42, "temperature": 0.8, "ignore_eos": True}
    a = llama.post("/v1/chat/completions", body).json()["choices"][0]["message"]["content"]
    b = llama.post("/v1/chat/completions", body).json()["choices"][0]["message"]["content"]
    assert a == b


def test_chat_completion_stream(llama):
    body = {"model": "tiny", "messages": CHAT, "max_tokens": 6, "ignore_eos": True, "stream": True,
            "stream_options": {"include_usage": True}}
    with httpx.stream("POST", llama.url + "/v1/chat/completions", json=body, timeout=60) as r:
        assert r.status_code == 200
        events = sse(r)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "tiny" for c in chunks)
    content = [c for c in chunks if c["choices"]]
    assert content and all(c["choices"][0]["delta"]["role"] == "assistant" for c in content)
    assert [c["choices"][0]["finish_reason"] for c in content][-1] == "length"
    assert all(c["choices"][0]["finish_reason"] is None for c in content[:-1])
    usage = chunks[-1]
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] == 6
    assert len({c["id"] for c in chunks}) == 1


def test_inference_client_chat(llama):
    client = InferenceClient(model=llama.url)
    out = client.chat_completion(CHAT, max_tokens=5, seed=3)
    assert out.choices[0].message.role == "assistant"
    assert out.choices[0].finish_reason in ("stop", "length")
    chunks = list(client.chat_completion(CHAT, max_tokens=5, stream=True, seed=3))
    assert chunks and chunks[-1].choices[0].finish_reason in ("stop", "length")
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == out.choices[0].message.content


def test_openai_sdk(llama):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=llama.url + "/v1", api_key="unused")
    out = client.chat.completions.create(model="tiny-llama", messages=CHAT, max_tokens=5, seed=7)
    assert out.choices[0].message.role == "assistant" and out.usage.completion_tokens <= 5
    stream = client.chat.completions.create(model="tiny-llama", messages=CHAT, max_tokens=5, seed=7, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == out.choices[0].message.content
    comp = client.completions.create(model="tiny-llama", prompt="what colour is", max_tokens=4, temperature=0)
    assert comp.choices[0].finish_reason in ("stop", "length") and isinstance(comp.choices[0].text, str)
    assert [m.id for m in client.models.list()] == ["tiny-llama"]


def test_completions(llama):
    r = llama.post("/v1/completions", {"model": "tiny-llama", "prompt": "what colour is the", "max_tokens": 5,
                                       "temperature": 0, "ignore_eos": True})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["object"] == "text_completion" and out["choices"][0]["finish_reason"] == "length"
    assert out["usage"]["completion_tokens"] == 5
    greedy = out["choices"][0]["text"]
    with httpx.stream("POST", llama.url + "/v1/completions", timeout=60,
                      json={"prompt": "what colour is the", "max_tokens": 5, "temperature": 0, "ignore_eos": True,
                            "stream": True}) as r:
        events = sse(r)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert "".join(c["choices"][0]["text"] for c in chunks) == greedy
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


def test_text_generation_tgi(llama):
    prompt = "what colour is the red cat ?"
    r = llama.post("/", {"inputs": prompt, "parameters": {"max_new_tokens": 5, "ignore_eos": True,
                                                           "return_full_text": False, "details": True}})
    assert r.status_code == 200, r.text
    (out,) = r.json()
    assert out["details"]["finish_reason"] == "length" and out["details"]["generated_tokens"] == 5
    assert len(out["details"]["tokens"]) == 5
    assert all(set(t) == {"id", "text", "logprob", "special"} for t in out["details"]["tokens"])
    r = llama.post("/", {"inputs": prompt, "parameters": {"max_new_tokens": 5, "ignore_eos": True}})
    assert r.json()[0]["generated_text"] == prompt + out["generated_text"]  # full text by default at /
    r = llama.post("/generate", {"inputs": prompt, "parameters": {"max_new_tokens": 5, "ignore_eos": True}})
    assert r.json() == {"generated_text": out["generated_text"]}

    params = {"max_new_tokens": 8, "temperature": 0.7, "top_p": 0.9, "top_k": 20, "do_sample": True, "seed": 5,
              "return_full_text": False, "ignore_eos": True}
    a = llama.post("/", {"inputs": prompt, "parameters": params}).json()[0]["generated_text"]
    b = llama.post("/", {"inputs": prompt, "parameters": params}).json()[0]["generated_text"]
    assert a == b

    with httpx.stream("POST", llama.url + "/", timeout=60, json={
            "inputs": prompt, "stream": True,
            "parameters": {"max_new_tokens": 5, "ignore_eos": True, "return_full_text": False}}) as r:
        events = [json.loads(e) for e in sse(r)]
    assert len(events) == 5
    assert all(e["token"]["id"] >= 0 and e["details"] is None for e in events)
    assert all(e["generated_text"] is None for e in events[:-1])
    assert events[-1]["generated_text"] == out["generated_text"]


def test_inference_client_text_generation(llama):
    client = InferenceClient(model=llama.url)
    text = client.text_generation("what colour is", max_new_tokens=4, return_full_text=False)
    assert isinstance(text, str)
    out = client.text_generation("what colour is", max_new_tokens=4, details=True, return_full_text=False)
    assert out.generated_text == text and out.details.generated_tokens <= 4
    tokens = list(client.text_generation("what colour is", max_new_tokens=4, stream=True, details=True,
                                         return_full_text=False))
    assert tokens and tokens[-1].generated_text == text and tokens[-1].details.finish_reason


def test_stop_sequences(llama):
    full = llama.post("/", {"inputs": "what colour is", "parameters": {
        "max_new_tokens": 20, "ignore_eos": True, "return_full_text": False}}).json()[0]["generated_text"]
    stop = next((full[i:i + 2] for i in range(1, len(full) - 1) if full[i:i + 2].strip()), None)
    if stop is None:
        pytest.skip(f"no usable stop sequence in {full!r}")
    cut = full[:full.find(stop)]
    r = llama.post("/", {"inputs": "what colour is", "parameters": {
        "max_new_tokens": 20, "ignore_eos": True, "return_full_text": False, "stop": [stop], "details": True}})
    out = r.json()[0]
    assert out["generated_text"] == cut and out["details"]["finish_reason"] == "stop_sequence"
    r = llama.post("/v1/completions", {"prompt": "what colour is", "max_tokens": 20, "temperature": 0,
                                       "ignore_eos": True, "stop": stop})
    assert r.json()["choices"][0]["text"] == cut and r.json()["choices"][0]["finish_reason"] == "stop"


def test_generation_errors(llama):
    r = llama.post("/v1/chat/completions", {"messages": "hello"})
    assert r.status_code == 422 and r.json()["error_type"] == "validation"
    r = llama.post("/", {"inputs": "x", "parameters": {"max_new_tokens": "many"}})
    assert r.status_code == 422 and "max_new_tokens" in r.json()["error"]
    r = llama.post("/v1/completions", {"prompt": "colour " * 400})
    assert r.status_code == 413 and "256" in r.json()["error"]
    r = llama.post("/pipeline/feature-extraction", {"inputs": "x"})
    assert r.status_code == 422


def test_overloaded_past_max_concurrency(llama):
    """--max-concurrency 4: of 10 simultaneous long generations, some get 429 overloaded."""
    barrier = threading.Barrier(10)
    got = []

    def call():
        barrier.wait(10)
        r = httpx.post(llama.url + "/", timeout=60, json={"inputs": "what", "parameters": {
            "max_new_tokens": 200, "ignore_eos": True}})
        got.append((r.status_code, r.headers.get("retry-after"), r.json()))

    threads = [threading.Thread(target=call) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    codes = sorted(c for c, _, _ in got)
    assert len(got) == 10 and 200 in codes and 429 in codes, codes
    over = next(x for x in got if x[0] == 429)
    assert over[1] and over[2]["error_type"] == "overloaded" and "4" in over[2]["error"]
