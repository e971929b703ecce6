package card_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/card"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		data map[string]any
		body string
	}{
		{"no front matter", "# Title\n", nil, "# Title\n"},
		{"simple", "---\nlicense: mit\ntags:\n- a\n- b\n---\n# Model\n", map[string]any{"license": "mit", "tags": []any{"a", "b"}}, "# Model\n"},
		{"crlf", "---\r\nlicense: mit\r\n---\r\nbody\r\n", map[string]any{"license": "mit"}, "body\r\n"},
		{"closing at end of file", "---\nx: 1\n---", map[string]any{"x": 1}, ""},
		{"empty front matter", "---\n---\nbody", map[string]any{}, "body"},
		{"comment only", "---\n# nothing\n---\n", map[string]any{}, ""},
		{"after blank lines", "\n  \n---\nx: 1\n---\nbody", map[string]any{"x": 1}, "body"},
		{"after text", "# Title\n---\nx: 1\n---\n", nil, "# Title\n---\nx: 1\n---\n"},
		{"unclosed", "---\nx: 1\n", nil, "---\nx: 1\n"},
		{"nested and typed", "---\na:\n  b: [1, 2.5, true, null]\nd: 2023-01-02\nn: .nan\n1: one\n---\n",
			map[string]any{"a": map[string]any{"b": []any{1, 2.5, true, nil}}, "d": "2023-01-02", "n": ".nan", "1": "one"}, ""},
		{"anchors and merge", "---\nbase: &b {x: 1}\nderived:\n  <<: *b\n  y: 2\n---\n",
			map[string]any{"base": map[string]any{"x": 1}, "derived": map[string]any{"x": 1, "y": 2}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := card.Parse([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Data, tt.data) {
				t.Errorf("Data = %#v, want %#v", c.Data, tt.data)
			}
			if string(c.Body) != tt.body {
				t.Errorf("Body = %q, want %q", c.Body, tt.body)
			}
			if _, err := json.Marshal(c.Data); err != nil {
				t.Errorf("Data does not marshal: %v", err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	laughs := "---\na: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	prev := "a"
	for _, name := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		laughs += name + ": &" + name + " [" + strings.Repeat("*"+prev+",", 8) + "*" + prev + "]\n"
		prev = name
	}
	laughs += "---\n"
	tests := []struct {
		name    string
		in      string
		message string
	}{
		{"bad yaml reports README line", "---\nlicense: mit\ntags: [a\n---\n", "line "},
		{"line counts blank lines before the block", "\n\n---\nlicense: mit\nx: y: z\n---\n", "line 5"},
		{"mapping expected", "---\n- a\n- b\n---\n", "mapping"},
		{"scalar top level", "---\njust text\n---\n", "mapping"},
		{"duplicate key", "---\na: 1\na: 2\n---\n", "already defined"},
		{"billion laughs", laughs, "aliasing"},
		{"oversized", "---\n" + strings.Repeat("k: v\n", 300000) + "---\n", "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := card.Parse([]byte(tt.in))
			if err == nil {
				t.Fatalf("accepted: %v", c.Data)
			}
			if !haven.IsCode(err, haven.EInvalid) || !strings.Contains(err.Error(), tt.message) {
				t.Errorf("err = %v (%s), want EInvalid mentioning %q", err, haven.ErrorCode(err), tt.message)
			}
		})
	}
}

func TestParseErrorLineNumber(t *testing.T) {
	// The bad indentation is on line 3 of the README, line 2 of the YAML.
	_, err := card.Parse([]byte("---\na: 1\n  b: 2\nc: 3\n---\n"))
	if err == nil || !strings.Contains(err.Error(), "line 3:") {
		t.Fatalf("err = %v, want a README line number", err)
	}
}

func TestMeta(t *testing.T) {
	tests := []struct {
		name   string
		readme string
		typ    haven.RepoType
		want   card.Meta
	}{
		{"no metadata", "# hi", haven.Model, card.Meta{}},
		{"model", `---
license: apache-2.0
language: [en, fr]
datasets: squad
base_model: bert-base-uncased
library_name: transformers
pipeline_tag: fill-mask
tags: [bert, transformers, "2024"]
---
`, haven.Model, card.Meta{
			Tags:        []string{"transformers", "bert", "2024", "fill-mask", "language:en", "language:fr", "dataset:squad", "base_model:bert-base-uncased", "license:apache-2.0"},
			PipelineTag: "fill-mask", LibraryName: "transformers", License: "apache-2.0",
		}},
		{"dataset", `---
license: [mit, cc-by-4.0]
task_categories: [text-classification]
size_categories: [1K<n<10K]
language: en
tags: [nlp]
---
`, haven.Dataset, card.Meta{
			Tags:    []string{"nlp", "task_categories:text-classification", "size_categories:1K<n<10K", "language:en", "license:mit", "license:cc-by-4.0"},
			License: "mit",
		}},
		{"dataset keys ignored for models", "---\ntask_categories: [x]\n---\n", haven.Model, card.Meta{}},
		{"wrong types are skipped", "---\npipeline_tag: [a]\ntags: [{x: 1}, ok]\nlicense: 3\n---\n", haven.Model, card.Meta{
			Tags: []string{"ok", "license:3"}, License: "3",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := card.Parse([]byte(tt.readme))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Meta(tt.typ); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Meta = %#v\nwant   %#v", got, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name     string
		readme   string
		typ      haven.RepoType
		errors   int
		warnings int
		contains string
	}{
		{"no front matter", "# Just a title\n", haven.Model, 0, 1, "empty or missing yaml metadata"},
		{"empty front matter", "---\n---\n", haven.Model, 0, 1, "empty or missing yaml metadata"},
		{"valid model card", "---\nlicense: mit\ntags: [a]\nlanguage: en\ndatasets: [d]\npipeline_tag: text-generation\nlibrary_name: transformers\nmodel-index:\n- name: m\n  results:\n  - task: {type: t}\n---\n", haven.Model, 0, 0, ""},
		{"invalid yaml", "---\na: [\n---\n", haven.Model, 1, 0, "Invalid YAML"},
		{"model-index scalar", "---\nmodel-index: foo\n---\n", haven.Model, 1, 0, "model-index"},
		{"model-index without results", "---\nmodel-index:\n- name: m\n---\n", haven.Model, 1, 0, "results"},
		{"model-index entry not object", "---\nmodel-index: [x]\n---\n", haven.Model, 1, 0, "model-index[0]"},
		{"license object", "---\nlicense: {a: b}\n---\n", haven.Model, 1, 0, "license"},
		{"license list of numbers", "---\nlicense: [1]\n---\n", haven.Model, 1, 0, "license"},
		{"unknown license", "---\nlicense: asdf\n---\n", haven.Model, 1, 0, "asdf"},
		{"unknown license in a list", "---\nlicense: [mit, nope-1.0]\n---\n", haven.Model, 1, 0, "nope-1.0"},
		{"license other", "---\nlicense: other\nlicense_name: mine\n---\n", haven.Model, 0, 0, ""},
		{"license case-insensitive", "---\nlicense: Apache-2.0\n---\n", haven.Model, 0, 0, ""},
		{"tags nested list", "---\ntags: [[a]]\n---\n", haven.Model, 1, 0, "tags"},
		{"pipeline_tag list", "---\npipeline_tag: [a]\n---\n", haven.Model, 1, 0, "pipeline_tag"},
		{"space sdk ok", "---\nsdk: gradio\n---\n", haven.Space, 0, 0, ""},
		{"space sdk bad", "---\nsdk: flask\n---\n", haven.Space, 1, 0, "sdk"},
		{"sdk ignored for models", "---\nsdk: flask\n---\n", haven.Model, 0, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs, warns := card.Validate([]byte(tt.readme), tt.typ)
			if errs == nil || warns == nil {
				t.Fatal("nil slices would marshal as null")
			}
			if len(errs) != tt.errors || len(warns) != tt.warnings {
				t.Fatalf("errors %v, warnings %v; want %d and %d", errs, warns, tt.errors, tt.warnings)
			}
			all := append(append([]card.Issue{}, errs...), warns...)
			if tt.contains != "" && !strings.Contains(all[0].Message, tt.contains) {
				t.Errorf("message %q does not mention %q", all[0].Message, tt.contains)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("---\nlicense: mit\ntags: [a, b]\n---\n# body"))
	f.Add([]byte("---\r\na: &x [1, *x]\r\n---\r\n"))
	f.Add([]byte("---\n? [a, b]\n: c\n1.5: .inf\n---\n"))
	f.Add([]byte("# no metadata"))
	f.Fuzz(func(t *testing.T, readme []byte) {
		c, err := card.Parse(readme)
		errs, warns := card.Validate(readme, haven.Model)
		if err != nil {
			if !haven.IsCode(err, haven.EInvalid) {
				t.Fatalf("error code %q: %v", haven.ErrorCode(err), err)
			}
			if len(errs) == 0 {
				t.Fatal("Validate accepted what Parse rejects")
			}
			return
		}
		if _, err := json.Marshal(c.Data); err != nil {
			t.Fatalf("Data does not marshal: %v", err)
		}
		if c.Data == nil && len(warns) == 0 {
			t.Fatal("no warning for missing metadata")
		}
		c.Meta(haven.Dataset)
	})
}
