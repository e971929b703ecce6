// Package netguard keeps server-side HTTP clients out of the server's own
// network: a target given by a user (a webhook URL, a mirror's remote hub,
// the upstream of the pull-through cache) may not lead to loopback, private
// or link-local addresses unless the operator allows it.
package netguard

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// blockedPrefixes are special-purpose ranges that netip has no predicate
// for and that lead into the operator's own network: "this network",
// carrier-grade NAT, protocol assignments, benchmarking and broadcast.
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("255.255.255.255/32"),
}

// Blocked reports whether ip is the server's own or its network's:
// loopback, private, link-local, unspecified, multicast and the
// special-purpose ranges above.
func Blocked(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return true
	}
	for _, p := range blockedPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Resolver looks up the addresses of a host; net.DefaultResolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// ErrNotHTTP is returned by Check for anything but an absolute http or
// https URL with a host.
var ErrNotHTTP = fmt.Errorf("an absolute http or https URL is needed")

// RefusedError says which address of a URL's host is blocked.
type RefusedError struct {
	Host string
	Addr netip.Addr
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%s resolves to %s, a loopback, private or link-local address", e.Host, e.Addr)
}

// Check validates a target URL: an absolute http or https URL whose host
// does not resolve to a blocked address, unless allowPrivate. A host that
// does not resolve now is accepted, since DialControl checks the address
// actually dialled and a receiver may come up later. The error is
// ErrNotHTTP or a *RefusedError.
func Check(ctx context.Context, res Resolver, raw string, allowPrivate bool) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return ErrNotHTTP
	}
	if allowPrivate {
		return nil
	}
	host := u.Hostname()
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		addrs = []netip.Addr{netip.IPv6Loopback()}
	} else if addrs, err = res.LookupNetIP(ctx, "ip", host); err != nil {
		return nil
	}
	for _, ip := range addrs {
		if Blocked(ip) {
			return &RefusedError{Host: host, Addr: ip}
		}
	}
	return nil
}

// DialControl refuses connections to blocked addresses, as a net.Dialer's
// Control. It runs after name resolution, on the address actually dialled,
// so that a name that resolved to a public address when it was checked and
// to a private one now (DNS rebinding) is still refused.
func DialControl(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("unexpected address %q", address)
	}
	if Blocked(ip) {
		return fmt.Errorf("refusing to connect to %s, a loopback, private or link-local address", ip)
	}
	return nil
}
