package onnx

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxBody bounds a request body, as the Python engine does.
const maxBody = 64 << 20

// Handler serves the model with the Python engine's routes and shapes for
// its tasks: the Hub's task API at / and /pipeline/{task}, /v1/embeddings,
// the TEI routes /embed, /similarity and /predict, and /health, /info,
// /metrics and /v1/models.
func (m *Model) Handler() http.Handler {
	return http.HandlerFunc(m.serve)
}

func (m *Model) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	p := strings.TrimRight(r.URL.Path, "/")
	if p == "" {
		p = "/"
	}
	status := m.route(w, r, p)
	m.metrics.done(status, time.Since(start))
}

func (m *Model) route(w http.ResponseWriter, r *http.Request, p string) int {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		switch {
		case p == "/health" || p == "/ping" || p == "/v2/health/ready":
			return writeJSON(w, 200, map[string]any{"status": "ok"})
		case p == "/info" || p == "/":
			return writeJSON(w, 200, m.info())
		case p == "/metrics":
			w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
			w.WriteHeader(200)
			io.WriteString(w, m.metrics.render(m.opts.Name, m.opts.Task, m.inflight.Load()))
			return 200
		case p == "/v1/models" || p == "/models":
			return writeJSON(w, 200, map[string]any{"object": "list", "data": []any{m.modelObject()}})
		case strings.HasPrefix(p, "/v1/models/"):
			return writeJSON(w, 200, m.modelObject())
		}
		return writeError(w, 404, "no route GET "+p, "not_found", nil)
	}
	if r.Method != http.MethodPost {
		return writeError(w, 405, r.Method+" is not allowed here", "validation", nil)
	}
	var run func(map[string]any) (any, error)
	switch {
	case p == "/" || p == "/invocations":
		run = func(b map[string]any) (any, error) {
			// The model's own route embeds texts whatever its tag: the Hub's
			// clients send feature extraction there for sentence-similarity
			// models too.
			if _, pair := b["inputs"].(map[string]any); m.kind == kindEmbedding && !pair {
				return m.featureExtraction(b, "")
			}
			return m.task(m.opts.Task, b)
		}
	case strings.HasPrefix(p, "/pipeline/"):
		task := strings.TrimPrefix(p, "/pipeline/")
		run = func(b map[string]any) (any, error) { return m.task(task, b) }
	case p == "/v1/embeddings" || p == "/embeddings":
		run = m.embeddings
	case p == "/embed":
		run = func(b map[string]any) (any, error) { return m.featureExtraction(b, "/embed") }
	case p == "/similarity":
		run = func(b map[string]any) (any, error) { return m.similarity(b, "/similarity") }
	case p == "/rerank":
		run = func(b map[string]any) (any, error) { return m.rerank(b, "/rerank") }
	case p == "/predict":
		run = func(b map[string]any) (any, error) { return m.classify(b, true, "/predict") }
	case slices.Contains([]string{"/v1/chat/completions", "/chat/completions", "/v1/completions", "/completions", "/generate", "/generate_stream"}, p):
		return writeError(w, 422, fmt.Sprintf("%s needs a text-generation model; %s serves %s", p, m.opts.Name, m.opts.Task), "validation", nil)
	default:
		return writeError(w, 404, "no route POST "+p, "not_found", nil)
	}
	body, err := readBody(w, r)
	if err != nil {
		return writeErr(w, err)
	}
	if n := m.inflight.Add(1); n > int64(m.opts.MaxConcurrency) {
		m.inflight.Add(-1)
		return writeError(w, 429, fmt.Sprintf("this engine is serving its limit of %d concurrent requests; retry shortly", m.opts.MaxConcurrency),
			"overloaded", map[string]string{"Retry-After": "1"})
	}
	defer m.inflight.Add(-1)
	out, err := run(body)
	if err != nil {
		return writeErr(w, err)
	}
	return writeJSON(w, 200, out)
}

