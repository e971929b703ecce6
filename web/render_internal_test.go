package web

import (
	"bytes"
	"strings"
	"testing"
	"testing/fstest"
)

// TestParsePages: every page runs inside the layout with its own content,
// from one template set; a file that would replace another's template, or
// a page or layout without the one content action, is refused at start.
func TestParsePages(t *testing.T) {
	layout := `<main>{{template "content" .}}</main>{{template "shared" .}}`
	for _, tt := range []struct {
		name  string
		files map[string]string
		want  map[string]string // page → rendered with "x"
		err   string
	}{
		{
			name: "pages",
			files: map[string]string{
				"templates/layout.html": layout,
				"templates/parts.html":  `{{define "shared"}}[{{.}}]{{end}}`,
				"templates/a.html":      `{{define "content"}}A {{template "helper" .}}{{end}}{{define "helper"}}h{{end}}`,
				"templates/b.html":      `{{define "content"}}B {{.}}{{end}}`,
			},
			want: map[string]string{"a": "<main>A h</main>[x]", "b": "<main>B x</main>[x]"},
		},
		{
			name: "a template defined twice",
			files: map[string]string{
				"templates/layout.html": layout,
				"templates/parts.html":  `{{define "shared"}}{{end}}`,
				"templates/a.html":      `{{define "content"}}A{{end}}{{define "shared"}}other{{end}}`,
			},
			err: `"shared" is defined in templates/parts.html and templates/a.html`,
		},
		{
			name: "a page without content",
			files: map[string]string{
				"templates/layout.html": layout,
				"templates/a.html":      `{{define "body"}}A{{end}}`,
			},
			err: "must define its content",
		},
		{
			name: "a layout without content",
			files: map[string]string{
				"templates/layout.html": `<main></main>`,
				"templates/a.html":      `{{define "content"}}A{{end}}`,
			},
			err: "the layout must call",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for n, s := range tt.files {
				fsys[n] = &fstest.MapFile{Data: []byte(s)}
			}
			ps, err := parsePages(fsys)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one saying %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for page, want := range tt.want {
				var buf bytes.Buffer
				if err := ps.t.ExecuteTemplate(&buf, ps.layout[page], "x"); err != nil {
					t.Fatal(err)
				}
				if buf.String() != want {
					t.Errorf("page %s = %q, want %q", page, buf.String(), want)
				}
			}
		})
	}
}
