package e2e

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/havenhub/haven/inference/onnx"
)

// onnxRuntimeLib is ONNX Runtime's shared library as the npm package
// onnxruntime-node ships it (scripts/setup-test-deps.sh installs it into
// e2e/onnxruntime), or "" when it is not there.
func onnxRuntimeLib() string {
	lib := filepath.Join(repoRoot, "e2e", "onnxruntime", "node_modules", "onnxruntime-node", "bin", "napi-v6", "linux", "x64", "libonnxruntime.so.1")
	if _, err := os.Stat(lib); err != nil {
		return ""
	}
	return lib
}

// onnxModels builds the tiny ONNX encoders of build_onnx.py with the
// training environment and returns their folder.
func onnxModels(t *testing.T) string {
	t.Helper()
	python := trainEnv(t)
	dir := t.TempDir()
	cmd := exec.Command(python, filepath.Join(repoRoot, "e2e", "python_inference", "build_onnx.py"), dir)
	cmd.Env = append(os.Environ(), "HF_HUB_OFFLINE=1")
	runLogged(t, 10*time.Minute, cmd)
	return dir
}

// onnxReference is build_onnx.py's reference.json.
type onnxReference struct {
	Texts      []string    `json:"texts"`
	Embeddings [][]float64 `json:"embeddings"`
	Scores     [][]float64 `json:"scores"`
	Labels     []string    `json:"labels"`
	ZeroShot   []struct {
		Text            string    `json:"text"`
		CandidateLabels []string  `json:"candidate_labels"`
		MultiLabel      bool      `json:"multi_label"`
		Labels          []string  `json:"labels"`
		Scores          []float64 `json:"scores"`
	} `json:"zero_shot"`
	Tokens struct {
		Texts   []string           `json:"texts"`
		Simple  [][]map[string]any `json:"simple"`
		None    [][]map[string]any `json:"none"`
		First   [][]map[string]any `json:"first"`
		Average [][]map[string]any `json:"average"`
		Max     [][]map[string]any `json:"max"`
	} `json:"tokens"`
	Rerank struct {
		Query  string    `json:"query"`
		Texts  []string  `json:"texts"`
		Scores []float64 `json:"scores"`
	} `json:"rerank"`
}

// TestGoEngine checks Haven's Go engine (package inference/onnx) against
// PyTorch on the same tiny models: embeddings against sentence-transformers,
// classifier scores, zero-shot and token classification against
// transformers and its pipelines, rerank scores against
// sentence-transformers' CrossEncoder, to 1e-4, on the pure-Go
// backend and on ONNX Runtime. Then Haven serves the models (ONNX Runtime
// when e2e/onnxruntime has it) and e2e/python_inference/test_go_engine.py
// calls them with huggingface_hub's InferenceClient.
func TestGoEngine(t *testing.T) {
	dir := onnxModels(t)
	var ref onnxReference
	b, err := os.ReadFile(filepath.Join(dir, "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	lib := onnxRuntimeLib()
	backends := map[string]string{"go": ""}
	if lib != "" {
		backends["onnxruntime"] = lib
	}
	for name, lib := range backends {
		t.Run("reference/"+name, func(t *testing.T) { compareONNX(t, dir, lib, ref) })
		t.Run("tasks/"+name, func(t *testing.T) { compareTasks(t, dir, lib, ref) })
	}

	pytest := pytestPath(t)
	opts, backend := serverOpts{}, "go"
	if lib != "" {
		opts.Args, backend = []string{"--onnxruntime-lib", lib}, "onnxruntime"
	}
	s := startServer(t, opts)
	f := s.setupAccounts()
	cmd := exec.Command(pytest, filepath.Join(repoRoot, "e2e", "python_inference", "test_go_engine.py"), "-q", "-rfEs", "-s", "-p", "no:cacheprovider")
	cmd.Dir = filepath.Join(repoRoot, "e2e", "python_inference")
	cmd.Env = append(s.clientEnv(t, f), "HAVEN_ONNX_MODELS="+dir, "HAVEN_GO_BACKEND="+backend,
		"PYTHONPATH="+filepath.Join(repoRoot, "e2e", "pyshared"))
	runLogged(t, 10*time.Minute, cmd)
}

// compareONNX loads the models in dir on one backend and compares their
// answers with the reference.
func compareONNX(t *testing.T, dir, lib string, ref onnxReference) {
	emb, err := onnx.Load(filepath.Join(dir, "embedder"), onnx.Options{Task: "sentence-similarity", Name: "embedder", ORTLib: lib})
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Close()
	rows, _, err := emb.Embed(ref.Texts, true, false)
	if err != nil {
		t.Fatal(err)
	}
	for i, row := range rows {
		if d := maxDiff(row, ref.Embeddings[i]); d > 1e-4 {
			t.Errorf("%s: the embedding of %q differs from sentence-transformers' by %g", emb.Backend(), ref.Texts[i], d)
		}
	}
	// Alone (no padding) as in a batch.
	for i, text := range ref.Texts {
		one, _, err := emb.Embed([]string{text}, true, false)
		if err != nil {
			t.Fatal(err)
		}
		if d := maxDiff(one[0], ref.Embeddings[i]); d > 1e-4 {
			t.Errorf("%s: the embedding of %q alone differs by %g", emb.Backend(), text, d)
		}
	}

	cls, err := onnx.Load(filepath.Join(dir, "classifier"), onnx.Options{Task: "text-classification", Name: "classifier", ORTLib: lib})
	if err != nil {
		t.Fatal(err)
	}
	defer cls.Close()
	body, _ := json.Marshal(map[string]any{"inputs": ref.Texts})
	rec := httptest.NewRecorder()
	cls.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body))))
	var out [][]struct {
		Label string
		Score float64
	}
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &out) != nil || len(out) != len(ref.Texts) {
		t.Fatalf("classification: %d %s", rec.Code, rec.Body)
	}
	for i, ranked := range out {
		for _, s := range ranked {
			k := indexOf(ref.Labels, s.Label)
			if k < 0 || math.Abs(s.Score-ref.Scores[i][k]) > 1e-4 {
				t.Errorf("%s: score %s of %q is %g, transformers says %v", cls.Backend(), s.Label, ref.Texts[i], s.Score, ref.Scores[i])
			}
		}
	}
}

