package onnx

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// tokenizerJSON is a small BERT-style WordPiece tokenizer.
const tokenizerJSON = `{
  "version": "1.0", "truncation": null, "padding": null,
  "added_tokens": [
    {"id": 0, "content": "[PAD]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
    {"id": 1, "content": "[UNK]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
    {"id": 2, "content": "[CLS]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
    {"id": 3, "content": "[SEP]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}
  ],
  "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
  "pre_tokenizer": {"type": "BertPreTokenizer"},
  "post_processor": {"type": "TemplateProcessing",
    "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
    "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}, {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
    "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]}, "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
  "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
  "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
    "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "a": 4, "cat": 5, "dog": 6, "runs": 7, "sits": 8, "the": 9, "good": 10, "bad": 11}}
}`

// fakeGraph stands in for an ONNX graph: token j of an input gets the
// state (id, id², position, type) so that pooling can be checked by hand;
// as a classifier it gives (count of "good", count of "bad").
type fakeGraph struct {
	classifier bool
	passes     atomic.Int64
	largest    atomic.Int64
	gate       chan struct{} // when set, each pass waits on it
	running    atomic.Int64  // passes running now
	most       atomic.Int64  // the most passes that ran at once
}

func (g *fakeGraph) run(b *batch) (tensor, error) {
	g.passes.Add(1)
	r := g.running.Add(1)
	defer g.running.Add(-1)
	for m := g.most.Load(); r > m && !g.most.CompareAndSwap(m, r); m = g.most.Load() {
	}
	if int64(b.n) > g.largest.Load() {
		g.largest.Store(int64(b.n))
	}
	if g.gate != nil {
		<-g.gate
	}
	if g.classifier {
		out := tensor{shape: []int{b.n, 2}, data: make([]float32, b.n*2)}
		for i := 0; i < b.n; i++ {
			for j := 0; j < b.seq; j++ {
				switch b.ids[i*b.seq+j] {
				case 10:
					out.data[i*2+1]++
				case 11:
					out.data[i*2]++
				}
			}
		}
		return out, nil
	}
	out := tensor{shape: []int{b.n, b.seq, 4}, data: make([]float32, b.n*b.seq*4)}
	for i := 0; i < b.n; i++ {
		for j := 0; j < b.seq; j++ {
			id := float32(b.ids[i*b.seq+j])
			copy(out.data[(i*b.seq+j)*4:], []float32{id, id * id, float32(j), float32(b.types[i*b.seq+j])})
		}
	}
	return out, nil
}

func (g *fakeGraph) close() {}

func newTestModel(t *testing.T, task string, g *fakeGraph, files map[string]string) *Model {
	t.Helper()
	dir := t.TempDir()
	files["tokenizer.json"] = tokenizerJSON
	files["onnx/model.onnx"] = "stand-in"
	for name, body := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := load(dir, Options{Task: task, Name: "ns/model", MaxBatch: 8, MaxConcurrency: 4},
		func(string) (graph, string, error) { return g, "fake", nil })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

func post(t *testing.T, h http.Handler, path, body string) (int, []byte) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, strings.NewReader(body)))
	return rec.Code, rec.Body.Bytes()
}

func TestFind(t *testing.T) {
	for _, c := range []struct {
		paths []string
		want  string
	}{
		{[]string{"model.onnx", "tokenizer.json"}, "model.onnx"},
		{[]string{"onnx/model.onnx", "onnx/model_O4.onnx", "tokenizer.json", "model.safetensors"}, "onnx/model.onnx"},
		{[]string{"model.onnx", "onnx/model.onnx", "tokenizer.json"}, "model.onnx"},
		{[]string{"model.onnx"}, ""},                                              // no tokenizer
		{[]string{"onnx/model_O4.onnx", "tokenizer.json"}, ""},                    // not the plain export
		{[]string{"model.onnx", "model.onnx_data", "tokenizer.json"}, ""},         // external weights
		{[]string{"sub/model.onnx", "tokenizer.json", "model.safetensors"}, ""},   // elsewhere
		{[]string{"onnx/model.onnx", "onnx/tokenizer.json"}, ""},                  // tokenizer not at the root
		{[]string{"./model.onnx", "tokenizer.json", "config.json"}, "model.onnx"}, // cleaned
	} {
		if got := Find(c.paths); got != c.want {
			t.Errorf("Find(%v) = %q, want %q", c.paths, got, c.want)
		}
	}
	if !Serves("sentence-similarity") || !Serves("text-classification") || Serves("text-generation") {
		t.Error("Serves")
	}
}

