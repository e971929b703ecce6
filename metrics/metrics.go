// Package metrics gives operators Haven's Prometheus metrics at /metrics
// and its health endpoints /healthz and /readyz.
//
// The HTTP middleware counts requests by route class (a small fixed set
// derived from the path, see Classify) and status class, times them and
// counts their bytes. Collectors read the work queue, Hub jobs and Spaces
// from the metadata store at scrape time. Garbage collection reports its
// runs through ObserveGC.
package metrics

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/meta"
)

// Store is what the collectors and readiness checks read from the
// metadata store; *meta.Store implements it.
type Store interface {
	Ping(ctx context.Context) error
	QueueStats(ctx context.Context) ([]meta.QueueStat, error)
	JobRunStages(ctx context.Context) (map[string]int64, error)
	SpaceStages(ctx context.Context) (map[string]int64, error)
}

// Config configures Metrics.
type Config struct {
	Store Store       // nil: no queue, job or Space metrics and no database check
	Blobs blob.Driver // nil: no blob store check
	// Public serves /metrics to every caller; otherwise only to callers on
	// a loopback address that came through no proxy, others get 404.
	Public bool
	// SpacesDomain is the domain Space apps are served under ("" if none),
	// to count their requests as the spaces route class.
	SpacesDomain string
	// ViewerKind is the queue kind of dataset viewer conversions.
	ViewerKind string
	Logger     *slog.Logger
	// Off leaves the HTTP metrics out and answers /metrics with 404;
	// /healthz and /readyz still answer.
	Off bool
	// Done, when set, is called once each request (but those of /metrics,
	// /healthz and /readyz) is answered, with what the middleware measured:
	// the request log uses it rather than wrap every answer a second time.
	Done func(r *http.Request, d Done)
}

// Done is what the middleware measured of one answered request.
type Done struct {
	Route    string // route class (Routes)
	Status   int    // status sent; 200 when the handler wrote nothing
	BytesIn  int64  // request body bytes read
	BytesOut int64  // response body bytes written
	Duration time.Duration
}

// Metrics holds Haven's metrics registry.
type Metrics struct {
	cfg Config
	reg *prometheus.Registry

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	bytesIn  *prometheus.CounterVec
	bytesOut *prometheus.CounterVec
	inFlight prometheus.Gauge
	// The children of each route (and status class: 1xx to 5xx), resolved
	// once: a label lookup per request cost more than the rest of the
	// measuring together.
	byRoute [len(routeNames)]routeMetrics

	gcRuns      *prometheus.CounterVec
	gcDuration  prometheus.Gauge
	gcLastOK    prometheus.Gauge
	gcBytesFree prometheus.Counter
}

// New creates the metrics and registers the collectors.
func New(cfg Config) *Metrics {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{cfg: cfg, reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "haven_http_requests_total", Help: "HTTP requests answered, by route class and status class (2xx, 4xx…).",
	}, []string{"route", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "haven_http_request_duration_seconds", Help: "Time from a request's arrival to the end of its answer, by route class.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
	}, []string{"route"})
	m.bytesIn = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "haven_http_request_bytes_total", Help: "Request body bytes read, by route class.",
	}, []string{"route"})
	m.bytesOut = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "haven_http_response_bytes_total", Help: "Response body bytes written, by route class.",
	}, []string{"route"})
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "haven_http_requests_in_flight", Help: "Requests being answered now.",
	})
	m.gcRuns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "haven_gc_runs_total", Help: "Garbage collections of large objects, by result (ok, error).",
	}, []string{"result"})
	m.gcDuration = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "haven_gc_last_duration_seconds", Help: "How long the last garbage collection took.",
	})
	m.gcLastOK = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "haven_gc_last_success_timestamp_seconds", Help: "When the last successful garbage collection ended (Unix time).",
	})
	m.gcBytesFree = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "haven_gc_removed_bytes_total", Help: "Bytes of large objects garbage collection removed.",
	})
	for i, r := range Routes {
		// Every route class shows from the start, at 0.
		rm := &m.byRoute[i]
		rm.duration = m.duration.WithLabelValues(r)
		rm.bytesIn = m.bytesIn.WithLabelValues(r)
		rm.bytesOut = m.bytesOut.WithLabelValues(r)
		for c := range rm.requests {
			rm.requests[c] = m.requests.WithLabelValues(r, statusClasses[c])
		}
	}
	m.gcRuns.WithLabelValues("ok")
	m.gcRuns.WithLabelValues("error")
	m.reg.MustRegister(m.requests, m.duration, m.bytesIn, m.bytesOut, m.inFlight,
		m.gcRuns, m.gcDuration, m.gcLastOK, m.gcBytesFree, cacheCollector{},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if cfg.Store != nil {
		m.reg.MustRegister(&storeCollector{store: cfg.Store, viewerKind: cfg.ViewerKind, log: cfg.Logger})
	}
	return m
}

// routeMetrics are the metric children of one route class.
type routeMetrics struct {
	requests [len(statusClasses)]prometheus.Counter
	duration prometheus.Observer
	bytesIn  prometheus.Counter
	bytesOut prometheus.Counter
}

