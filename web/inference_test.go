package web_test

import (
	"strings"
	"testing"
)

// TestInferenceOnModelPages: a model whose task the hub serves gets an
// Inference snippet, and a try-it panel for the tasks it shows simply.
func TestInferenceOnModelPages(t *testing.T) {
	s := newSite(t)
	for name, task := range map[string]string{"emb": "feature-extraction", "qa": "question-answering", "img": "text-to-image"} {
		s.createRepo("alice", name, false)
		s.commit("alice", "alice/"+name, "card", map[string]string{"README.md": "---\npipeline_tag: " + task + "\n---\n# " + name + "\n"})
	}
	b := s.browser()
	p := b.do("GET", "/alice/emb", "", nil)
	for _, want := range []string{"InferenceClient", s.url + "/inference/hf-inference/models/alice/emb", "client.feature_extraction(", `data-inference data-model="alice/emb"`, "/static/inference.js"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("feature-extraction model page lacks %q", want)
		}
	}
	p = b.do("GET", "/alice/qa", "", nil)
	if !strings.Contains(p.body, "client.question_answering(") || strings.Contains(p.body, "data-inference ") {
		t.Error("question-answering: want the snippet without the panel")
	}
	p = b.do("GET", "/alice/img", "", nil)
	if strings.Contains(p.body, "InferenceClient") || strings.Contains(p.body, "data-inference ") {
		t.Error("an unserved task gets inference snippets")
	}
	if p := b.do("GET", "/static/inference.js", "", nil); p.status != 200 {
		t.Errorf("script: %d", p.status)
	}
}
