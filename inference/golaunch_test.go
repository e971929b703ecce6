package inference

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/havenhub/haven/runner"
)

func TestGoEnginePicked(t *testing.T) {
	mk := func(files ...string) string {
		dir := t.TempDir()
		for _, f := range files {
			os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755)
			os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644)
		}
		return dir
	}
	onnxOnly := mk("onnx/model.onnx", "tokenizer.json", "config.json")
	both := mk("onnx/model.onnx", "tokenizer.json", "config.json", "model.safetensors")
	torchOnly := mk("tokenizer.json", "config.json", "model.safetensors")
	cpu := Spec{Task: "feature-extraction"}
	gpu := Spec{Task: "feature-extraction", Flavor: runner.Flavor{GPUs: 1}}
	pure, ort := &Launcher{}, &Launcher{cfg: LauncherConfig{ONNXRuntime: "/lib/libonnxruntime.so"}}
	for _, c := range []struct {
		l    *Launcher
		spec Spec
		dir  string
		want bool
	}{
		{pure, cpu, onnxOnly, true},
		{pure, cpu, both, false}, // the pure-Go backend only for what PyTorch cannot load
		{ort, cpu, both, true},
		{ort, cpu, torchOnly, false},
		{ort, gpu, onnxOnly, false},
		{ort, Spec{Task: "text-generation"}, onnxOnly, false},
		{ort, Spec{Task: "text-classification"}, onnxOnly, true},
	} {
		if got := c.l.goEngine(c.spec, c.dir); got != c.want {
			t.Errorf("ort %q, task %s, gpus %d, %s: %v, want %v", c.l.cfg.ONNXRuntime, c.spec.Task, c.spec.Flavor.GPUs, c.dir, got, c.want)
		}
	}
}
