package collections_test

import (
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/collections"
	"github.com/havenhub/haven/web"
)

func TestIDOf(t *testing.T) {
	const id = "64f9a55bb3115b4f513ec026"
	tests := []struct{ slug, want string }{
		{"TheBloke/recent-models-" + id, id},
		{"TheBloke/renamed-since-" + id, id},
		{"TheBloke/" + id, id},
		{id, id},
		{"TheBloke/recent-models-64F9A55BB3115B4F513EC026", id},
		{"TheBloke/recent-models", ""},
		{"TheBloke/recent-models-64f9a55bb3115b4f513ec02", ""},
		{"TheBloke/x" + id, ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := collections.IDOf(tt.slug); got != tt.want {
			t.Errorf("IDOf(%q) = %q, want %q", tt.slug, got, tt.want)
		}
	}
}

func TestSlug(t *testing.T) {
	tests := []struct{ title, want string }{
		{"My cool stuff", "alice/my-cool-stuff-0123456789abcdef01234567"},
		{"  ICCV 2023 -- Papers!! ", "alice/iccv-2023-papers-0123456789abcdef01234567"},
		{"Été à Paris", "alice/t-paris-0123456789abcdef01234567"},
		{"???", "alice/0123456789abcdef01234567"},
	}
	for _, tt := range tests {
		c := haven.Collection{ID: "0123456789abcdef01234567", Owner: "alice", Title: tt.title}
		if got := c.Slug(); got != tt.want {
			t.Errorf("slug of %q = %q, want %q", tt.title, got, tt.want)
		}
	}
}

func TestNoteHTML(t *testing.T) {
	s := collections.New(collections.Config{Markdown: web.RenderNote})
	tests := []struct{ note, want string }{
		{"This is a test item", "This is a test item"},
		{"A *model*", "A <em>model</em>"},
		{"<script>alert(1)</script>hi", "hi"},
		{"[x](javascript:alert(1))", "x"},
		{"one\n\ntwo", "<p>one</p>\n<p>two</p>"},
	}
	for _, tt := range tests {
		if got := s.NoteHTML(tt.note); got != tt.want {
			t.Errorf("NoteHTML(%q) = %q, want %q", tt.note, got, tt.want)
		}
	}
}
