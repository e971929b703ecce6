package webhooks

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/havenhub/haven"
)

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
