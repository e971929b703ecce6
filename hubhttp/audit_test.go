package hubhttp

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestClientIP(t *testing.T) {
	tests := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"peer", "203.0.113.7:4000", nil, "203.0.113.7"},
		{"peer ignores forwarded", "203.0.113.7:4000", []string{"198.51.100.1"}, "203.0.113.7"},
		{"loopback proxy", "127.0.0.1:4000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"last entry of the last header", "127.0.0.1:4000", []string{"10.0.0.1", "192.0.2.5, 198.51.100.1"}, "198.51.100.1"},
		{"ipv6 loopback proxy", "[::1]:4000", []string{"2001:db8::1"}, "2001:db8::1"},
		{"loopback without header", "127.0.0.1:4000", nil, "127.0.0.1"},
		{"garbage forwarded", "127.0.0.1:4000", []string{"not-an-ip"}, "127.0.0.1"},
		{"ipv6 peer kept whole", "[2001:db8::5]:4000", nil, "2001:db8::5"},
		{"no port", "203.0.113.9", nil, "203.0.113.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := ClientIP(r); got != tt.want {
				t.Fatalf("ClientIP = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSegments(t *testing.T) {
	tests := []struct {
		path string
		skip int
		want []string
		bad  bool
	}{
		{"/api/jobs/alice/123/logs", 2, []string{"alice", "123", "logs"}, false},
		{"/api/jobs", 2, nil, false},
		{"/api/jobs/", 2, nil, false},
		{"/api/buckets/alice/b/tree/dir%2Fsub", 2, []string{"alice", "b", "tree", "dir/sub"}, false},
		{"/e/alice/ep/health", 1, []string{"alice", "ep", "health"}, false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "http://h"+tt.path, nil)
		got, err := Segments(r, tt.skip)
		if (err != nil) != tt.bad {
			t.Errorf("Segments(%q) error = %v", tt.path, err)
			continue
		}
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("Segments(%q, %d) = %q, want %q", tt.path, tt.skip, got, tt.want)
		}
	}
}
