package inference

import (
	"path"
	"sort"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/gitstore"
	"github.com/havenhub/haven/inference/onnx"
)

// Task is a pipeline the engine serves.
type Task struct {
	ID    string
	Label string
	// OpenAI says the task is also served on the OpenAI-compatible routes
	// (chat and completions for generation, embeddings for the others), so
	// that /v1/models lists its models.
	OpenAI bool
}

// tasks are the pipeline tags Haven serves models for: those the Python
// engine (engine/backends.py SUPPORTED_TASKS) loads a model for, and
// text-ranking, which only the Go engine serves (an ONNX cross-encoder).
var tasks = []Task{
	{ID: "feature-extraction", Label: "Feature Extraction", OpenAI: true},
	{ID: "sentence-similarity", Label: "Sentence Similarity", OpenAI: true},
	{ID: "text-classification", Label: "Text Classification"},
	{ID: "token-classification", Label: "Token Classification"},
	{ID: "fill-mask", Label: "Fill-Mask"},
	{ID: "zero-shot-classification", Label: "Zero-Shot Classification"},
	{ID: "question-answering", Label: "Question Answering"},
	{ID: "text-generation", Label: "Text Generation", OpenAI: true},
	{ID: "text-ranking", Label: "Text Ranking"},
}

// Tasks returns the tasks Haven serves, in a stable order.
func Tasks() []Task { return append([]Task(nil), tasks...) }

// LookupTask finds a served task by its pipeline tag.
func LookupTask(id string) (Task, bool) {
	for _, t := range tasks {
		if t.ID == id {
			return t, true
		}
	}
	return Task{}, false
}

// weightFile reports whether a repository path holds model weights the
// engine loads: safetensors or PyTorch checkpoints (also those of a
// sentence-transformers module in a subfolder).
func weightFile(p string) bool {
	base := path.Base(p)
	switch {
	case strings.HasSuffix(base, ".safetensors"):
		return true
	case strings.HasPrefix(base, "pytorch_model") && strings.HasSuffix(base, ".bin"):
		return true
	}
	return false
}

// checkFiles refuses a commit no engine could load: one without a
// config.json or without weights, unless the Go engine serves its task from
// an ONNX graph. The answer names what is missing.
func checkFiles(repo *haven.Repo, entries []gitstore.Entry) error {
	var config, weights bool
	var seen, paths []string
	for _, e := range entries {
		if e.Type != gitstore.TypeFile {
			continue
		}
		paths = append(paths, e.Path)
		if path.Base(e.Path) == "config.json" {
			config = true
		}
		if weightFile(e.Path) {
			weights = true
		}
		if strings.HasSuffix(e.Path, ".gguf") || strings.HasSuffix(e.Path, ".onnx") || strings.HasSuffix(e.Path, ".h5") || strings.HasSuffix(e.Path, ".msgpack") {
			seen = append(seen, path.Ext(e.Path))
		}
	}
	if onnx.Serves(repo.PipelineTag) && onnx.Find(paths) != "" {
		return nil
	}
	if goOnly(repo.PipelineTag) {
		return haven.Errorf(haven.EUnprocessable, "Model %s is a %s model: Haven serves those on its Go engine only, which needs an ONNX graph (model.onnx or onnx/model.onnx) and a tokenizer.json", repo.FullName(), repo.PipelineTag)
	}
	if weights && config {
		return nil
	}
	if !weights {
		msg := "Model " + repo.FullName() + " has no weights Haven can serve: it needs *.safetensors or pytorch_model*.bin files"
		if len(seen) > 0 {
			sort.Strings(seen)
			msg += " (" + strings.Join(dedupe(seen), ", ") + " files are not supported)"
		}
		return haven.Errorf(haven.EUnprocessable, "%s", msg)
	}
	return haven.Errorf(haven.EUnprocessable, "Model %s has no config.json: Haven serves transformers and sentence-transformers models", repo.FullName())
}

func dedupe(sorted []string) []string {
	out := sorted[:0]
	for i, s := range sorted {
		if i == 0 || s != sorted[i-1] {
			out = append(out, s)
		}
	}
	return out
}
