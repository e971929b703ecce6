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
var Routes = []string{RouteAPI, RouteResolve, RouteLFS, RouteGit, RouteXet, RouteViewer, RouteSpaces,
	RouteJobs, RouteInference, RouteBuckets, RouteOps, RouteWeb}

// Xet CAS paths start with /v1/{one of these}.
var casRoots = map[string]bool{"xorbs": true, "shards": true, "chunks": true, "reconstructions": true, "files": true, "fetch": true}

// Spaces runtime actions under /api/spaces/{ns}/{name}/.
var spaceActions = map[string]bool{"runtime": true, "hardware": true, "sleeptime": true, "pause": true, "restart": true,
	"secrets": true, "variables": true, "logs": true, "metrics": true, "events": true}

// Classify returns the route class of a request. spacesDomain is the
// domain under which Space apps are served on subdomains ("" for none).
func Classify(r *http.Request, spacesDomain string) string {
	host := strings.ToLower(r.Host)
	if h, _, ok := strings.Cut(host, ":"); ok {
		host = h
	}
	if strings.HasPrefix(host, "datasets-server.") {
		return RouteViewer
	}
	if spacesDomain != "" && strings.HasSuffix(host, "."+strings.ToLower(spacesDomain)) {
		return RouteSpaces
	}
	p := r.URL.Path
	switch p {
	case "/metrics", "/healthz", "/readyz":
		return RouteOps
	}
	segs := strings.SplitN(strings.Trim(p, "/"), "/", 8)
	seg := func(i int) string {
		if i < len(segs) {
			return segs[i]
		}
		return ""
	}
	switch seg(0) {
	case "lfs":
		if seg(1) == "objects" {
			return RouteLFS
		}
	case "datasets-server":
		return RouteViewer
	case "v1":
		if casRoots[seg(1)] {
			return RouteXet
		}
	case "inference", "e":
		return RouteInference
	case "buckets":
		return RouteBuckets
	case "-":
		if seg(1) == "spaces" {
			return RouteSpaces
		}
	case "api":
		return classifyAPI(segs[1:])
	}
	if strings.Contains(p, "/info/lfs/") {
		return RouteLFS
	}
	if strings.HasSuffix(p, "/info/refs") || strings.HasSuffix(p, "/git-upload-pack") || strings.HasSuffix(p, "/git-receive-pack") {
		return RouteGit
	}
	// /{ns}/{name}/resolve/… for models, /{datasets|spaces}/{ns}/{name}/resolve/… otherwise.
	at := 2
	if seg(0) == "datasets" || seg(0) == "spaces" || seg(0) == "models" {
		at = 3
	}
	if s := seg(at); s == "resolve" || s == "raw" {
		return RouteResolve
	}
	return RouteWeb
}

func classifyAPI(segs []string) string {
	seg := func(i int) string {
		if i < len(segs) {
			return segs[i]
		}
		return ""
	}
	switch seg(0) {
	case "jobs", "scheduled-jobs":
		return RouteJobs
	case "endpoints", "inference":
		return RouteInference
	case "buckets":
		return RouteBuckets
	case "spaces":
		if spaceActions[seg(3)] || seg(1) == "hardware" {
			return RouteSpaces
		}
	case "datasets":
		switch seg(3) {
		case "parquet", "croissant":
			return RouteViewer
		}
	}
	switch a := seg(3); {
	case strings.HasPrefix(a, "xet-"):
		return RouteXet
	case a == "resolve":
		return RouteResolve
	}
	return RouteAPI
}
