package metrics

import (
	"net/http"
	"strings"
)

// Route classes: the only values of the route label. Raw paths never
// become labels, so the number of series stays small and fixed.
const (
	RouteAPI       = "api"       // the JSON API under /api not named below
	RouteResolve   = "resolve"   // resolve/raw file downloads
	RouteLFS       = "lfs"       // LFS batch API and signed object URLs
	RouteGit       = "git"       // git smart HTTP
	RouteXet       = "xet"       // the Xet CAS and its tokens
	RouteViewer    = "viewer"    // the dataset viewer
	RouteSpaces    = "spaces"    // Space apps and the Spaces runtime API
	RouteJobs      = "jobs"      // the jobs API
	RouteInference = "inference" // serverless inference and endpoints
	RouteBuckets   = "buckets"   // storage buckets
	RouteOps       = "ops"       // /metrics, /healthz, /readyz
	RouteWeb       = "web"       // pages and everything else
)

// Routes lists every route class.
var Routes = routeNames[:]

var routeNames = [...]string{RouteAPI, RouteResolve, RouteLFS, RouteGit, RouteXet, RouteViewer, RouteSpaces,
	RouteJobs, RouteInference, RouteBuckets, RouteOps, RouteWeb}

// Xet CAS paths start with /v1/{one of these}.
var casRoots = map[string]bool{"xorbs": true, "shards": true, "chunks": true, "reconstructions": true, "files": true, "fetch": true}

// Spaces runtime actions under /api/spaces/{ns}/{name}/.
var spaceActions = map[string]bool{"runtime": true, "hardware": true, "sleeptime": true, "pause": true, "restart": true,
	"secrets": true, "variables": true, "logs": true, "metrics": true, "events": true}

// Route indexes, in the order of Routes; the middleware keeps its metric
// children in arrays by these.
const (
	iAPI = iota
	iResolve
	iLFS
	iGit
	iXet
	iViewer
	iSpaces
	iJobs
	iInference
	iBuckets
	iOps
	iWeb
)

// Classify returns the route class of a request. spacesDomain is the
// domain under which Space apps are served on subdomains ("" for none).
func Classify(r *http.Request, spacesDomain string) string {
	return Routes[classify(r, spacesDomain)]
}

// maxSegs is how many path segments classification looks at.
const maxSegs = 8

// segments splits p at "/" into up to maxSegs non-allocating pieces, the
// way strings.SplitN(strings.Trim(p, "/"), "/", maxSegs) would.
type segments struct {
	s [maxSegs]string
	n int
}

func (g *segments) split(p string) {
	p = strings.Trim(p, "/")
	for g.n < maxSegs-1 {
		i := strings.IndexByte(p, '/')
		if i < 0 {
			break
		}
		g.s[g.n] = p[:i]
		g.n++
		p = p[i+1:]
	}
	g.s[g.n] = p
	g.n++
}

func (g *segments) at(i int) string {
	if i < g.n {
		return g.s[i]
	}
	return ""
}

// hasSuffixFold reports whether s ends with suffix, ASCII case folded.
func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

// classify is Classify as an index into Routes. It allocates nothing: it
// runs on every request.
func classify(r *http.Request, spacesDomain string) int {
	host := r.Host
	if i := strings.IndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	if len(host) >= len("datasets-server.") && strings.EqualFold(host[:len("datasets-server.")], "datasets-server.") {
		return iViewer
	}
	if spacesDomain != "" && len(host) > len(spacesDomain) && host[len(host)-len(spacesDomain)-1] == '.' &&
		hasSuffixFold(host, spacesDomain) {
		return iSpaces
	}
	p := r.URL.Path
	switch p {
	case "/metrics", "/healthz", "/readyz":
		return iOps
	}
	var g segments
	g.split(p)
	switch g.at(0) {
	case "lfs":
		if g.at(1) == "objects" {
			return iLFS
		}
	case "datasets-server":
		return iViewer
	case "v1":
		if casRoots[g.at(1)] {
			return iXet
		}
	case "inference", "e":
		return iInference
	case "buckets":
		return iBuckets
	case "-":
		if g.at(1) == "spaces" {
			return iSpaces
		}
	case "api":
		return classifyAPI(&g)
	}
	if strings.Contains(p, "/info/lfs/") {
		return iLFS
	}
	if strings.HasSuffix(p, "/info/refs") || strings.HasSuffix(p, "/git-upload-pack") || strings.HasSuffix(p, "/git-receive-pack") {
		return iGit
	}
	// /{ns}/{name}/resolve/… for models, /{datasets|spaces}/{ns}/{name}/resolve/… otherwise.
	at := 2
	if s := g.at(0); s == "datasets" || s == "spaces" || s == "models" {
		at = 3
	}
	if s := g.at(at); s == "resolve" || s == "raw" {
		return iResolve
	}
	return iWeb
}

// classifyAPI classifies /api/…; g holds the path's segments, "api" first.
func classifyAPI(g *segments) int {
	seg := func(i int) string { return g.at(i + 1) }
	switch seg(0) {
	case "jobs", "scheduled-jobs":
		return iJobs
	case "endpoints", "inference":
		return iInference
	case "buckets":
		return iBuckets
	case "spaces":
		if spaceActions[seg(3)] || seg(1) == "hardware" {
			return iSpaces
		}
	case "datasets":
		switch seg(3) {
		case "parquet", "croissant":
			return iViewer
		}
	}
	switch a := seg(3); {
	case strings.HasPrefix(a, "xet-"):
		return iXet
	case a == "resolve":
		return iResolve
	}
	return iAPI
}
