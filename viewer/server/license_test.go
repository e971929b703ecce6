package server

import (
	"testing"

	"github.com/havenhub/haven"
)

func TestCardLicense(t *testing.T) {
	cases := []struct {
		card map[string]any
		want string
	}{
		{map[string]any{"license": "mit"}, "mit"},
		{map[string]any{"license": []any{"mit", "cc-by-4.0"}}, "mit, cc-by-4.0"},
		{map[string]any{"tags": []any{"x"}}, ""},
		{nil, ""},
	}
	for _, c := range cases {
		if got := cardLicense(&haven.Repo{CardData: c.card}); got != c.want {
			t.Errorf("%v: %q, want %q", c.card, got, c.want)
		}
	}
	if cardLicense(nil) != "" {
		t.Error("no repository, a licence")
	}
}
