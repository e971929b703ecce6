// Package ui is the browser view of a dataset: one static page that pages
// through rows, shows per-column histograms, and runs searches and filters
// through the viewer API without reloading. It is served under the viewer's
// /ui/ path (/datasets-server/ui/?dataset=ns/name on the hub), so the web
// pages can link to it or embed it in an iframe.
package ui

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed assets
var assets embed.FS

// Handler serves the page and its assets under /ui/.
func Handler() http.Handler {
	sub, _ := fs.Sub(assets, "assets")
	files := http.FileServer(http.FS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2 := r.Clone(r.Context())
		r2.URL.Path = strings.TrimPrefix(r.URL.Path, "/ui")
		r2.URL.RawPath = ""
		if r2.URL.Path == "" {
			// A relative Location: the hub may have stripped a path prefix
			// ("/datasets-server") that the browser still has.
			w.Header().Set("Location", "ui/"+queryOf(r))
			w.WriteHeader(http.StatusFound)
			return
		}
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r2)
	})
}

func queryOf(r *http.Request) string {
	if r.URL.RawQuery == "" {
		return ""
	}
	return "?" + r.URL.RawQuery
}