func readBody(w http.ResponseWriter, r *http.Request) (map[string]any, error) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, badInput(413, "the body is over the limit of %d bytes", maxBody)
		}
		return nil, badInput(400, "reading the body: %v", err)
	}
	if strings.TrimSpace(string(raw)) == "" {
		return map[string]any{}, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, badInput(400, "the body is not valid JSON: %v", err)
	}
	body, ok := v.(map[string]any)
	if !ok {
		return nil, badInput(400, "the body must be a JSON object")
	}
	return body, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		return writeError(w, 500, "inference failed: "+err.Error(), "generation", nil)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
	return status
}

func writeError(w http.ResponseWriter, status int, msg, typ string, headers map[string]string) int {
	h := w.Header()
	h.Set("X-Error-Message", strings.ReplaceAll(truncate(msg, 500), "\n", " "))
	for k, v := range headers {
		h.Set(k, v)
	}
	return writeJSON(w, status, map[string]any{"error": msg, "error_type": typ})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func writeErr(w http.ResponseWriter, err error) int {
	var ie *inputError
	if errors.As(err, &ie) {
		return writeError(w, ie.status, ie.msg, "validation", nil)
	}
	return writeError(w, 500, "inference failed: "+err.Error(), "generation", nil)
}

func (m *Model) modelObject() map[string]any {
	return map[string]any{"id": m.opts.Name, "object": "model", "created": 0, "owned_by": "haven"}
}

func (m *Model) tasks() []string {
	switch m.kind {
	case kindClassifier:
		return []string{"text-classification", "zero-shot-classification"}
	case kindReranker:
		return []string{"text-ranking"}
	case kindTokens:
		return []string{"token-classification"}
	}
	return []string{"feature-extraction", "sentence-similarity"}
}

func (m *Model) info() map[string]any {
	out := map[string]any{
		"model_id": m.opts.Name, "served_model_name": m.opts.Name, "model_sha": nil,
		"model_pipeline_tag": m.opts.Task, "task": m.opts.Task, "model_dir": m.dir,
		"model_dtype": "float32", "device": "cpu", "ready": true,
		"max_concurrent_requests": m.opts.MaxConcurrency, "max_client_batch_size": m.opts.MaxBatch,
		"max_batch_requests": m.opts.MaxBatch, "batch_window_ms": 0,
		"load_seconds": math.Round(m.loadTime.Seconds()*1000) / 1000,
		"router":       "haven-go-engine", "version": "0.1.0", "kind": m.kind,
		"engine": "go", "backend": m.backend, "max_input_length": m.maxLen,
	}
	if m.labels != nil {
		id2label, label2id := map[string]string{}, map[string]int{}
		for i, l := range m.labels {
			id2label[strconv.Itoa(i)] = l
			label2id[l] = i
		}
		kind := "classifier"
		if m.kind == kindReranker {
			kind = "reranker"
		}
		out["model_type"] = map[string]any{kind: map[string]any{"id2label": id2label, "label2id": label2id}}
	} else {
		out["model_type"] = map[string]any{"embedding": map[string]any{"pooling": m.pooling}}
		out["dimensions"] = m.dim
	}
	return out
}

// task serves the Hub's task API.
func (m *Model) task(task string, body map[string]any) (any, error) {
	if !slices.Contains(m.tasks(), task) {
		return nil, badInput(422, "model %s serves %s, not %s", m.opts.Name, strings.Join(m.tasks(), ", "), task)
	}
	switch task {
	case "text-classification":
		return m.classify(body, false, "")
	case "zero-shot-classification":
		return m.zeroShot(body)
	case "text-ranking":
		return m.rerank(body, "")
	case "token-classification":
		return m.tokenClassification(body)
	case "sentence-similarity":
		return m.similarity(body, "")
	}
	if _, ok := body["inputs"].(map[string]any); ok {
		return m.similarity(body, "")
	}
	return m.featureExtraction(body, "")
}

func (m *Model) needs(kind, what string) error {
	if what != "" && m.kind != kind {
		need := map[string]string{kindEmbedding: "feature-extraction (embedding)", kindClassifier: "text-classification",
			kindReranker: "text-ranking (cross-encoder)"}[kind]
		return badInput(422, "%s needs a %s model; %s serves %s", what, need, m.opts.Name, m.opts.Task)
	}
	return nil
}

// texts reads a string or a non-empty list of strings.
func texts(v any, what string) ([]string, bool, error) {
	switch x := v.(type) {
	case string:
		return []string{x}, true, nil
	case []any:
		if len(x) == 0 {
			return nil, false, badInput(422, "`%s` is an empty list", what)
		}
		out := make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, false, badInput(422, "`%s` must be a string or a list of strings", what)
			}
			out[i] = s
		}
		return out, false, nil
	case nil:
		return nil, false, badInput(422, "`%s` is missing: send {\"%s\": \"some text\"}", what, what)
	}
	return nil, false, badInput(422, "`%s` must be a string or a list of strings", what)
}

