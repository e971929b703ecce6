package api

import (
	_ "embed"
	"net/http"
	"strings"

	"github.com/havenhub/haven"
)

// hubRoutesTSV lists the Hub's API operations: method, path with {params},
// summary.
//
//go:embed hubroutes.tsv
var hubRoutesTSV string

// hubRoute is one operation of the Hub's API.
type hubRoute struct {
	method, path, summary string
	segs                  []string // path after "/api/", split on "/"
}

var hubRoutes = parseHubRoutes(hubRoutesTSV)

func parseHubRoutes(tsv string) []hubRoute {
	var out []hubRoute
	for _, line := range strings.Split(tsv, "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 || !strings.HasPrefix(f[1], "/api/") {
			continue
		}
		out = append(out, hubRoute{method: f[0], path: f[1], summary: f[2],
			segs: strings.Split(strings.TrimPrefix(f[1], "/api/"), "/")})
	}
	return out
}

// match reports whether an /api path (split, without "api") is this route
// for method. A segment with a {param} matches any one segment, except a
// last "{path}", which matches any number of them, none included.
func (h hubRoute) match(method string, segs []string) bool {
	if method == http.MethodHead {
		method = http.MethodGet
	}
	if method != h.method {
		return false
	}
	for i, p := range h.segs {
		if p == "{path}" && i == len(h.segs)-1 {
			return len(segs) >= i
		}
		if i >= len(segs) {
			return false
		}
		if !strings.Contains(p, "{") && p != segs[i] {
			return false
		}
	}
	return len(segs) == len(h.segs)
}

// hubOperation finds the Hub operation an /api path (without "api") names.
func hubOperation(method string, segs []string) (hubRoute, bool) {
	for _, h := range hubRoutes {
		if h.match(method, segs) {
			return h, true
		}
	}
	return hubRoute{}, false
}

// errUnsupported is the answer to a Hub operation this server does not serve.
func errUnsupported(h hubRoute) error {
	return haven.Errorf(haven.EUnsupported, "%s (%s %s) is not supported by this server", h.summary, h.method, h.path)
}

// noRoute answers a path under /api that nothing here serves: 501 naming
// the feature when the Hub has that operation, so that clients say what is
// missing instead of a typo-like 404, else 404.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	segs, _ := splitPath(r.URL.EscapedPath())
	if len(segs) > 0 && segs[0] == "api" {
		if h, ok := hubOperation(r.Method, segs[1:]); ok {
			s.writeError(w, r, errUnsupported(h))
			return
		}
	}
	s.writeError(w, r, errNotFound("Not Found"))
}

// unsupportedWriter turns the plain "Not Found" that a package answers for
// a path it does not route into noRoute's answer. Packages answer missing
// things with their own messages or Hub codes, which pass through.
type unsupportedWriter struct {
	http.ResponseWriter
	s        *Server
	r        *http.Request
	replaced bool
}

func (u *unsupportedWriter) WriteHeader(status int) {
	h := u.Header()
	if status == http.StatusNotFound && !u.replaced && h.Get("X-Error-Code") == "" && h.Get("X-Error-Message") == "Not Found" {
		segs, _ := splitPath(u.r.URL.EscapedPath())
		if len(segs) > 0 {
			if op, ok := hubOperation(u.r.Method, segs[1:]); ok {
				u.replaced = true
				u.s.writeError(u.ResponseWriter, u.r, errUnsupported(op))
				return
			}
		}
	}
	u.ResponseWriter.WriteHeader(status)
}

func (u *unsupportedWriter) Write(b []byte) (int, error) {
	if u.replaced {
		return len(b), nil
	}
	return u.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushes of
// event streams, deadlines).
func (u *unsupportedWriter) Unwrap() http.ResponseWriter { return u.ResponseWriter }

// Flush keeps streaming answers streaming.
func (u *unsupportedWriter) Flush() {
	if f, ok := u.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