func TestEmbeddingRoutes(t *testing.T) {
	g := &fakeGraph{}
	m := newTestModel(t, "feature-extraction", g, map[string]string{"config.json": `{"max_position_embeddings": 6}`})
	h := m.Handler()

	// [CLS] the cat [SEP] = ids 2 9 5 3: mean of (id, id², pos, 0).
	want := []float64{19.0 / 4, (4 + 81 + 25 + 9) / 4.0, 1.5, 0}
	code, body := post(t, h, "/", `{"inputs": "The cat", "normalize": false}`)
	var rows [][]float64
	if code != 200 || json.Unmarshal(body, &rows) != nil || len(rows) != 1 {
		t.Fatalf("feature extraction: %d %s", code, body)
	}
	for k := range want {
		if math.Abs(rows[0][k]-want[k]) > 1e-5 {
			t.Fatalf("pooled %v, want %v", rows[0], want)
		}
	}
	// Padding in a batch changes nothing; normalised by default.
	code, body = post(t, h, "/pipeline/feature-extraction", `{"inputs": ["the cat", "a dog runs"]}`)
	if code != 200 || json.Unmarshal(body, &rows) != nil || len(rows) != 2 {
		t.Fatalf("batch: %d %s", code, body)
	}
	n := math.Sqrt(want[0]*want[0] + want[1]*want[1] + want[2]*want[2])
	if math.Abs(rows[0][0]-want[0]/n) > 1e-5 || math.Abs(norm(rows[1])-1) > 1e-5 {
		t.Fatalf("normalised %v", rows)
	}

	code, body = post(t, h, "/pipeline/sentence-similarity", `{"inputs": {"source_sentence": "the cat", "sentences": ["the cat", "a dog"]}}`)
	var sims []float64
	if code != 200 || json.Unmarshal(body, &sims) != nil || len(sims) != 2 || math.Abs(sims[0]-1) > 1e-5 || sims[1] >= sims[0] {
		t.Fatalf("similarity: %d %s", code, body)
	}
	if code, body = post(t, h, "/similarity", `{"inputs": {"source_sentence": "the cat", "sentences": ["a dog"]}}`); code != 200 {
		t.Fatalf("TEI similarity: %d %s", code, body)
	}

	code, body = post(t, h, "/v1/embeddings", `{"input": ["the cat", "a dog"], "model": "dummy"}`)
	var oa struct {
		Object string
		Model  string
		Data   []struct {
			Object    string
			Index     int
			Embedding []float64
		}
		Usage struct {
			PromptTokens int `json:"prompt_tokens"`
			TotalTokens  int `json:"total_tokens"`
		}
	}
	if code != 200 || json.Unmarshal(body, &oa) != nil || oa.Object != "list" || oa.Model != "ns/model" || len(oa.Data) != 2 ||
		oa.Data[1].Index != 1 || oa.Data[1].Object != "embedding" || len(oa.Data[0].Embedding) != 4 || oa.Usage.PromptTokens != 8 || oa.Usage.TotalTokens != 8 {
		t.Fatalf("embeddings: %d %s", code, body)
	}
	code, body = post(t, h, "/v1/embeddings", `{"input": "the cat", "encoding_format": "base64", "dimensions": 2}`)
	var b64 struct{ Data []struct{ Embedding string } }
	if code != 200 || json.Unmarshal(body, &b64) != nil {
		t.Fatalf("base64: %d %s", code, body)
	}
	raw, _ := base64.StdEncoding.DecodeString(b64.Data[0].Embedding)
	if len(raw) != 8 {
		t.Fatalf("base64 of 2 dimensions is %d bytes", len(raw))
	}
	// Token ids are decoded.
	if code, body = post(t, h, "/v1/embeddings", `{"input": [[9, 5]]}`); code != 200 {
		t.Fatalf("token ids: %d %s", code, body)
	}

	for _, c := range []struct {
		path, body string
		status     int
	}{
		{"/", `{"inputs": 3}`, 422},
		{"/", `{"inputs": []}`, 422},
		{"/", `{}`, 422},
		{"/", `not json`, 400},
		{"/", `{"inputs": "the cat the cat the cat"}`, 413}, // 8 tokens, the limit is 6
		{"/pipeline/text-classification", `{"inputs": "the cat"}`, 422},
		{"/predict", `{"inputs": "the cat"}`, 422},
		{"/v1/chat/completions", `{"messages": []}`, 422},
		{"/v1/embeddings", `{"input": {}}`, 422},
		{"/v1/embeddings", `{"input": "x", "encoding_format": "int8"}`, 422},
		{"/", `{"inputs": ["a","a","a","a","a","a","a","a","a"]}`, 413},
		{"/nope", `{}`, 404},
	} {
		code, body := post(t, h, c.path, c.body)
		var e struct{ Error, ErrorType string }
		json.Unmarshal(body, &e)
		if code != c.status || e.Error == "" {
			t.Errorf("POST %s %s: %d %s, want %d", c.path, c.body, code, body, c.status)
		}
	}
	// Truncation when asked: the same as the first 6 tokens.
	code, body = post(t, h, "/", `{"inputs": "the cat the cat the cat", "truncate": true, "normalize": false}`)
	if code != 200 {
		t.Fatalf("truncate: %d %s", code, body)
	}

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/info", nil))
	var info map[string]any
	json.Unmarshal(rec.Body.Bytes(), &info)
	if rec.Code != 200 || info["model_id"] != "ns/model" || info["dimensions"] != 4.0 || info["max_input_length"] != 6.0 || info["engine"] != "go" {
		t.Fatalf("info: %s", rec.Body)
	}
	for _, p := range []string{"/health", "/v1/models", "/metrics"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		if rec.Code != 200 {
			t.Errorf("GET %s: %d", p, rec.Code)
		}
	}
}

