package web

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/havenhub/haven/hubhttp"
	"github.com/havenhub/haven/meta"
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
// window ends. Counts live in the database (meta.Store.FailSignIn), so
// that every server sharing it enforces the same limits, and they outlast
// restarts.
type failLimiter struct {
	store  *meta.Store
	prefix string // keeps the account and address counts apart
	max    int
	window time.Duration

	mu    sync.Mutex
	swept time.Time
}

func newFailLimiter(store *meta.Store, prefix string, max int, window time.Duration) *failLimiter {
	return &failLimiter{store: store, prefix: prefix, max: max, window: window}
}

// wait returns how long key is still refused, or 0.
func (l *failLimiter) wait(ctx context.Context, key string, now time.Time) (time.Duration, error) {
	n, reset, err := l.store.SignInFailures(ctx, l.prefix+key, now)
	if err != nil || n < l.max {
		return 0, err
	}
	return reset.Sub(now), nil
}

// fail counts one failure of key.
func (l *failLimiter) fail(ctx context.Context, key string, now time.Time) error {
	// Ended counts are dropped now and then, so the table holds only the
	// keys that failed within the last window.
	l.mu.Lock()
	sweep := now.Sub(l.swept) > limiterSweepEvery
	if sweep {
		l.swept = now
	}
	l.mu.Unlock()
	if sweep {
		if err := l.store.DeleteEndedSignInFailures(ctx, now); err != nil {
			return err
		}
	}
	return l.store.FailSignIn(ctx, l.prefix+key, now, l.window)
}

// clear forgets key's failures.
func (l *failLimiter) clear(ctx context.Context, key string) error {
	return l.store.ClearSignIn(ctx, l.prefix+key)
}

// signInLimits are the two limiters of the sign-in form.
type signInLimits struct {
	account, address *failLimiter
}

func newSignInLimits(store *meta.Store) signInLimits {
	return signInLimits{
		account: newFailLimiter(store, "account:", signInPerAccount, signInWindow),
		address: newFailLimiter(store, "address:", signInPerAddress, signInWindow),
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
