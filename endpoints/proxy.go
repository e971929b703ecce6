package endpoints

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/hubhttp"
	"github.com/havenhub/haven/inference"
)

// Data plane limits.
const (
	perReplicaCap  = 32 // requests in flight per replica the endpoint takes at most
	maxHoldSeconds = 600
)

// Handler serves the data plane at /e/{ns}/{name}[/…] and hands every
// other path, and page views of /e/… paths that are no endpoint, to next.
func (s *Service) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if endpointPath(r.URL.Path) && s.atHolder(w, r) {
			return
		}
		if !strings.HasPrefix(r.URL.Path, "/e/") && next != nil {
			next.ServeHTTP(w, r)
			return
		}
		s.serveData(w, r, next)
	})
}

// errorJSON answers the engine-style error {"error": message}.
func errorJSON(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("X-Error-Message", msg)
	hubhttp.WriteJSON(w, status, map[string]any{"error": msg})
}

func (s *Service) serveData(w http.ResponseWriter, r *http.Request, next http.Handler) {
	segs, err := hubhttp.Segments(r, 1)
	if err != nil || len(segs) < 2 {
		errorJSON(w, http.StatusNotFound, "Not Found")
		return
	}
	ns, name, rest := segs[0], segs[1], "/"+strings.Join(segs[2:], "/")
	e, err := s.find(ns, name)
	if err != nil {
		if next != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			// Not an endpoint: the pages of a namespace named "e".
			next.ServeHTTP(w, r)
			return
		}
		errorJSON(w, http.StatusNotFound, err.Error())
		return
	}
	a, err := s.cfg.Authenticate(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	e.mu.Lock()
	typ, realNS := e.cfg.Type, e.row.Namespace
	e.mu.Unlock()
	if err := auth.CanInvokeEndpoint(a, realNS, typ); err != nil {
		s.writeError(w, r, err)
		return
	}
	if rest == "/health" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		s.serveHealth(w, r, e)
		return
	}
	key := r.Header.Get("X-Haven-Session")
	if key == "" && a != nil && a.TokenID != 0 {
		key = "token:" + strconv.FormatInt(a.TokenID, 10)
	}
	hold := s.cfg.Hold
	if v := r.Header.Get("X-Scale-Up-Timeout"); v != "" {
		if n, err := strconv.ParseFloat(v, 64); err == nil && n >= 0 {
			hold = time.Duration(min(n, maxHoldSeconds) * float64(time.Second))
		}
	}
	body, err := inference.ReadBody(r)
	if err != nil {
		errorJSON(w, http.StatusBadRequest, "reading the body: "+err.Error())
		return
	}
	// A stream held while the endpoint wakes or waits in line is sent
	// keep-alive comments.
	held := inference.HoldStream(w, inference.StreamRequest(r, body), s.cfg.KeepAlive)
	rv, p, err := e.acquire(r.Context(), key, hold)
	held.End()
	if err != nil {
		var he *holdError
		if held.Committed() {
			typ := "unavailable"
			if errors.As(err, &he) && he.status == http.StatusTooManyRequests {
				typ = "overloaded"
			}
			held.Fail(err.Error(), typ)
			return
		}
		if errors.As(err, &he) {
			if he.retry > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(he.retry))
			}
			if he.status == http.StatusServiceUnavailable && he.loading {
				w.Header().Set("X-Error-Message", he.msg)
				hubhttp.WriteJSON(w, he.status, map[string]any{"error": he.msg, "estimated_time": he.retry})
				return
			}
			errorJSON(w, he.status, he.msg)
			return
		}
		s.writeError(w, r, err)
		return
	}
	start := time.Now()
	rec := &recorder{ResponseWriter: held.Writer(w), status: http.StatusOK}
	w.Header().Set("X-Haven-Revision", revName(rv.n))
	addr := p.r.Addr()
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", addr
			pr.Out.URL.Path, pr.Out.URL.RawPath = rest, ""
			pr.Out.Host = addr
			pr.Out.Header.Del("Authorization")
			pr.Out.Header.Del("Cookie")
			pr.SetXForwarded()
		},
		Transport:      s.tr,
		FlushInterval:  -1,
		ModifyResponse: held.Adapt,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() == nil {
				s.log.WarnContext(r.Context(), "endpoint replica unreachable", "endpoint", ns+"/"+name, "err", err)
			}
			rec.status = http.StatusBadGateway
			if held.Committed() {
				held.Fail("The endpoint's replica did not answer", "unavailable")
				return
			}
			errorJSON(w, http.StatusBadGateway, "The endpoint's replica did not answer")
		},
	}
	proxy.ServeHTTP(rec, r)
	e.release(rv, p, time.Since(start), rec.status)
}

