package webhooks

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/havenhub/haven"
)

func TestBlocked(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1", true},
		{"127.8.9.10", true},
		{"::1", true},
		{"10.1.2.3", true},
		{"172.16.0.1", true},
		{"172.31.255.255", true},
		{"192.168.1.1", true},
		{"169.254.169.254", true}, // cloud metadata
		{"fe80::1", true},
		{"fc00::1", true},
		{"fd12:3456::1", true},
		{"0.0.0.0", true},
		{"::", true},
		{"0.1.2.3", true},
		{"100.64.0.1", true},
		{"224.0.0.1", true},
		{"ff02::1", true},
		{"255.255.255.255", true},
		{"::ffff:127.0.0.1", true}, // IPv4-mapped loopback
		{"::ffff:10.0.0.1", true},
		{"8.8.8.8", false},
		{"172.32.0.1", false},
		{"100.128.0.1", false},
		{"2606:4700:4700::1111", false},
		{"::ffff:8.8.8.8", false},
	}
	for _, tt := range tests {
		if got := Blocked(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("Blocked(%s) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}

// hosts resolves names from a fixed table, as a DNS server would answer;
// names not in it do not resolve.
type hosts map[string][]string

func (h hosts) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	addrs, ok := h[host]
	if !ok {
		return nil, &haven.Error{Code: haven.ENotFound, Message: "no such host " + host}
	}
	var out []netip.Addr
	for _, a := range addrs {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

func TestCheckURL(t *testing.T) {
	res := hosts{
		"public.example":   {"93.184.216.34"},
		"internal.example": {"10.0.0.5"},
		"mixed.example":    {"93.184.216.34", "127.0.0.1"},
	}
	tests := []struct {
		url          string
		allowPrivate bool
		wantErr      string // "" when accepted
	}{
		{"https://public.example/hook", false, ""},
		{"https://webhook.site/test", false, ""}, // does not resolve now: checked again on delivery
		{"http://93.184.216.34:8080/x", false, ""},
		{"http://127.0.0.1:9000/hook", false, "loopback, private or link-local"},
		{"http://[::1]/hook", false, "loopback, private or link-local"},
		{"http://localhost:8080/", false, "loopback, private or link-local"},
		{"http://api.localhost/", false, "loopback, private or link-local"},
		{"http://169.254.169.254/latest/meta-data", false, "loopback, private or link-local"},
		{"https://internal.example/", false, "resolves to 10.0.0.5"},
		{"https://mixed.example/", false, "resolves to 127.0.0.1"},
		{"http://0.0.0.0:80/", false, "loopback, private or link-local"},
		{"http://127.0.0.1:9000/hook", true, ""},
		{"https://internal.example/", true, ""},
		{"ftp://public.example/", false, "absolute http or https URL"},
		{"/relative", false, "absolute http or https URL"},
		{"http://", false, "absolute http or https URL"},
		{"ftp://127.0.0.1/", true, "absolute http or https URL"},
	}
	for _, tt := range tests {
		err := CheckURL(context.Background(), res, tt.url, tt.allowPrivate)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("CheckURL(%q, %v) = %v, want nil", tt.url, tt.allowPrivate, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("CheckURL(%q, %v) = %v, want an error with %q", tt.url, tt.allowPrivate, err, tt.wantErr)
		case err != nil && !haven.IsCode(err, haven.EInvalid):
			t.Errorf("CheckURL(%q) error code is not invalid: %v", tt.url, err)
		}
	}
}

func TestDialControl(t *testing.T) {
	tests := []struct {
		address string
		ok      bool
	}{
		{"127.0.0.1:80", false},
		{"[::1]:443", false},
		{"10.0.0.1:8080", false},
		{"169.254.169.254:80", false},
		{"[::ffff:192.168.0.1]:80", false},
		{"93.184.216.34:443", true},
		{"[2606:4700:4700::1111]:443", true},
	}
	for _, tt := range tests {
		err := DialControl("tcp", tt.address, nil)
		if (err == nil) != tt.ok {
			t.Errorf("DialControl(%s) = %v, want ok=%v", tt.address, err, tt.ok)
		}
	}
}
