package oidc

import (
	"strings"
	"testing"

	"github.com/havenhub/haven"
)

func TestUserName(t *testing.T) {
	cases := []struct {
		preferred, email, want string
	}{
		{"alice", "", "alice"},
		{"alice@example.org", "", "alice"},
		{"", "bob.smith@example.org", "bob.smith"},
		{"Bob Smith", "", "Bob-Smith"},
		{"józef", "", "j-zef"},
		{"--a..b--", "", "a.b"},
		{"a.-b", "", "a-b"},
		{"repo.git", "", "repo"},
		{"...", "", "user"},
		{"", "", "user"},
		{"@example.org", "", "example.org"},
		{strings.Repeat("x", 200), "", strings.Repeat("x", maxNameLen)},
	}
	for _, tc := range cases {
		got := userName(tc.preferred, tc.email)
		if got != tc.want || !haven.ValidName(got) {
			t.Errorf("userName(%q, %q) = %q (valid %v), want %q", tc.preferred, tc.email, got, haven.ValidName(got), tc.want)
		}
	}
}
