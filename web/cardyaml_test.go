package web_test

import (
	"strings"
	"testing"
)

// Card metadata that does not parse is kept out of the rendered card, and
// the page says what is wrong and where, as the Hub's does.
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
	}
}
