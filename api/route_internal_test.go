package api

import (
	"slices"
	"strings"
	"testing"

	"github.com/havenhub/haven"
)

func TestSplitPath(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
		bad  bool
	}{
		{in: "/", want: nil},
		{in: "/api/models/alice/bert", want: []string{"api", "models", "alice", "bert"}},
		{in: "/alice/bert/resolve/refs%2Fpr%2F1/a%20b.txt", want: []string{"alice", "bert", "resolve", "refs/pr/1", "a b.txt"}},
		{in: "/api//x/", want: []string{"api", "", "x"}},
		{in: "/a/%zz", bad: true},
	} {
		got, err := splitPath(tt.in)
		if tt.bad {
			if err == nil {
				t.Errorf("splitPath(%q) = %q, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("splitPath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// TestRepoCacheKey holds the keys to lower case as strings.ToLower gives
// it, for ASCII and other names.
func TestRepoCacheKey(t *testing.T) {
	for _, n := range [][2]string{{"alice", "bert"}, {"Alice", "BERT-Base_1.0"}, {"ÉCOLE", "Modèle-Ünï"}, {"a", "xİy"}} {
		want := "model/" + strings.ToLower(n[0]) + "/" + strings.ToLower(n[1])
		if got := repoCacheKey(haven.Model, n[0], n[1]); got != want {
			t.Errorf("repoCacheKey(%q, %q) = %q, want %q", n[0], n[1], got, want)
		}
	}
}
