package web_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// Card metadata that does not parse is kept out of the rendered card, and
// the page says what is wrong and where, as the Hub's does; so does repo
// info, beside the missing cardData.
func TestCardYAMLError(t *testing.T) {
	s := newSite(t)
	cases := []struct {
		name, readme string
		warning      string // "" for none
		body, absent string
	}{
		{"broken", "---\nlicense: [mit\ntags:\n  - : :\n---\n# Hello\n", "YAML Metadata Error:</strong> Invalid YAML in card metadata: yaml: line ", "<h1", "license: [mit"},
		{"list", "---\n- a\n- b\n---\n# Hello\n", "expected a YAML mapping", "<h1", "- a"},
		{"fine", "---\nlicense: mit\n---\n# Hello\n", "", "<h1", "license: mit"},
	}
	for _, c := range cases {
		s.createRepo("alice", c.name, false)
		s.commit("alice", "alice/"+c.name, "card", map[string]string{"README.md": c.readme})
		p := s.browser().get("/alice/" + c.name)
		article := between(p.body, `<article class="card-body"`, `</article>`)
		if c.warning == "" && strings.Contains(article, "data-yaml-error") || c.warning != "" && !strings.Contains(article, c.warning) {
			t.Errorf("%s: warning, want %q:\n%s", c.name, c.warning, article)
		}
		if !strings.Contains(article, c.body) || strings.Contains(article, c.absent) {
			t.Errorf("%s: card:\n%s", c.name, article)
		}
		info := s.apiDo("GET", "/api/models/alice/"+c.name, s.tokens["alice"], "", nil)
		var m struct {
			CardData      map[string]any `json:"cardData"`
			CardDataError *string        `json:"cardDataError"`
		}
		if err := json.Unmarshal([]byte(info.body), &m); err != nil || info.status != 200 {
			t.Fatalf("%s: info %d %s", c.name, info.status, info.body)
		}
		if c.warning == "" && (m.CardDataError != nil || m.CardData["license"] != "mit") ||
			c.warning != "" && (m.CardData != nil || m.CardDataError == nil || !strings.Contains("YAML Metadata Error:</strong> "+*m.CardDataError, c.warning)) {
			t.Errorf("%s: info %s", c.name, info.body)
		}
	}
}

// Prefixed tags of dataset cards are chips with their key, like licences.
func TestPrefixedTagChips(t *testing.T) {
	s := newSite(t)
	body := `{"name":"ds","type":"dataset"}`
	if p := s.apiDo("POST", "/api/repos/create", s.tokens["alice"], "application/json", []byte(body)); p.status != 200 {
		t.Fatalf("create: %d %s", p.status, p.body)
	}
	readme := "---\ntask_categories:\n- text-classification\nsize_categories:\n- 1K<n<10K\ntags:\n- plain\n---\n# Data\n"
	var b strings.Builder
	b.WriteString(`{"key":"header","value":{"summary":"card"}}` + "\n")
	b.WriteString(`{"key":"file","value":{"path":"README.md","content":` + strconvQuote(readme) + `}}` + "\n")
	if p := s.apiDo("POST", "/api/datasets/alice/ds/commit/main", s.tokens["alice"], "application/x-ndjson", []byte(b.String())); p.status != 200 {
		t.Fatalf("commit: %d %s", p.status, p.body)
	}
	p := s.browser().get("/datasets/alice/ds")
	chips := between(p.body, `<ul class="chips"`, `</ul>`)
	for _, want := range []string{`<span class="k">task categories:</span> text-classification`, `<span class="k">size categories:</span> 1K&lt;n&lt;10K`, `> plain</a>`} {
		if !strings.Contains(chips, want) {
			t.Errorf("chips lack %s:\n%s", want, chips)
		}
	}
	if strings.Contains(chips, "task_categories:text-classification") {
		t.Errorf("a raw tag:\n%s", chips)
	}
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
