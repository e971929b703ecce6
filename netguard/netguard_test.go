package netguard

import (
	"context"
	"errors"
	"net/netip"
	"testing"
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

// hosts resolves names from a fixed table; names not in it do not resolve.
type hosts map[string][]string

func (h hosts) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	addrs, ok := h[host]
	if !ok {
		return nil, errors.New("no such host " + host)
	}
	var out []netip.Addr
	for _, a := range addrs {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

func TestCheck(t *testing.T) {
	res := hosts{
		"public.example":   {"93.184.216.34"},
		"internal.example": {"10.0.0.5"},
		"mixed.example":    {"93.184.216.34", "127.0.0.1"},
	}
	tests := []struct {
		url          string
		allowPrivate bool
		notHTTP      bool
		refused      string // the refused address, "" when accepted
	}{
		{url: "https://public.example/hook"},
		{url: "https://unresolved.example/"}, // checked again when dialled
		{url: "http://93.184.216.34:8080/x"},
		{url: "http://127.0.0.1:9000/hook", refused: "127.0.0.1"},
		{url: "http://[::1]/hook", refused: "::1"},
		{url: "http://localhost:8080/", refused: "::1"},
		{url: "http://api.localhost/", refused: "::1"},
		{url: "https://internal.example/", refused: "10.0.0.5"},
		{url: "https://mixed.example/", refused: "127.0.0.1"},
		{url: "http://127.0.0.1:9000/hook", allowPrivate: true},
		{url: "https://internal.example/", allowPrivate: true},
		{url: "ftp://public.example/", notHTTP: true},
		{url: "/relative", notHTTP: true},
		{url: "http://", notHTTP: true},
		{url: "ftp://127.0.0.1/", allowPrivate: true, notHTTP: true},
	}
	for _, tt := range tests {
		err := Check(context.Background(), res, tt.url, tt.allowPrivate)
		var refused *RefusedError
		switch {
		case tt.notHTTP:
			if !errors.Is(err, ErrNotHTTP) {
				t.Errorf("Check(%q) = %v, want ErrNotHTTP", tt.url, err)
			}
		case tt.refused != "":
			if !errors.As(err, &refused) || refused.Addr.String() != tt.refused {
				t.Errorf("Check(%q) = %v, want %s refused", tt.url, err, tt.refused)
			}
		case err != nil:
			t.Errorf("Check(%q, %v) = %v, want nil", tt.url, tt.allowPrivate, err)
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
