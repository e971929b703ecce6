package runner

import "testing"

func TestMountRewrite(t *testing.T) {
	m := Mount{Source: "/srv/vol/1", Target: "/data"}
	tests := []struct{ in, want string }{
		{"/data/train.py", "/srv/vol/1/train.py"},
		{"/data", "/srv/vol/1"},
		{"/database/x", "/database/x"},
		{"--output=/data/out", "--output=/srv/vol/1/out"},
		{"--output", "--output"},
		{"relative/data", "relative/data"},
		{"-", "-"},
	}
	for _, tt := range tests {
		if got := m.Rewrite(tt.in); got != tt.want {
			t.Errorf("Rewrite(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := (Mount{Source: "/x", Target: "/"}).Rewrite("/etc"); got != "/etc" {
		t.Errorf("a mount at / rewrote %q", got)
	}
}