func norm(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}

func TestClassification(t *testing.T) {
	m := newTestModel(t, "text-classification", &fakeGraph{classifier: true},
		map[string]string{"config.json": `{"id2label": {"0": "negative", "1": "positive"}}`})
	h := m.Handler()
	code, body := post(t, h, "/", `{"inputs": "the good dog"}`)
	var nested [][]struct {
		Label string
		Score float64
	}
	if code != 200 || json.Unmarshal(body, &nested) != nil || len(nested) != 1 || len(nested[0]) != 2 {
		t.Fatalf("classification: %d %s", code, body)
	}
	if nested[0][0].Label != "positive" || math.Abs(nested[0][0].Score-1/(1+math.Exp(-1))) > 1e-6 {
		t.Fatalf("scores: %s", body)
	}
	code, body = post(t, h, "/predict", `{"inputs": "bad bad", "parameters": {"top_k": 1}}`)
	var flat []struct{ Label string }
	if code != 200 || json.Unmarshal(body, &flat) != nil || len(flat) != 1 || flat[0].Label != "negative" {
		t.Fatalf("predict: %d %s", code, body)
	}
	code, body = post(t, h, "/", `{"inputs": [{"text": "good", "text_pair": "bad"}, {"text": "good"}], "parameters": {"function_to_apply": "none"}}`)
	if code != 200 || json.Unmarshal(body, &nested) != nil || len(nested) != 2 || nested[0][0].Score != 1 {
		t.Fatalf("pairs: %d %s", code, body)
	}
	if code, body = post(t, h, "/v1/embeddings", `{"input": "good"}`); code != 422 {
		t.Fatalf("embeddings of a classifier: %d %s", code, body)
	}
}

