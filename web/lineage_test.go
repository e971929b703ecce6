package web_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// commitTo commits files to a repository of any type ("models",
// "datasets", "spaces").
func (s *site) commitTo(user, types, repo string, files map[string]string) {
	s.t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.Encode(map[string]any{"key": "header", "value": map[string]any{"summary": "files"}})
	for p, c := range files {
		enc.Encode(map[string]any{"key": "file", "value": map[string]any{"path": p, "content": base64.StdEncoding.EncodeToString([]byte(c)), "encoding": "base64"}})
	}
	if p := s.apiDo("POST", "/api/"+types+"/"+repo+"/commit/main", s.tokens[user], "application/x-ndjson", b.Bytes()); p.status != 200 {
		s.t.Fatalf("commit to %s: %d %s", repo, p.status, p.body)
	}
}

func (s *site) createTyped(user string, body map[string]any) {
	s.t.Helper()
	b, _ := json.Marshal(body)
	if p := s.apiDo("POST", "/api/repos/create", s.tokens[user], "application/json", b); p.status != 200 {
		s.t.Fatalf("create %v: %d %s", body, p.status, p.body)
	}
}

// TestLineagePages checks the model tree of model pages (bases above, counts
// per relation below, private models counted only for those who see them,
// cycles and unknown bases as warnings) and the models and Spaces listed on
// dataset and model pages.
func TestLineagePages(t *testing.T) {
	s := newSite(t)
	card := func(yaml string) string { return "---\n" + yaml + "\n---\n# Card\n" }
	for _, name := range []string{"root", "base", "tuned", "lora", "gguf", "merged", "loop-a", "loop-b", "self"} {
		s.createRepo("alice", name, false)
	}
	s.createRepo("bob", "secret", true)
	s.createTyped("alice", map[string]any{"name": "reviews", "type": "dataset"})
	s.createTyped("bob", map[string]any{"name": "demo", "type": "space", "sdk": "static"})
	s.createTyped("bob", map[string]any{"name": "hidden-demo", "type": "space", "sdk": "static", "private": true})

	s.commit("alice", "alice/base", "card", map[string]string{"README.md": card("base_model: alice/root"), "model.safetensors": "w"})
	s.commit("alice", "alice/tuned", "card", map[string]string{"README.md": card("base_model: alice/base\ndatasets: [alice/reviews]")})
	s.commit("alice", "alice/lora", "card", map[string]string{"README.md": card("base_model: alice/base"), "adapter_config.json": "{}"})
	s.commit("alice", "alice/gguf", "card", map[string]string{"README.md": card("base_model: alice/base\nbase_model_relation: quantized")})
	s.commit("alice", "alice/merged", "card", map[string]string{"README.md": card("base_model: [alice/base, alice/root, nobody/missing, bob/secret]")})
	s.commit("alice", "alice/loop-a", "card", map[string]string{"README.md": card("base_model: alice/loop-b")})
	s.commit("alice", "alice/loop-b", "card", map[string]string{"README.md": card("base_model: alice/loop-a")})
	s.commit("alice", "alice/self", "card", map[string]string{"README.md": card("base_model: alice/self")})
	s.commit("bob", "bob/secret", "card", map[string]string{"README.md": card("base_model: alice/base\ndatasets: alice/reviews")})
	s.commitTo("bob", "spaces", "bob/demo", map[string]string{"README.md": card("sdk: static\nmodels: [alice/base]\ndatasets: [alice/reviews]"), "index.html": "hi"})
	s.commitTo("bob", "spaces", "bob/hidden-demo", map[string]string{"README.md": card("sdk: static\nmodels: [alice/base]"), "index.html": "hi"})

	anon, bob := s.browser(), s.browser()
	bob.signIn("bob")
	tests := []struct {
		name   string
		b      *browser
		path   string
		has    []string
		hasNot []string
	}{
		{"base, anonymous", anon, "/alice/base", []string{
			`data-base-model="alice/root"`, `data-relation="finetune"`,
			`aria-label="Adapters of this model: 1"`, `aria-label="Fine-tunes of this model: 1"`,
			`aria-label="Quantizations of this model: 1"`, `aria-label="Merges with this model: 1"`,
			`href="/models?filter=base_model%3Aadapter%3Aalice%2Fbase"`, `href="/spaces/bob/demo"`,
		}, []string{"hidden-demo", "data-lineage-warnings"}},
		{"base, bob sees his private fine-tune and Space", bob, "/alice/base", []string{
			`aria-label="Fine-tunes of this model: 2"`, `href="/spaces/bob/hidden-demo"`,
		}, nil},
		{"adapter two levels down", anon, "/alice/lora", []string{
			`data-base-model="alice/root"`, `data-base-model="alice/base"`, `data-relation="adapter"`,
		}, nil},
		{"merge with unknown and private bases", anon, "/alice/merged", []string{
			`data-relation="merge"`, `data-base-model="alice/base"`, "nobody/missing is unknown or private", "bob/secret is unknown or private",
		}, nil},
		{"merge seen by bob", bob, "/alice/merged", []string{`data-base-model="bob/secret"`}, []string{"bob/secret is unknown or private"}},
		{"cycle", anon, "/alice/loop-a", []string{`data-base-model="alice/loop-b"`, "lead back to it (a cycle)"}, nil},
		{"self reference", anon, "/alice/self", []string{"as its own base model"}, []string{"data-base-model"}},
		{"dataset, anonymous", anon, "/datasets/alice/reviews", []string{
			`aria-label="Models trained on this dataset: 1"`, `href="/alice/tuned" data-trained-model`, `href="/spaces/bob/demo"`,
		}, []string{"bob/secret"}},
		{"dataset, bob", bob, "/datasets/alice/reviews", []string{`aria-label="Models trained on this dataset: 2"`, `href="/bob/secret"`}, nil},
		{"listing by relation", anon, "/models?filter=base_model%3Aquantized%3Aalice%2Fbase", []string{`href="/alice/gguf"`}, []string{`href="/alice/lora"`}},
		{"private fine-tune hidden from the listing", anon, "/models?filter=base_model%3Afinetune%3Aalice%2Fbase", []string{`href="/alice/tuned"`}, []string{`href="/bob/secret"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.b.get(tt.path)
			if p.status != 200 {
				t.Fatalf("status %d\n%s", p.status, p.body)
			}
			for _, w := range tt.has {
				if !strings.Contains(p.body, w) {
					t.Errorf("no %q", w)
				}
			}
			for _, w := range tt.hasNot {
				if strings.Contains(p.body, w) {
					t.Errorf("has %q", w)
				}
			}
		})
	}
}
