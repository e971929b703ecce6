package main

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

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
		// The header keys are canonical already: indexing the maps skips
		// canonicalising them on every request.
		sent := hubhttp.HeaderValue(r.Header, "X-Request-Id")
		id := sent
		if !saneRequestID(id) {
			id = hubhttp.HeaderValue(r.Header, "X-Amzn-Trace-Id")
		}
		if !saneRequestID(id) {
			id = newRequestID()
		}
		v := []string{id}
		if sent != id {
			r.Header["X-Request-Id"] = v
		}
		w.Header()["X-Request-Id"] = v
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

// newRequestID returns 24 random hex digits. An id names a request in logs
// and is no secret, so it comes from math/rand's generator (seeded by the
// system) rather than a system call.
func newRequestID() string {
	var b [12]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint32(b[8:], rand.Uint32())
	return hex.EncodeToString(b[:])
}

// requestLog logs every answered request at info level: method, path
// (without the query, which may carry signatures), status, bytes,
// duration, route class, and the request id from the context. /healthz, /readyz
// and /metrics never reach it: they come every few seconds and say
// nothing. Its done method is the metrics middleware's Done hook.
//
// A line is one per request, so it is written without slog's generic
// machinery when every value can go out as is (the usual case: an ASCII
// path): the same bytes slog would write, for a fifth of the CPU. Other
// requests go through the logger.
type requestLog struct {
	log  *slog.Logger
	out  io.Writer // the writer log's handler writes to
	json bool
	bufs sync.Pool
}

func newRequestLog(log *slog.Logger, out io.Writer, format string) *requestLog {
	return &requestLog{log: log, out: out, json: format == "json",
		bufs: sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}}
}

func (l *requestLog) done(r *http.Request, d metrics.Done) {
	ctx := r.Context()
	id := hubhttp.RequestID(ctx)
	if !plainLogValue(r.Method) || !plainLogValue(r.URL.Path) || !plainLogValue(id) || !l.log.Enabled(ctx, slog.LevelInfo) {
		l.log.LogAttrs(ctx, slog.LevelInfo, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", d.Status),
			slog.Int64("bytes", d.BytesOut), slog.Duration("duration", d.Duration), slog.String("route", d.Route))
		return
	}
	bp := l.bufs.Get().(*[]byte)
	b := appendRequestLine((*bp)[:0], l.json, time.Now(), r.Method, r.URL.Path, d, id)
	l.out.Write(b)
	*bp = b
	l.bufs.Put(bp)
}

// appendRequestLine appends the request line slog's text or JSON handler
// would write for these values, all of which passed plainLogValue.
func appendRequestLine(b []byte, json bool, now time.Time, method, path string, d metrics.Done, id string) []byte {
	if json {
		b = append(b, `{"time":"`...)
		b = now.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","level":"INFO","msg":"request","method":"`...)
		b = append(b, method...)
		b = append(b, `","path":"`...)
		b = append(b, path...)
		b = append(b, `","status":`...)
		b = strconv.AppendInt(b, int64(d.Status), 10)
		b = append(b, `,"bytes":`...)
		b = strconv.AppendInt(b, d.BytesOut, 10)
		b = append(b, `,"duration":`...)
		b = strconv.AppendInt(b, int64(d.Duration), 10)
		b = append(b, `,"route":"`...)
		b = append(b, d.Route...)
		b = append(b, `","request_id":"`...)
		b = append(b, id...)
		return append(b, "\"}\n"...)
	}
	b = append(b, "time="...)
	b = appendRFC3339Millis(b, now)
	b = append(b, " level=INFO msg=request method="...)
	b = append(b, method...)
	b = append(b, " path="...)
	b = append(b, path...)
	b = append(b, " status="...)
	b = strconv.AppendInt(b, int64(d.Status), 10)
	b = append(b, " bytes="...)
	b = strconv.AppendInt(b, d.BytesOut, 10)
	b = append(b, " duration="...)
	b = append(b, d.Duration.String()...)
	b = append(b, " route="...)
	b = append(b, d.Route...)
	b = append(b, " request_id="...)
	b = append(b, id...)
	return append(b, '\n')
}

// appendRFC3339Millis formats t as slog's text handler does: RFC 3339 with
// exactly three digits of milliseconds.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	// RFC3339Nano trims trailing zeros: a tenth of a millisecond more
	// keeps four digits, of which the fourth is dropped.
	t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10)
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefixLen], b[n+prefixLen+1:]...)
}

// plainLogValue reports whether s is written as is, unquoted and
// unescaped, by both slog handlers: non-empty printable ASCII without
// space, '=', '"' or '\\'.
func plainLogValue(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' || c == '=' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
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
