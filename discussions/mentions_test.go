package discussions

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestMentions(t *testing.T) {
	many := ""
	for i := range 30 {
		many += fmt.Sprintf("@u%d ", i)
	}
	tests := []struct {
		name, text string
		want       []string
	}{
		{"start", "@alice look", []string{"alice"}},
		{"several, once each", "cc @alice, @Bob and @ALICE.", []string{"alice", "Bob"}},
		{"trailing dot", "thanks @bob.", []string{"bob"}},
		{"dotted name", "@first.last hi", []string{"first.last"}},
		{"email is no mention", "write to me@example.org", nil},
		{"path is no mention", "see org/@scope/pkg", nil},
		{"bare at", "@ alone", nil},
		{"line start", "hi\n@carol", []string{"carol"}},
		{"bounded", many, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Mentions(tt.text)
			if tt.name == "bounded" {
				if len(got) != maxMentions || got[0] != "u0" {
					t.Fatalf("got %d names (%s)", len(got), strings.Join(got, " "))
				}
				return
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}