func params(body map[string]any) (map[string]any, error) {
	switch p := body["parameters"].(type) {
	case nil:
		return map[string]any{}, nil
	case map[string]any:
		return p, nil
	}
	return nil, badInput(422, "`parameters` must be an object")
}

func boolOpt(v any, name string, def bool) (bool, error) {
	switch x := v.(type) {
	case nil:
		return def, nil
	case bool:
		return x, nil
	}
	return false, badInput(422, "`%s` must be true or false", name)
}

func intOpt(v any, name string, def, lo int) (int, error) {
	if v == nil {
		return def, nil
	}
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) {
		return 0, badInput(422, "`%s` must be an integer", name)
	}
	if int(f) < lo {
		return 0, badInput(422, "`%s` must be at least %d", name, lo)
	}
	return int(f), nil
}

// embed embeds texts, cut to dims (0: all) and then normalised when norm.
func (m *Model) embed(in []string, norm, truncate bool, dims int) ([][]float32, int, error) {
	rows, tokens, err := m.Embed(in, false, truncate)
	if err != nil {
		return nil, 0, err
	}
	if dims > 0 {
		if dims > m.dim {
			return nil, 0, badInput(422, "dimensions must be between 1 and %d", m.dim)
		}
		for i := range rows {
			rows[i] = rows[i][:dims]
		}
	}
	if norm {
		for _, r := range rows {
			normalize(r)
		}
	}
	return rows, tokens, nil
}

func (m *Model) featureExtraction(body map[string]any, what string) (any, error) {
	if err := m.needs(kindEmbedding, what); err != nil {
		return nil, err
	}
	in, _, err := texts(body["inputs"], "inputs")
	if err != nil {
		return nil, err
	}
	p, _ := body["parameters"].(map[string]any)
	opt := func(name string) any {
		if v, ok := body[name]; ok && v != nil {
			return v
		}
		return p[name]
	}
	dims, err := intOpt(opt("dimensions"), "dimensions", 0, 1)
	if err != nil {
		return nil, err
	}
	norm, err := boolOpt(opt("normalize"), "normalize", true)
	if err != nil {
		return nil, err
	}
	trunc, err := boolOpt(opt("truncate"), "truncate", false)
	if err != nil {
		return nil, err
	}
	if err := m.prompt(opt("prompt_name"), in); err != nil {
		return nil, err
	}
	rows, _, err := m.embed(in, norm, trunc, dims)
	return rows, err
}

// prompt refuses a prompt name: the Go engine serves models without
// sentence-transformers prompts.
func (m *Model) prompt(name any, _ []string) error {
	if name != nil {
		return badInput(422, "unknown prompt_name %v; this model has no prompts", name)
	}
	return nil
}