// post sends body to the model's route p and decodes the answer into out.
func post(t *testing.T, m *onnx.Model, p string, body any, out any) {
	t.Helper()
	b, _ := json.Marshal(body)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, p, strings.NewReader(string(b))))
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), out) != nil {
		t.Fatalf("POST %s %s: %d %s", p, b, rec.Code, rec.Body)
	}
}

// compareTasks checks zero-shot classification, token classification and
// rerank on one backend against the reference.
func compareTasks(t *testing.T, dir, lib string, ref onnxReference) {
	load := func(name, task string) *onnx.Model {
		m, err := onnx.Load(filepath.Join(dir, name), onnx.Options{Task: task, Name: name, ORTLib: lib})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Cleanup(m.Close)
		return m
	}
	type scored struct {
		Label string
		Score float64
	}
	nli := load("nli", "zero-shot-classification")
	if len(ref.ZeroShot) == 0 {
		t.Fatal("no zero-shot reference")
	}
	for _, zs := range ref.ZeroShot {
		var out []scored
		post(t, nli, "/", map[string]any{"inputs": zs.Text, "parameters": map[string]any{"candidate_labels": zs.CandidateLabels, "multi_label": zs.MultiLabel}}, &out)
		if len(out) != len(zs.Labels) {
			t.Fatalf("zero-shot %v: %v", zs.CandidateLabels, out)
		}
		for i, s := range out {
			k := indexOf(zs.Labels, s.Label)
			if k < 0 || math.Abs(s.Score-zs.Scores[k]) > 1e-4 {
				t.Errorf("%s: zero-shot (multi_label %v) %s: %g, the pipeline says %v %v", nli.Backend(), zs.MultiLabel, s.Label, s.Score, zs.Labels, zs.Scores)
			}
			if i > 0 && out[i-1].Score < s.Score {
				t.Errorf("zero-shot labels not ranked: %v", out)
			}
		}
	}

	tok := load("tokens", "token-classification")
	for strategy, want := range map[string][][]map[string]any{"simple": ref.Tokens.Simple, "none": ref.Tokens.None,
		"first": ref.Tokens.First, "average": ref.Tokens.Average, "max": ref.Tokens.Max} {
		if len(want) != len(ref.Tokens.Texts) {
			t.Fatalf("no token-classification reference for %s", strategy)
		}
		var got [][]map[string]any
		post(t, tok, "/", map[string]any{"inputs": ref.Tokens.Texts, "parameters": map[string]any{"aggregation_strategy": strategy}}, &got)
		for i, text := range ref.Tokens.Texts {
			if len(got[i]) != len(want[i]) {
				t.Errorf("%s: %s entities of %q: %v, the pipeline says %v", tok.Backend(), strategy, text, got[i], want[i])
				continue
			}
			for k, w := range want[i] {
				g := got[i][k]
				for key, wv := range w {
					if key == "score" {
						if math.Abs(g["score"].(float64)-wv.(float64)) > 1e-4 {
							t.Errorf("%s: %s entity %d of %q: score %v, the pipeline says %v", tok.Backend(), strategy, k, text, g["score"], wv)
						}
					} else if g[key] != wv {
						t.Errorf("%s: %s entity %d of %q: %s %v, the pipeline says %v", tok.Backend(), strategy, k, text, key, g[key], wv)
					}
				}
			}
		}
	}

	rank := load("ranker", "text-ranking")
	var ranked []struct {
		Index int
		Score float64
		Text  string
	}
	post(t, rank, "/rerank", map[string]any{"query": ref.Rerank.Query, "texts": ref.Rerank.Texts, "return_text": true}, &ranked)
	if len(ranked) != len(ref.Rerank.Texts) {
		t.Fatalf("rerank: %v", ranked)
	}
	for i, r := range ranked {
		if math.Abs(r.Score-ref.Rerank.Scores[r.Index]) > 1e-4 || r.Text != ref.Rerank.Texts[r.Index] {
			t.Errorf("%s: rerank of text %d: %g %q, CrossEncoder says %g", rank.Backend(), r.Index, r.Score, r.Text, ref.Rerank.Scores[r.Index])
		}
		if i > 0 && ranked[i-1].Score < r.Score {
			t.Errorf("rerank not sorted: %v", ranked)
		}
	}
}

func maxDiff(a []float32, b []float64) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-b[i]))
	}
	return d
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
