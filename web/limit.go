package web

import (
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/havenhub/haven/hubhttp"
)

// Sign-in limits: failed attempts allowed per account and per client
// address within signInWindow. The account limit stops guessing one
// password from many addresses; the address limit stops one client from
// trying many accounts. Both are generous for people who mistype.
const (
	signInWindow      = 15 * time.Minute
	signInPerAccount  = 10
	signInPerAddress  = 30
	limiterSweepEvery = time.Minute
)

// failLimiter counts failures per key in a window that starts with the
// first failure; once a key has max failures it is refused until its
// window ends.
type failLimiter struct {
	max    int
	window time.Duration

	mu    sync.Mutex
	m     map[string]*failCount
	swept time.Time
}

type failCount struct {
	n     int
	reset time.Time
}

func newFailLimiter(max int, window time.Duration) *failLimiter {
	return &failLimiter{max: max, window: window, m: map[string]*failCount{}}
}

// wait returns how long key is still refused, or 0.
func (l *failLimiter) wait(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.m[key]
	if c == nil || !now.Before(c.reset) || c.n < l.max {
		return 0
	}
	return c.reset.Sub(now)
}

// fail counts one failure of key.
func (l *failLimiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Expired counts are dropped now and then, so the map holds only the
	// keys that failed within the last window.
	if now.Sub(l.swept) > limiterSweepEvery {
		for k, c := range l.m {
			if !now.Before(c.reset) {
				delete(l.m, k)
			}
		}
		l.swept = now
	}
	c := l.m[key]
	if c == nil || !now.Before(c.reset) {
		c = &failCount{reset: now.Add(l.window)}
		l.m[key] = c
	}
	c.n++
}

// clear forgets key's failures.
func (l *failLimiter) clear(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, key)
}

// signInLimits are the two limiters of the sign-in form.
type signInLimits struct {
	account, address *failLimiter
}

func newSignInLimits() signInLimits {
	return signInLimits{
		account: newFailLimiter(signInPerAccount, signInWindow),
		address: newFailLimiter(signInPerAddress, signInWindow),
	}
}

// clientAddress is the key of the client a request comes from
// (hubhttp.ClientIP). IPv6 clients are counted per /64, the block one
// subscriber usually has.
func clientAddress(r *http.Request) string {
	addr := hubhttp.ClientIP(r)
	ip := net.ParseIP(addr)
	if ip == nil || ip.To4() != nil {
		return addr
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// retryText says how long to wait, in whole minutes, for people.
func retryText(d time.Duration) string {
	m := int((d + time.Minute - 1) / time.Minute)
	if m <= 1 {
		return "a minute"
	}
	return fmt.Sprintf("%d minutes", m)
}