// TestBatching checks that requests arriving while a pass runs share the
// next one, and that the cap on requests in flight answers 429.
func TestBatching(t *testing.T) {
	g := &fakeGraph{}
	m := newTestModel(t, "feature-extraction", g, map[string]string{})
	g.gate = make(chan struct{})
	h := m.Handler()
	var wg sync.WaitGroup
	codes := make(chan int, 5)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, _ := post(t, h, "/", `{"inputs": "the cat"}`)
			codes <- code
		}()
	}
	// The first pass holds the batcher; the others queue behind it.
	for m.inflight.Load() < 4 {
		time.Sleep(time.Millisecond)
	}
	if code, _ := post(t, h, "/", `{"inputs": "the cat"}`); code != 429 {
		t.Errorf("past the cap: %d, want 429", code)
	}
	close(g.gate)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Errorf("status %d", c)
		}
	}
	if g.largest.Load() < 2 {
		t.Errorf("largest batch %d: concurrent requests were not batched", g.largest.Load())
	}
}

func TestBodyLimit(t *testing.T) {
	m := newTestModel(t, "feature-extraction", &fakeGraph{}, map[string]string{})
	big := bytes.Repeat([]byte("a "), maxBody/2+10)
	code, _ := post(t, m.Handler(), "/", `{"inputs": "`+string(big)+`"}`)
	if code != 413 {
		t.Fatalf("a body over the limit: %d", code)
	}
}

// TestSimilarityModelEmbeds checks that a sentence-similarity model's own
// route embeds texts (what InferenceClient.feature_extraction sends) and
// compares a source with sentences.
func TestSimilarityModelEmbeds(t *testing.T) {
	m := newTestModel(t, "sentence-similarity", &fakeGraph{}, map[string]string{})
	h := m.Handler()
	var rows [][]float64
	if code, body := post(t, h, "/", `{"inputs": "the cat"}`); code != 200 || json.Unmarshal(body, &rows) != nil || len(rows) != 1 {
		t.Fatalf("feature extraction: %d %s", code, body)
	}
	var sims []float64
	if code, body := post(t, h, "/", `{"inputs": {"source_sentence": "the cat", "sentences": ["a dog"]}}`); code != 200 || json.Unmarshal(body, &sims) != nil || len(sims) != 1 {
		t.Fatalf("similarity: %d %s", code, body)
	}
	if code, body := post(t, h, "/pipeline/sentence-similarity", `{"inputs": "the cat"}`); code != 422 {
		t.Fatalf("explicit similarity of a text: %d %s", code, body)
	}
}

// TestTokenizerPadding checks that the padding a tokenizer.json carries is
// not applied: inputs are counted and pooled by their own tokens.
func TestTokenizerPadding(t *testing.T) {
	padded := strings.Replace(tokenizerJSON, `"padding": null`,
		`"padding": {"strategy": {"Fixed": 16}, "direction": "Right", "pad_to_multiple_of": null, "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"}`, 1)
	g := &fakeGraph{}
	m := newTestModel(t, "feature-extraction", g, map[string]string{})
	if err := os.WriteFile(filepath.Join(m.dir, "tokenizer.json"), []byte(padded), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := load(m.dir, Options{Task: "feature-extraction", Name: "ns/padded"}, func(string) (graph, string, error) { return g, "fake", nil })
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	a, na, _ := m.Embed([]string{"the cat"}, false, false)
	b, nb, err := p.Embed([]string{"the cat"}, false, false)
	if err != nil || na != 4 || nb != 4 || maxDiff(b[0], []float64{float64(a[0][0]), float64(a[0][1]), float64(a[0][2]), float64(a[0][3])}) > 1e-6 {
		t.Fatalf("with padding in tokenizer.json: %v (%d tokens), without: %v (%d tokens), %v", b, nb, a, na, err)
	}
}

func maxDiff(a []float32, b []float64) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-b[i]))
	}
	return d
}