func (m *Model) similarity(body map[string]any, what string) (any, error) {
	if err := m.needs(kindEmbedding, what); err != nil {
		return nil, err
	}
	in, ok := body["inputs"].(map[string]any)
	if !ok {
		return nil, badInput(422, `sentence-similarity takes {"inputs": {"source_sentence": str, "sentences": [str]}}`)
	}
	src, ok := in["source_sentence"].(string)
	if !ok {
		return nil, badInput(422, "`inputs.source_sentence` must be a string")
	}
	sents, _, err := texts(in["sentences"], "inputs.sentences")
	if _, isList := in["sentences"].([]any); err != nil || !isList {
		return nil, badInput(422, "`inputs.sentences` must be a non-empty list of strings")
	}
	p, err := params(body)
	if err != nil {
		return nil, err
	}
	trunc, err := boolOpt(p["truncate"], "truncate", true)
	if err != nil {
		return nil, err
	}
	if err := m.prompt(p["prompt_name"], nil); err != nil {
		return nil, err
	}
	rows, _, err := m.embed(append([]string{src}, sents...), true, trunc, 0)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(sents))
	for i, r := range rows[1:] {
		s := 0.0
		for k, v := range r {
			s += float64(v) * float64(rows[0][k])
		}
		out[i] = float64(float32(s))
	}
	return out, nil
}

func (m *Model) embeddings(body map[string]any) (any, error) {
	if err := m.needs(kindEmbedding, "/v1/embeddings"); err != nil {
		return nil, err
	}
	var in []string
	switch x := body["input"].(type) {
	case string:
		in = []string{x}
	case []any:
		if len(x) == 0 {
			break
		}
		switch x[0].(type) {
		case string:
			in, _, _ = texts(x, "input")
		case float64:
			if ids, ok := intList(x); ok {
				in = []string{m.tok.Decode(ids, true)}
			}
		case []any:
			for _, e := range x {
				l, _ := e.([]any)
				ids, ok := intList(l)
				if !ok {
					in = nil
					break
				}
				in = append(in, m.tok.Decode(ids, true))
			}
		}
	}
	if in == nil {
		return nil, badInput(422, "`input` must be a string, a list of strings, or token ids")
	}
	format := "float"
	if f, ok := body["encoding_format"].(string); ok && f != "" {
		format = f
	}
	if format != "float" && format != "base64" {
		return nil, badInput(422, "`encoding_format` must be float or base64")
	}
	dims, err := intOpt(body["dimensions"], "dimensions", 0, 1)
	if err != nil {
		return nil, err
	}
	trunc, _ := body["truncate"].(bool)
	rows, tokens, err := m.embed(in, true, trunc, dims)
	if err != nil {
		return nil, err
	}
	data := make([]any, len(rows))
	for i, r := range rows {
		var emb any = r
		if format == "base64" {
			b := make([]byte, 4*len(r))
			for k, v := range r {
				binary.LittleEndian.PutUint32(b[4*k:], math.Float32bits(v))
			}
			emb = base64.StdEncoding.EncodeToString(b)
		}
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": emb}
	}
	model := m.opts.Name
	if s, ok := body["model"].(string); ok && s != "" && s != "dummy" && s != "tgi" &&
		!strings.HasPrefix(s, "http://") && !strings.HasPrefix(s, "https://") {
		model = s
	}
	return map[string]any{"object": "list", "data": data, "model": model,
		"usage": map[string]any{"prompt_tokens": tokens, "total_tokens": tokens}}, nil
}

func intList(x []any) ([]int, bool) {
	if len(x) == 0 {
		return nil, false
	}
	out := make([]int, len(x))
	for i, e := range x {
		f, ok := e.(float64)
		if !ok || f != math.Trunc(f) {
			return nil, false
		}
		out[i] = int(f)
	}
	return out, true
}

