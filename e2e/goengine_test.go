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
}

// TestGoEngine checks Haven's Go engine (package inference/onnx) against
// PyTorch on the same tiny models: embeddings against sentence-transformers
// and classifier scores against transformers, to 1e-4, on the pure-Go
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
