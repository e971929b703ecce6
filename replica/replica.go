// Package replica gives a haven serve process its place among the replicas
// that share one database: an id that survives restarts, the address the
// other replicas reach it at, and a heartbeat in the database by which they
// tell that it is alive. Jobs and Spaces use it to know which replica runs
// what, and to pass requests to that replica.
package replica

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
)

// Defaults of Config's Beat and Expiry: a replica is taken for dead after
// six missed heartbeats.
const (
	DefaultBeat   = 5 * time.Second
	DefaultExpiry = 30 * time.Second
)

// ForwardedHeader marks a request one replica passed to another, with the
// sender's id: the receiver answers it itself, so that requests never go
// round in circles.
const ForwardedHeader = "X-Haven-Replica"

// Config is what a Self needs.
type Config struct {
	Meta *meta.Store
	// ID names the replica; the same id after a restart lets it settle
	// what it left running. Empty: a random id.
	ID string
	// URL is where the other replicas reach this one.
	URL string
	// Beat is how often the heartbeat is renewed, Expiry how old it may
	// be before the others take the replica for dead.
	Beat, Expiry time.Duration
	Logger       *slog.Logger
}

// Self is this process as a replica.
type Self struct {
	cfg    Config
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// New returns the replica of cfg; Start records it in the database.
func New(cfg Config) *Self {
	if cfg.ID == "" {
		cfg.ID = newID()
	}
	if cfg.Beat <= 0 {
		cfg.Beat = DefaultBeat
	}
	if cfg.Expiry <= 0 {
		cfg.Expiry = DefaultExpiry
	}
	if cfg.Expiry < 2*cfg.Beat {
		cfg.Expiry = 2 * cfg.Beat
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Self{cfg: cfg, log: cfg.Logger}
}

// ID returns the replica's id.
func (r *Self) ID() string { return r.cfg.ID }

// URL returns the address the other replicas reach this one at.
func (r *Self) URL() string { return r.cfg.URL }

// LiveSince is the oldest heartbeat of a replica taken for alive now.
func (r *Self) LiveSince() time.Time { return time.Now().Add(-r.cfg.Expiry) }

// Beat is how often the heartbeat is renewed; loops that watch other
// replicas run as often.
func (r *Self) Beat() time.Duration { return r.cfg.Beat }

// Start records the replica's first heartbeat and renews it every Beat
// until Close.
func (r *Self) Start() error {
	if r.done != nil {
		return nil
	}
	if err := r.cfg.Meta.BeatReplica(context.Background(), r.cfg.ID, r.cfg.URL, time.Now(), true); err != nil {
		return fmt.Errorf("recording the replica: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan struct{})
	go func() {
		defer close(r.done)
		t := time.NewTicker(r.cfg.Beat)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			bctx, cancel := context.WithTimeout(ctx, r.cfg.Expiry)
			if err := r.cfg.Meta.BeatReplica(bctx, r.cfg.ID, r.cfg.URL, time.Now(), false); err != nil && ctx.Err() == nil {
				r.log.Warn("replica: renewing the heartbeat", "err", err)
			}
			cancel()
		}
	}()
	return nil
}

// Close stops the heartbeat. The record stays: a replica restarted within
// the expiry takes its Spaces and jobs back itself, and one stopped for good
// is taken for dead once the heartbeat expired.
func (r *Self) Close() error {
	r.once.Do(func() {
		if r.cancel != nil {
			r.cancel()
			<-r.done
		}
	})
	return nil
}

// Peer returns replica id when it is alive, nil when it is not (or unknown).
func (r *Self) Peer(ctx context.Context, id string) (*meta.Replica, error) {
	p, err := r.cfg.Meta.Replica(ctx, id)
	if haven.IsCode(err, haven.ENotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if p.HeartbeatAt.Before(r.LiveSince()) {
		return nil, nil
	}
	return p, nil
}

// Forwarded reports whether r was passed on by another replica.
func Forwarded(r *http.Request) bool { return r.Header.Get(ForwardedHeader) != "" }

// Forward passes req to replica p and streams its answer back: the same
// method, path, query, Host and credentials, so that p authenticates the
// caller itself.
func (r *Self) Forward(w http.ResponseWriter, req *http.Request, p *meta.Replica) {
	target, err := url.Parse(p.URL)
	if err != nil || target.Host == "" {
		writeUnavailable(w, fmt.Sprintf("The replica %s that runs this has no usable address (%q)", p.ID, p.URL))
		return
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			// SetURL joins the target's path; keep the request's own.
			pr.Out.URL.Path, pr.Out.URL.RawPath = joinPath(target.Path, pr.In.URL.Path), ""
			if pr.In.URL.RawPath != "" {
				pr.Out.URL.RawPath = joinPath(target.Path, pr.In.URL.RawPath)
			}
			pr.Out.Host = pr.In.Host
			pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
			pr.SetXForwarded()
			// What the load balancer said of the client's request stands.
			for _, h := range []string{"X-Forwarded-Host", "X-Forwarded-Proto"} {
				if v := pr.In.Header.Get(h); v != "" {
					pr.Out.Header.Set(h, v)
				}
			}
			pr.Out.Header.Set(ForwardedHeader, r.cfg.ID)
		},
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			writeUnavailable(w, fmt.Sprintf("The replica %s that runs this did not answer: %v", p.ID, err))
		},
	}
	rp.ServeHTTP(w, req)
}

func joinPath(base, p string) string {
	return strings.TrimSuffix(base, "/") + p
}

// writeUnavailable answers 503 in the Hub's error shape.
func writeUnavailable(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Error-Message", msg)
	w.Header().Set("Retry-After", "5")
	w.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprintf(w, "{\"error\":%q}\n", msg)
}

// LoadID returns the replica id kept in DATA/replica-id, making one on first
// start, so that a replica restarted on the same data folder is the same
// replica.
func LoadID(data string) (string, error) {
	p := filepath.Join(data, "replica-id")
	b, err := os.ReadFile(p)
	if id := strings.TrimSpace(string(b)); err == nil && id != "" {
		return id, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	id := newID()
	if host, err := os.Hostname(); err == nil && host != "" {
		id = strings.ToLower(host) + "-" + id[:8]
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o644); err != nil {
		return "", err
	}
	return id, os.Rename(tmp, p)
}

// AdvertiseURL is the default address of a replica listening on addr:
// http://addr, with the machine's host name when addr is a wildcard.
func AdvertiseURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	switch host {
	case "", "0.0.0.0", "::":
		host = "127.0.0.1"
		if h, err := os.Hostname(); err == nil && h != "" {
			host = h
		}
	}
	return "http://" + net.JoinHostPort(host, port)
}

func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