// classify serves text classification: one ranked list of labels per
// input (a single one flat for /predict).
func (m *Model) classify(body map[string]any, flatSingle bool, what string) (any, error) {
	if err := m.needs(kindClassifier, what); err != nil {
		return nil, err
	}
	items, single, err := classItems(body["inputs"])
	if err != nil {
		return nil, err
	}
	p, err := params(body)
	if err != nil {
		return nil, err
	}
	fn := m.fn
	if s, ok := p["function_to_apply"].(string); ok && s != "" {
		fn = s
	}
	if fn != "softmax" && fn != "sigmoid" && fn != "none" {
		return nil, badInput(422, "`function_to_apply` must be softmax, sigmoid or none")
	}
	topK, err := intOpt(p["top_k"], "top_k", 0, 1)
	if err != nil {
		return nil, err
	}
	tv := p["truncation"]
	if tv == nil {
		tv = p["truncate"]
	}
	if tv == nil {
		tv = body["truncate"]
	}
	trunc, err := boolOpt(tv, "truncation", false)
	if err != nil {
		return nil, err
	}
	if len(items) > m.opts.MaxBatch {
		return nil, badInput(413, "%d inputs in one request; this engine takes at most %d", len(items), m.opts.MaxBatch)
	}
	for i := range items {
		items[i].truncate = trunc
	}
	if _, err := m.count(items); err != nil {
		return nil, err
	}
	rows, err := m.batcher.submit(items)
	if err != nil {
		return nil, err
	}
	type scored struct {
		Label string  `json:"label"`
		Score float64 `json:"score"`
	}
	out := make([][]scored, len(rows))
	for i, logits := range rows {
		scores := apply(fn, logits)
		ranked := make([]scored, len(scores))
		for k, s := range scores {
			ranked[k] = scored{m.labels[k], s}
		}
		sort.SliceStable(ranked, func(a, b int) bool { return ranked[a].Score > ranked[b].Score })
		if topK > 0 && topK < len(ranked) {
			ranked = ranked[:topK]
		}
		out[i] = ranked
	}
	if flatSingle && single {
		return out[0], nil
	}
	return out, nil
}

func classItems(v any) ([]item, bool, error) {
	switch x := v.(type) {
	case map[string]any:
		text, ok := x["text"].(string)
		if !ok {
			return nil, false, badInput(422, `a text pair is {"text": str, "text_pair": str}`)
		}
		it := item{text: text}
		if pv, present := x["text_pair"]; present && pv != nil {
			pair, ok := pv.(string)
			if !ok {
				return nil, false, badInput(422, "`text_pair` must be a string")
			}
			it.pair, it.hasPair = pair, true
		}
		return []item{it}, true, nil
	case []any:
		if len(x) > 0 {
			if _, ok := x[0].(map[string]any); ok {
				var out []item
				for _, e := range x {
					if _, ok := e.(map[string]any); !ok {
						return nil, false, badInput(422, "`inputs` must be a string or a list of strings")
					}
					one, _, err := classItems(e)
					if err != nil {
						return nil, false, err
					}
					out = append(out, one...)
				}
				return out, false, nil
			}
		}
	}
	in, single, err := texts(v, "inputs")
	if err != nil {
		return nil, false, err
	}
	out := make([]item, len(in))
	for i, t := range in {
		out[i] = item{text: t}
	}
	return out, single, nil
}

func apply(fn string, logits []float32) []float64 {
	out := make([]float64, len(logits))
	switch fn {
	case "softmax":
		hi := math.Inf(-1)
		for _, v := range logits {
			hi = math.Max(hi, float64(v))
		}
		sum := 0.0
		for i, v := range logits {
			out[i] = math.Exp(float64(v) - hi)
			sum += out[i]
		}
		for i := range out {
			out[i] /= sum
		}
	case "sigmoid":
		for i, v := range logits {
			out[i] = 1 / (1 + math.Exp(-float64(v)))
		}
	default:
		for i, v := range logits {
			out[i] = float64(v)
		}
	}
	return out
}