// TestSplit checks how a gathered batch is cut into passes of similar
// length.
func TestSplit(t *testing.T) {
	tests := []struct {
		name      string
		lens      []int
		cost, max int
		want      [][]int
	}{
		{"one input", []int{7}, 8, 256, [][]int{{0}}},
		{"equal lengths share a pass", []int{10, 10, 10}, 8, 256, [][]int{{0, 1, 2}}},
		{"small differences are padded", []int{12, 10, 11}, 8, 256, [][]int{{1, 2, 0}}},
		{"a long input runs apart", []int{10, 100, 10, 10}, 8, 256, [][]int{{0, 2, 3}, {1}}},
		{"two lengths", []int{40, 10, 40, 10}, 8, 256, [][]int{{1, 3}, {0, 2}}},
		{"the cap on positions", []int{10, 10, 10, 10}, 8, 20, [][]int{{0, 1}, {2, 3}}},
		{"an input over the cap alone", []int{30, 10}, 8, 20, [][]int{{1}, {0}}},
		{"a small cost per pass: no padding", []int{3, 2, 3, 2}, 1, 256, [][]int{{1, 3}, {0, 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := split(tt.lens, tt.cost, tt.max)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("split(%v) = %v, want %v", tt.lens, got, tt.want)
			}
		})
	}
}

// TestSplitPassesKeepRows checks that inputs of very different lengths in
// one gathered batch run in separate passes and each gets the row it gets
// alone.
func TestSplitPassesKeepRows(t *testing.T) {
	g := &fakeGraph{}
	m := newTestModel(t, "feature-extraction", g, map[string]string{})
	texts := []string{"the cat", strings.Repeat("the dog runs ", 40), "a cat sits", "good"}
	alone := make([][]float32, len(texts))
	for i, s := range texts {
		r, _, err := m.Embed([]string{s}, false, false)
		if err != nil {
			t.Fatal(err)
		}
		alone[i] = r[0]
	}
	before := g.passes.Load()
	rows, _, err := m.Embed(texts, false, false)
	if err != nil {
		t.Fatal(err)
	}
	if n := g.passes.Load() - before; n != 2 {
		t.Errorf("%d passes, want 2 (the long input apart)", n)
	}
	for i := range texts {
		if fmt.Sprint(rows[i]) != fmt.Sprint(alone[i]) {
			t.Errorf("input %d: %v in the batch, %v alone", i, rows[i], alone[i])
		}
	}
}

// TestPassesSideBySide checks that a model with two pass slots runs two
// passes at once, both for two requests that arrive together and for the
// passes one request is cut into, and that with one slot passes run one at a
// time; each input keeps the row it gets alone.
func TestPassesSideBySide(t *testing.T) {
	long := strings.Repeat("the dog runs ", 40)
	tests := []struct {
		name     string
		passes   int
		requests [][]string
		want     int64 // passes at once
	}{
		{"two requests, two slots", 2, [][]string{{"the cat"}, {long}}, 2},
		{"one request cut in two, two slots", 2, [][]string{{"the cat", long}}, 2},
		{"two requests, one slot", 1, [][]string{{"the cat"}, {long}}, 1},
		{"one request cut in two, one slot", 1, [][]string{{"the cat", long}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &fakeGraph{}
			base := newTestModel(t, "feature-extraction", g, map[string]string{})
			m, err := load(base.dir, Options{Task: "feature-extraction", Name: "ns/model", Passes: tt.passes},
				func(string) (graph, string, error) { return g, "fake", nil })
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			alone := map[string][]float32{}
			for _, s := range []string{"the cat", long} {
				r, _, err := m.Embed([]string{s}, false, false)
				if err != nil {
					t.Fatal(err)
				}
				alone[s] = r[0]
			}
			g.most.Store(0)
			g.gate = make(chan struct{})
			var wg sync.WaitGroup
			for _, texts := range tt.requests {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rows, _, err := m.Embed(texts, false, false)
					if err != nil {
						t.Error(err)
						return
					}
					for i, s := range texts {
						if fmt.Sprint(rows[i]) != fmt.Sprint(alone[s]) {
							t.Errorf("%q: %v, alone %v", s, rows[i], alone[s])
						}
					}
				}()
			}
			// The passes wait at the gate: as many as the slots allow get there.
			for deadline := time.Now().Add(10 * time.Second); g.running.Load() < tt.want && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
			if g.running.Load() < tt.want {
				t.Fatalf("%d passes running, want %d", g.running.Load(), tt.want)
			}
			close(g.gate)
			wg.Wait()
			if got := g.most.Load(); got != tt.want {
				t.Errorf("%d passes at once, want %d", got, tt.want)
			}
		})
	}
}
