package main

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
)

// logRequests logs every request once answered, at info level: method,
// path (without the query, which may carry signatures), status, bytes,
// duration and the request id the API gave it. Health checks and metrics
// scrapes are left out: they come every few seconds and say nothing.
func logRequests(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz", "/readyz", "/metrics":
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		lw := &loggedWriter{ResponseWriter: w}
		defer func() {
			status := lw.status
			if status == 0 {
				// Nothing written: net/http answers 200, unless the
				// handler panicked or hijacked the connection.
				status = http.StatusOK
			}
			id := w.Header().Get("X-Request-Id")
			if id == "" {
				id = r.Header.Get("X-Request-Id")
			}
			log.Info("request", "method", r.Method, "path", r.URL.Path, "status", status, "bytes", lw.bytes,
				"duration", time.Since(start).Round(time.Microsecond), "request_id", id)
		}()
		next.ServeHTTP(lw, r)
	})
}

// loggedWriter notes the status and size of an answer. It keeps what the
// writer it wraps can do: flushes of event streams, hijacked connections
// of WebSockets and git, and sendfile through ReadFrom.
type loggedWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (l *loggedWriter) WriteHeader(status int) {
	if l.status == 0 && status >= 200 {
		l.status = status
	}
	l.ResponseWriter.WriteHeader(status)
}

func (l *loggedWriter) Write(b []byte) (int, error) {
	if l.status == 0 {
		l.status = http.StatusOK
	}
	n, err := l.ResponseWriter.Write(b)
	l.bytes += int64(n)
	return n, err
}

func (l *loggedWriter) ReadFrom(src io.Reader) (int64, error) {
	if l.status == 0 {
		l.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := l.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(l.ResponseWriter, src)
	}
	l.bytes += n
	return n, err
}

func (l *loggedWriter) Flush() {
	if f, ok := l.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (l *loggedWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if l.status == 0 {
		l.status = http.StatusSwitchingProtocols
	}
	return http.NewResponseController(l.ResponseWriter).Hijack()
}

// Unwrap lets http.ResponseController reach the connection.
func (l *loggedWriter) Unwrap() http.ResponseWriter { return l.ResponseWriter }

// firstStartHelp is what a server with no users yet tells its operator.
func firstStartHelp(publicURL string) string {
	return strings.Join([]string{
		"no users yet; create one and a token for the clients (also while the server runs):",
		"  haven user create NAME --password '…'     # the password signs in to the pages",
		"  haven token create NAME --role write      # prints hf_…",
		"  export HF_ENDPOINT=" + publicURL + " HF_TOKEN=hf_…",
	}, "\n")
}
