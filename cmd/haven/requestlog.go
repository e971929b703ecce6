package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/havenhub/haven/hubhttp"
	"github.com/havenhub/haven/metrics"
)

// newLogger returns the server's logger writing to w in format: "text"
// (slog's key=value lines) or "json" (one JSON object a line). Records
// logged with a request's context name its request id.
func newLogger(w io.Writer, format string) (*slog.Logger, error) {
	var h slog.Handler
	switch format {
	case "", "text":
		h = slog.NewTextHandler(w, nil)
	case "json":
		h = slog.NewJSONHandler(w, nil)
	default:
		return nil, fmt.Errorf("--log-format %q: want text or json", format)
	}
	return slog.New(requestIDHandler{h}), nil
}

// requestIDHandler adds the request id a record's context carries
// (hubhttp.WithRequestID), so that an error logged while serving a request
// can be found next to that request's log line.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := hubhttp.RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// maxRequestIDLen bounds the request ids taken from callers.
const maxRequestIDLen = 128

// withRequestIDs gives every request an id: the caller's X-Request-Id (or a
// load balancer's X-Amzn-Trace-Id) when it sent a sane one, else a new one.
// The answer carries it in X-Request-Id, the request's context and header
// carry it on (to the API, and to Space apps and replicas it is passed to).
func withRequestIDs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !saneRequestID(id) {
			id = r.Header.Get("X-Amzn-Trace-Id")
		}
		if !saneRequestID(id) {
			id = newRequestID()
		}
		if r.Header.Get("X-Request-Id") != id {
			r.Header.Set("X-Request-Id", id)
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(hubhttp.WithRequestID(r.Context(), id)))
	})
}

// saneRequestID accepts a non-empty id of printable ASCII without spaces.
func saneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// requestLogger returns the metrics middleware's Done hook that logs every
// answered request at info level: method, path (without the query, which
// may carry signatures), route class, status, bytes, duration, and the
// request id from the context. /healthz, /readyz and /metrics never reach
// it: they come every few seconds and say nothing.
func requestLogger(log *slog.Logger) func(*http.Request, metrics.Done) {
	return func(r *http.Request, d metrics.Done) {
		log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("route", d.Route),
			slog.Int("status", d.Status), slog.Int64("bytes", d.BytesOut), slog.Duration("duration", d.Duration))
	}
}

// firstStartHelp is what a server with no users yet tells its operator.
func firstStartHelp(publicURL string) string {
	return strings.Join([]string{
		"no users yet; create one and a token for the clients (also while the server runs):",
		"  haven user create NAME --password '…'     # the password signs in to the pages",
		"  haven token create NAME --role write      # prints hf_…",
		"  export HF_ENDPOINT=" + publicURL + " HF_TOKEN=hf_…",
	}, "\n")
}