// metrics are the engine's counters, in the Python engine's names.
type metrics struct {
	mu       sync.Mutex
	requests map[int]int64
	sum      float64
	buckets  [len(durationBuckets) + 1]int64
	// Inputs per forward pass: a histogram over batchBuckets, their sum
	// and the largest.
	batches  [len(batchBuckets) + 1]int64
	batchSum int64
	batchMax int
}

var batchBuckets = [...]float64{1, 2, 4, 8, 16, 32, 64, 128}

// batch counts a forward pass of n inputs.
func (c *metrics) batch(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batches[sort.SearchFloat64s(batchBuckets[:], float64(n))]++
	c.batchSum += int64(n)
	c.batchMax = max(c.batchMax, n)
}

var durationBuckets = [...]float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

func (c *metrics) done(status int, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.requests == nil {
		c.requests = map[int]int64{}
	}
	c.requests[status]++
	s := d.Seconds()
	c.sum += s
	i := sort.SearchFloat64s(durationBuckets[:], s)
	c.buckets[i]++
}

func (c *metrics) render(model, task string, inflight int64) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	base := fmt.Sprintf("model=%q,task=%q", model, task)
	var b strings.Builder
	metric := func(name, kind, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, kind)
	}
	metric("haven_engine_requests_in_flight", "gauge", "Requests being served now.")
	fmt.Fprintf(&b, "haven_engine_requests_in_flight{%s} %d\n", base, inflight)
	metric("haven_engine_queue_size", "gauge", "Requests waiting for the model (batch queue or lock).")
	fmt.Fprintf(&b, "haven_engine_queue_size{%s} 0\n", base)
	metric("haven_engine_requests_total", "counter", "Requests answered, by HTTP status.")
	codes := make([]int, 0, len(c.requests))
	for s := range c.requests {
		codes = append(codes, s)
	}
	sort.Ints(codes)
	for _, s := range codes {
		fmt.Fprintf(&b, "haven_engine_requests_total{%s,status=\"%d\"} %d\n", base, s, c.requests[s])
	}
	metric("haven_engine_request_duration_seconds", "histogram", "Time to answer a request.")
	var acc int64
	for i, le := range durationBuckets {
		acc += c.buckets[i]
		fmt.Fprintf(&b, "haven_engine_request_duration_seconds_bucket{%s,le=\"%g\"} %d\n", base, le, acc)
	}
	acc += c.buckets[len(durationBuckets)]
	fmt.Fprintf(&b, "haven_engine_request_duration_seconds_bucket{%s,le=\"+Inf\"} %d\n", base, acc)
	fmt.Fprintf(&b, "haven_engine_request_duration_seconds_sum{%s} %g\n", base, c.sum)
	fmt.Fprintf(&b, "haven_engine_request_duration_seconds_count{%s} %d\n", base, acc)
	metric("haven_engine_batch_size", "histogram", "Inputs per forward pass of the dynamic batcher.")
	acc = 0
	for i, le := range batchBuckets {
		acc += c.batches[i]
		fmt.Fprintf(&b, "haven_engine_batch_size_bucket{%s,le=\"%g\"} %d\n", base, le, acc)
	}
	acc += c.batches[len(batchBuckets)]
	fmt.Fprintf(&b, "haven_engine_batch_size_bucket{%s,le=\"+Inf\"} %d\n", base, acc)
	fmt.Fprintf(&b, "haven_engine_batch_size_sum{%s} %d\n", base, c.batchSum)
	fmt.Fprintf(&b, "haven_engine_batch_size_count{%s} %d\n", base, acc)
	metric("haven_engine_batch_size_max", "gauge", "The largest batch formed so far.")
	fmt.Fprintf(&b, "haven_engine_batch_size_max{%s} %d\n", base, c.batchMax)
	return b.String()
}