// recorder keeps the status a response was given.
type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// serveHealth answers the health route from a ready replica without
// counting as activity or waking the endpoint: 200 when the engine says
// so, 503 while none is up.
func (s *Service) serveHealth(w http.ResponseWriter, r *http.Request, e *endpoint) {
	e.mu.Lock()
	var addr, route string
	for _, t := range e.traffic {
		if rv := e.rev(t.Revision); rv != nil && len(rv.replicas) > 0 {
			addr = rv.replicas[0].r.Addr()
			route = healthRoute(Model{Image: rv.spec.Image})
			break
		}
	}
	state := e.row.State
	e.mu.Unlock()
	if addr == "" || !serving(state) {
		errorJSON(w, http.StatusServiceUnavailable, fmt.Sprintf("Endpoint is %s", state))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+route, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		errorJSON(w, http.StatusServiceUnavailable, "The endpoint's replica did not answer")
		return
	}
	resp.Body.Close()
	w.WriteHeader(resp.StatusCode)
}

// holdError is a request refused or given up by the activator.
type holdError struct {
	status  int
	msg     string
	retry   int
	loading bool
}

func (h *holdError) Error() string { return h.msg }

// waiter is a request in an endpoint's line, for the revision its key
// picked. A place that frees up is handed to the head of the line
// directly (rv and p set, then wake), so a batch of answers lets as many
// waiting requests through at once.
type waiter struct {
	key  string
	wake chan struct{}
	rv   *revision
	p    *replica
}

// dispatch hands free places to the requests at the head of the line, in
// their order (mu held).
func (e *endpoint) dispatch() {
	for len(e.queue) > 0 {
		w := e.queue[0]
		rv := e.rev(pickRevision(e.traffic, w.key))
		p := e.free(rv)
		if p == nil {
			return
		}
		e.take(rv, p)
		w.rv, w.p = rv, p
		e.queue = e.queue[1:]
		e.held--
		w.wake <- struct{}{}
	}
}

// take counts a request on replica p of rv (mu held).
func (e *endpoint) take(rv *revision, p *replica) {
	p.inflight.Add(1)
	rv.inflight++
	e.inflight++
}

