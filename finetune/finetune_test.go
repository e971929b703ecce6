package finetune

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/havenhub/haven/viewer"
)

func TestCheckColumns(t *testing.T) {
	col := func(name, typ string) viewer.Column { return viewer.Column{Name: name, Type: json.RawMessage(typ)} }
	str := `{"dtype":"string","_type":"Value"}`
	features := viewer.Features{
		col("text", str),
		col("label", `{"names":["neg","pos"],"_type":"ClassLabel"}`),
		col("stars", `{"dtype":"int64","_type":"Value"}`),
		col("rating", `{"dtype":"float32","_type":"Value"}`),
		col("tokens", `{"feature":{"dtype":"string","_type":"Value"},"_type":"List"}`),
		col("ner_tags", `{"feature":{"names":["O","B-PER"],"_type":"ClassLabel"},"_type":"Sequence"}`),
		col("old_tokens", `[{"dtype":"string","_type":"Value"}]`),
		col("prompt", str), col("completion", str), col("anchor", str), col("positive", str),
	}
	tests := []struct {
		task string
		cols map[string]string
		err  string
	}{
		{"text-classification", map[string]string{"text": "text", "label": "label"}, ""},
		{"text-classification", map[string]string{"text": "text", "label": "stars"}, ""},
		{"text-classification", map[string]string{"text": "text", "label": "rating"}, "must hold class labels"},
		{"text-classification", map[string]string{"text": "stars", "label": "label"}, `"stars" (for text) must hold text`},
		{"text-classification", map[string]string{"text": "review", "label": "label"}, `no column "review"`},
		{"text-classification", map[string]string{"label": "label"}, "Map the text column"},
		{"text-classification", map[string]string{"text": "text", "label": "label", "colour": "text"}, "Unknown column role"},
		{"token-classification", map[string]string{"tokens": "tokens", "tags": "ner_tags"}, ""},
		{"token-classification", map[string]string{"tokens": "old_tokens", "tags": "ner_tags"}, ""},
		{"token-classification", map[string]string{"tokens": "text", "tags": "ner_tags"}, "lists of words"},
		{"causal-lm-lora", map[string]string{"text": "text"}, ""},
		{"causal-lm-lora", map[string]string{"prompt": "prompt", "completion": "completion"}, ""},
		{"causal-lm-lora", map[string]string{"prompt": "prompt"}, "Map the completion column"},
		{"sentence-embedding", map[string]string{"anchor": "anchor", "positive": "positive"}, ""},
		{"sentence-embedding", map[string]string{"sentence1": "prompt", "sentence2": "completion", "score": "rating"}, ""},
		{"sentence-embedding", map[string]string{"sentence1": "prompt", "sentence2": "completion", "score": "text"}, "similarity scores"},
	}
	for _, tt := range tests {
		t.Run(tt.task+"/"+tt.err, func(t *testing.T) {
			err := checkColumns(tt.task, tt.cols, features)
			if tt.err == "" {
				if err != nil {
					t.Fatalf("checkColumns(%v) = %v", tt.cols, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("checkColumns(%v) = %v; want %q", tt.cols, err, tt.err)
			}
		})
	}
}

func TestProgramEmbedded(t *testing.T) {
	s, err := New(Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	reqs := strings.Join(s.Requirements(), " ")
	for _, pkg := range []string{"torch==", "transformers==", "peft==", "trl==", "datasets==", "accelerate=="} {
		if !strings.Contains(reqs, pkg) {
			t.Errorf("requirements lack an exact pin %s: %s", pkg, reqs)
		}
	}
	dir, err := s.writeProgram(trainConfig{Task: "text-classification", OutputRepo: "a/b"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"train.py", "config.json", "requirements.txt"} {
		if _, err := readFile(dir, f); err != nil {
			t.Errorf("%s missing from the program folder: %v", f, err)
		}
	}
}

func readFile(dir, name string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, name)) }
