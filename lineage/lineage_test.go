package lineage_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/card"
	"github.com/havenhub/haven/lineage"
)

func TestInfer(t *testing.T) {
	tests := []struct {
		name   string
		files  []string
		config string
		bases  int
		want   string
	}{
		{"adapter config", []string{"adapter_config.json", "adapter_model.safetensors"}, "", 1, lineage.Adapter},
		{"adapter in a folder", []string{"lora/adapter_config.json"}, "", 1, lineage.Adapter},
		{"adapter wins over several bases", []string{"adapter_config.json"}, "", 2, lineage.Adapter},
		{"gguf", []string{"model-Q4_K_M.GGUF"}, "", 1, lineage.Quantized},
		{"quantization config", []string{"config.json", "model.safetensors"}, `{"quantization_config": {"bits": 4}}`, 1, lineage.Quantized},
		{"null quantization config", []string{"config.json"}, `{"quantization_config": null}`, 1, lineage.Finetune},
		{"broken config", []string{"config.json"}, `{`, 1, lineage.Finetune},
		{"several bases", []string{"model.safetensors"}, `{}`, 3, lineage.Merge},
		{"plain weights", []string{"config.json", "model.safetensors"}, `{"model_type": "bert"}`, 1, lineage.Finetune},
		{"nothing", nil, "", 1, lineage.Finetune},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var config []byte
			if tt.config != "" {
				config = []byte(tt.config)
			}
			if got := lineage.Infer(tt.files, config, tt.bases); got != tt.want {
				t.Errorf("Infer = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRead(t *testing.T) {
	model := func(files ...string) lineage.Repo {
		return lineage.Repo{Type: haven.Model, ID: "alice/child", Files: files}
	}
	tests := []struct {
		name     string
		repo     lineage.Repo
		data     map[string]any
		relation string
		bases    []string
		tags     []string
		edges    []lineage.Edge
		warnings int
	}{
		{"no base", model(), map[string]any{"license": "mit"}, "", nil, nil, nil, 0},
		{"one base, inferred", model("model.safetensors"), map[string]any{"base_model": "Alice/Base"}, lineage.Finetune,
			[]string{"Alice/Base"}, []string{"base_model:Alice/Base", "base_model:finetune:Alice/Base"},
			[]lineage.Edge{{"alice/base", lineage.Finetune}}, 0},
		{"explicit relation", model(), map[string]any{"base_model": "a/b", "base_model_relation": "Quantized"}, lineage.Quantized,
			[]string{"a/b"}, []string{"base_model:a/b", "base_model:quantized:a/b"}, []lineage.Edge{{"a/b", lineage.Quantized}}, 0},
		{"unknown relation is inferred", model("adapter_config.json"), map[string]any{"base_model": "a/b", "base_model_relation": "distilled"},
			lineage.Adapter, []string{"a/b"}, []string{"base_model:a/b", "base_model:adapter:a/b"}, []lineage.Edge{{"a/b", lineage.Adapter}}, 1},
		{"merge", model(), map[string]any{"base_model": []any{"a/b", "c/d", "A/B"}}, lineage.Merge, []string{"a/b", "c/d"},
			[]string{"base_model:a/b", "base_model:c/d", "base_model:merge:a/b", "base_model:merge:c/d"},
			[]lineage.Edge{{"a/b", lineage.Merge}, {"c/d", lineage.Merge}}, 0},
		{"self reference", model(), map[string]any{"base_model": []any{"ALICE/child", "a/b"}}, lineage.Finetune, []string{"a/b"},
			[]string{"base_model:a/b", "base_model:finetune:a/b"}, []lineage.Edge{{"a/b", lineage.Finetune}}, 1},
		{"only itself", model(), map[string]any{"base_model": "alice/child"}, "", nil, nil, nil, 1},
		{"invalid names and objects", model(), map[string]any{"base_model": []any{"../etc", "a/b/c", 3, map[string]any{"x": 1}, "", "ok/model"}},
			lineage.Finetune, []string{"ok/model"}, []string{"base_model:ok/model", "base_model:finetune:ok/model"},
			[]lineage.Edge{{"ok/model", lineage.Finetune}}, 4},
		{"datasets of a model", model(), map[string]any{"datasets": []any{"alice/reviews", "imdb"}}, "", nil, nil,
			[]lineage.Edge{{"alice/reviews", lineage.TrainedOn}, {"imdb", lineage.TrainedOn}}, 0},
		{"space", lineage.Repo{Type: haven.Space, ID: "alice/app"}, map[string]any{"models": []any{"a/b"}, "datasets": "c/d", "base_model": "x/y"},
			"", nil, nil, []lineage.Edge{{"a/b", lineage.SpaceModel}, {"c/d", lineage.SpaceDataset}}, 0},
		{"dataset", lineage.Repo{Type: haven.Dataset, ID: "alice/d"}, map[string]any{"base_model": "a/b", "datasets": "c/d"},
			"", nil, nil, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := lineage.Read(tt.repo, tt.data)
			if l.Relation != tt.relation || !reflect.DeepEqual(l.Bases, tt.bases) {
				t.Errorf("Read = %q %q, want %q %q", l.Relation, l.Bases, tt.relation, tt.bases)
			}
			if got := l.Tags(); !reflect.DeepEqual(got, tt.tags) {
				t.Errorf("Tags = %q, want %q", got, tt.tags)
			}
			if got := l.Edges(); !reflect.DeepEqual(got, tt.edges) {
				t.Errorf("Edges = %v, want %v", got, tt.edges)
			}
			if len(l.Warnings) != tt.warnings {
				t.Errorf("Warnings = %q, want %d", l.Warnings, tt.warnings)
			}
		})
	}
}

// TestHostileCards checks that cards naming thousands of bases, or nesting
// lists deeply, are cut short with a warning.
func TestHostileCards(t *testing.T) {
	var b strings.Builder
	b.WriteString("---\nbase_model:\n")
	for i := range 10_000 {
		fmt.Fprintf(&b, "- org/model-%d\n", i)
	}
	b.WriteString("---\n# Card\n")
	c, err := card.Parse([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	l := lineage.Read(lineage.Repo{Type: haven.Model, ID: "alice/m"}, c.Data)
	if len(l.Bases) != lineage.MaxLinks || l.Relation != lineage.Merge {
		t.Errorf("10000 bases: kept %d as %q, want %d as merge", len(l.Bases), l.Relation, lineage.MaxLinks)
	}
	if len(l.Warnings) != 1 || !strings.Contains(l.Warnings[0], "first 32") {
		t.Errorf("10000 bases: warnings %q", l.Warnings)
	}
	if n := len(c.Meta(haven.Model).Tags); n > 2*lineage.MaxLinks+5 {
		t.Errorf("10000 bases give %d tags", n)
	}
	if got := len(l.Tags()); got != 2*lineage.MaxLinks {
		t.Errorf("Tags: %d", got)
	}

	// Deeply nested lists: nothing inside them is a name.
	var nested any = "deep/model"
	for range 10_000 {
		nested = []any{nested}
	}
	l = lineage.Read(lineage.Repo{Type: haven.Model, ID: "alice/m"}, map[string]any{"base_model": nested, "base_model_relation": nested})
	if l.Bases != nil || l.Relation != "" || len(l.Warnings) != 1 {
		t.Errorf("nested: %q %q %q", l.Bases, l.Relation, l.Warnings)
	}
	deep := "---\nbase_model: " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "\n---\n"
	if c, err := card.Parse([]byte(deep)); err == nil {
		l = lineage.Read(lineage.Repo{Type: haven.Model, ID: "alice/m"}, c.Data)
		if l.Bases != nil {
			t.Errorf("deep YAML: %q", l.Bases)
		}
	}
	// Long names and many warnings stay bounded.
	var many []any
	for range 10_000 {
		many = append(many, strings.Repeat("x", 10_000))
	}
	l = lineage.Read(lineage.Repo{Type: haven.Model, ID: "alice/m"}, map[string]any{"base_model": many})
	if len(l.Warnings) > 2*lineage.MaxLinks {
		t.Errorf("%d warnings", len(l.Warnings))
	}
	for _, w := range l.Warnings {
		if len(w) > 300 {
			t.Errorf("warning of %d bytes", len(w))
		}
	}
}

// graph is a lineage.Lookup over a fixed set of visible models.
type graph map[string]lineage.Parent

func (g graph) find(ids []string) (map[string]lineage.Parent, error) {
	out := map[string]lineage.Parent{}
	for _, id := range ids {
		if p, ok := g[strings.ToLower(id)]; ok {
			out[strings.ToLower(id)] = p
		}
	}
	return out, nil
}

func TestAncestors(t *testing.T) {
	g := graph{
		"a/child":   {ID: "a/child", Relation: lineage.Adapter, Bases: []string{"a/mid"}},
		"a/mid":     {ID: "a/Mid", Relation: lineage.Finetune, Bases: []string{"a/root"}},
		"a/root":    {ID: "a/root"},
		"c/one":     {ID: "c/one", Relation: lineage.Finetune, Bases: []string{"c/two"}},
		"c/two":     {ID: "c/two", Relation: lineage.Finetune, Bases: []string{"c/one"}},
		"m/merged":  {ID: "m/merged", Relation: lineage.Merge, Bases: []string{"a/root", "a/mid", "x/private", "m/merged"}},
		"deep/0":    {ID: "deep/0", Relation: lineage.Finetune, Bases: []string{"deep/1"}},
		"unrelated": {ID: "unrelated"},
	}
	for i := 1; i < 20; i++ {
		g[fmt.Sprintf("deep/%d", i)] = lineage.Parent{ID: fmt.Sprintf("deep/%d", i), Relation: lineage.Finetune, Bases: []string{fmt.Sprintf("deep/%d", i+1)}}
	}
	tests := []struct {
		self     string
		levels   [][]lineage.Node
		warnings []string
	}{
		{"a/root", nil, nil},
		{"a/child", [][]lineage.Node{{{"a/Mid", lineage.Adapter}}, {{"a/root", lineage.Finetune}}}, nil},
		{"c/one", [][]lineage.Node{{{"c/two", lineage.Finetune}}}, []string{"The base models of c/one lead back to it (a cycle); the loop is ignored"}},
		{"m/merged", [][]lineage.Node{{{"a/root", lineage.Merge}, {"a/Mid", lineage.Merge}}},
			[]string{"Base model x/private is unknown or private", "The base models of m/merged lead back to it (a cycle); the loop is ignored"}},
		{"nobody/here", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.self, func(t *testing.T) {
			levels, warnings, err := lineage.Ancestors(tt.self, g.find)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(levels, tt.levels) || !reflect.DeepEqual(warnings, tt.warnings) {
				t.Errorf("Ancestors = %v %q, want %v %q", levels, warnings, tt.levels, tt.warnings)
			}
		})
	}
	levels, warnings, err := lineage.Ancestors("deep/0", g.find)
	if err != nil || len(levels) != lineage.MaxDepth || len(warnings) != 1 {
		t.Errorf("deep chain: %d levels, %q, %v", len(levels), warnings, err)
	}
	boom := errors.New("boom")
	if _, _, err := lineage.Ancestors("a/child", func([]string) (map[string]lineage.Parent, error) { return nil, boom }); err != boom {
		t.Errorf("lookup error: %v", err)
	}
}