// acquire finds a replica for a request: of the revision the key's
// traffic share picks, the least busy ready one below its concurrency. A
// request that finds none waits in the endpoint's line, first come first
// served: while no replica is up (waking a scaled-to-zero endpoint) for up
// to hold, else while every replica is busy for up to the queue wait. A
// full line, or a wait for busy replicas that runs out, is 429 with
// Retry-After; a wait for a replica to start that runs out is 503.
func (e *endpoint) acquire(ctx context.Context, key string, hold time.Duration) (*revision, *replica, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lastActive = time.Now()
	var w *waiter
	var deadline <-chan time.Time
	defer func() {
		if w != nil && w.p == nil {
			if i := slices.Index(e.queue, w); i >= 0 {
				e.queue = slices.Delete(e.queue, i, i+1)
				e.held--
			}
		}
	}()
	for {
		if w != nil && w.p != nil {
			return w.rv, w.p, nil
		}
		switch e.row.State {
		case StatePaused:
			return nil, nil, &holdError{status: http.StatusServiceUnavailable, msg: fmt.Sprintf("Endpoint %s is paused: resume it to send requests", e.name())}
		case StateFailed:
			return nil, nil, &holdError{status: http.StatusServiceUnavailable, msg: fmt.Sprintf("Endpoint %s failed: %s", e.name(), e.row.Message)}
		case StateScaledToZero:
			e.wake()
		}
		if e.deleted {
			return nil, nil, haven.Errorf(haven.ENotFound, "Endpoint %s not found", e.name())
		}
		rv := e.rev(pickRevision(e.traffic, key))
		up := rv != nil && len(rv.replicas) > 0
		if w == nil && len(e.queue) == 0 {
			if p := e.free(rv); p != nil {
				e.take(rv, p)
				return rv, p, nil
			}
		}
		if w == nil {
			if len(e.queue) >= e.s.cfg.MaxQueued {
				return nil, nil, e.overloaded(up)
			}
			w = &waiter{key: key, wake: make(chan struct{}, 1)}
			e.queue = append(e.queue, w)
			e.held++
		}
		if deadline == nil {
			wait := hold
			if up {
				wait = e.s.cfg.QueueWait
			}
			t := time.NewTimer(wait)
			defer t.Stop()
			deadline = t.C
		}
		ch := e.changed
		e.mu.Unlock()
		var err error
		select {
		case <-w.wake:
		case <-ch:
		case <-deadline:
			err = errHoldExpired
		case <-ctx.Done():
			err = ctx.Err()
		}
		e.mu.Lock()
		if w.p != nil {
			// Handed a place as the wait ended: take it.
			return w.rv, w.p, nil
		}
		if err == errHoldExpired {
			rv := e.rev(pickRevision(e.traffic, key))
			if rv != nil && len(rv.replicas) > 0 {
				return nil, nil, e.overloaded(true)
			}
			return nil, nil, &holdError{status: http.StatusServiceUnavailable, retry: 10, loading: true,
				msg: fmt.Sprintf("Endpoint %s is currently loading", e.name())}
		}
		if err != nil {
			return nil, nil, err
		}
		// Replicas or the state changed: places may be free.
		e.dispatch()
	}
}

var errHoldExpired = errors.New("hold expired")

// overloaded is the 429 of a full line; up says replicas serve (else the
// endpoint is starting).
func (e *endpoint) overloaded(up bool) error {
	if !up {
		return &holdError{status: http.StatusTooManyRequests, retry: 5,
			msg: fmt.Sprintf("Endpoint %s is starting and holds too many requests already", e.name())}
	}
	return &holdError{status: http.StatusTooManyRequests, retry: 1,
		msg: fmt.Sprintf("Endpoint %s is overloaded: %d requests are in flight and %d waiting, try again shortly", e.name(), e.inflight, len(e.queue))}
}

// free is the least busy replica of rv that takes one more request, or
// nil (mu held).
func (e *endpoint) free(rv *revision) *replica {
	if rv == nil {
		return nil
	}
	p := leastBusy(rv.replicas)
	if p == nil || p.inflight.Load() >= int64(perReplica(Model{Image: rv.spec.Image})) {
		return nil
	}
	return p
}

// perReplica is how many requests one replica is given at most.
func perReplica(m Model) int {
	if n := m.imageInt("maxConcurrency"); n > 0 {
		return n
	}
	return perReplicaCap
}

func leastBusy(ps []*replica) *replica {
	var best *replica
	for _, p := range ps {
		if best == nil || p.inflight.Load() < best.inflight.Load() {
			best = p
		}
	}
	return best
}

// release counts a finished request in its revision's statistics.
func (e *endpoint) release(rv *revision, p *replica, took time.Duration, status int) {
	p.inflight.Add(-1)
	rv.stats.record(float64(took.Microseconds())/1000, status >= 400)
	e.mu.Lock()
	rv.inflight--
	e.inflight--
	e.lastActive = time.Now()
	e.dispatch()
	e.mu.Unlock()
}