// statusClasses are the values of the code label, by status / 100 - 1.
var statusClasses = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

// Registry returns the registry, for tests and for other packages'
// collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveGC records one garbage collection run: how long it took, how
// many bytes it removed and whether it failed.
func (m *Metrics) ObserveGC(d time.Duration, removed int64, err error) {
	if m == nil {
		return
	}
	m.gcDuration.Set(d.Seconds())
	if err != nil {
		m.gcRuns.WithLabelValues("error").Inc()
		return
	}
	m.gcRuns.WithLabelValues("ok").Inc()
	m.gcLastOK.Set(float64(time.Now().Unix()))
	m.gcBytesFree.Add(float64(removed))
}

// Handler wraps next: it answers /metrics, /healthz and /readyz itself and
// measures every other request (and hands it to Config.Done).
func (m *Metrics) Handler(next http.Handler) http.Handler {
	scrape := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(m.cfg.Logger.Handler(), slog.LevelWarn)})
	measure := !m.cfg.Off || m.cfg.Done != nil
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/metrics":
			if m.cfg.Off || (!m.cfg.Public && !fromLoopback(r)) {
				http.NotFound(w, r)
				return
			}
			scrape.ServeHTTP(w, r)
			return
		case "/healthz":
			writeHealth(w, http.StatusOK, map[string]any{"status": "ok"})
			return
		case "/readyz":
			m.serveReady(w, r)
			return
		}
		if !measure {
			next.ServeHTTP(w, r)
			return
		}
		m.measure(next, w, r)
	})
}

func (m *Metrics) measure(next http.Handler, w http.ResponseWriter, r *http.Request) {
	route := classify(r, m.cfg.SpacesDomain)
	start := time.Now()
	if !m.cfg.Off {
		m.inFlight.Inc()
	}
	var in *countingBody
	if r.Body != nil && r.Body != http.NoBody {
		in = &countingBody{ReadCloser: r.Body}
		r.Body = in
	}
	rw := &recorder{ResponseWriter: w}
	defer func() {
		d := time.Since(start)
		status := rw.status
		if status == 0 {
			status = http.StatusOK
		}
		var nIn int64
		if in != nil {
			nIn = in.n
		}
		if !m.cfg.Off {
			m.inFlight.Dec()
			rm := &m.byRoute[route]
			if c := status/100 - 1; c >= 0 && c < len(rm.requests) {
				rm.requests[c].Inc()
			} else {
				m.requests.WithLabelValues(Routes[route], strconv.Itoa(status/100)+"xx").Inc()
			}
			rm.duration.Observe(d.Seconds())
			if rw.written > 0 {
				rm.bytesOut.Add(float64(rw.written))
			}
			if nIn > 0 {
				rm.bytesIn.Add(float64(nIn))
			}
		}
		if m.cfg.Done != nil {
			m.cfg.Done(r, Done{Route: Routes[route], Status: status, BytesIn: nIn, BytesOut: rw.written, Duration: d})
		}
	}()
	next.ServeHTTP(rw, r)
}

// fromLoopback reports whether r comes straight from this machine: a
// loopback peer address and no proxy headers (a reverse proxy on the same
// machine would otherwise make every caller look local).
func fromLoopback(r *http.Request) bool {
	for _, h := range []string{"X-Forwarded-For", "Forwarded", "X-Real-Ip"} {
		if r.Header.Get(h) != "" {
			return false
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// countingBody counts the bytes read from a request body.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}

// recorder notes the status and counts the bytes of an answer. It keeps
// the optional interfaces the handlers rely on: Flush for event streams,
// Hijack for proxied WebSockets, ReadFrom so that file downloads still use
// sendfile, and Unwrap for http.ResponseController.
type recorder struct {
	http.ResponseWriter
	status  int
	written int64
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 || w.status < 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.written += int64(n)
	return n, err
}

func (w *recorder) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok && kernelCopies(r) {
		n, err = rf.ReadFrom(r)
	} else {
		buf := copyBufs.Get().(*[copyBufSize]byte)
		n, err = io.CopyBuffer(writerOnly{w.ResponseWriter}, r, buf[:])
		copyBufs.Put(buf)
	}
	w.written += n
	return n, err
}

// copyBufSize is the buffer of answers streamed from a reader the kernel
// cannot copy from (an S3 object's body): net/http's own 32 KiB made two
// system calls per 32 KiB, a quarter of a core per 300 MB/s.
const copyBufSize = 256 << 10

var copyBufs = sync.Pool{New: func() any { return new([copyBufSize]byte) }}

// kernelCopies reports whether net/http can hand the copy from r to the
// kernel (sendfile from a file, splice from a connection), through an
// io.LimitedReader as http.ServeContent wraps it.
func kernelCopies(r io.Reader) bool {
	if lr, ok := r.(*io.LimitedReader); ok {
		r = lr.R
	}
	switch r.(type) {
	case *os.File, *net.TCPConn, *net.UnixConn:
		return true
	}
	return false
}

func (w *recorder) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// writerOnly hides every method but Write, so io.Copy cannot loop back
// into ReadFrom.
type writerOnly struct{ io.Writer }
