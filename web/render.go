package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// staticVersion changes whenever an asset does, so that asset URLs can be
// cached for a long time.
var staticVersion = func() string {
	h := sha256.New()
	fs.WalkDir(staticFiles, "static", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := staticFiles.ReadFile(p)
			h.Write([]byte(p))
			h.Write(b)
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}()

// serveStatic serves an embedded asset.
func serveStatic(w http.ResponseWriter, r *http.Request, name string) {
	b, err := staticFiles.ReadFile(path.Join("static", path.Clean("/"+name)))
	if name == "highlight.css" {
		b, err = highlightCSS, nil
	}
	if err != nil || name == "" {
		http.NotFound(w, r)
		return
	}
	if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	if r.URL.Query().Get("v") == staticVersion {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(b)
}

// pageSet holds every page in one template set: the layout's parts parsed
// once, and for each page NAME its content as "content/NAME" inside a copy
// of the layout, "layout/NAME". A set per page (a clone of the layout and
// its parts each) kept forty copies of the same parse trees alive, and the
// garbage collector marks all of them on every cycle.
type pageSet struct {
	t      *template.Template
	layout map[string]string // page name → its layout template's name
}

// The layout calls the page's content, and each page defines it, with
// these exact actions; parsePages gives each page its own name for both.
const (
	contentCall = `{{template "content" .}}`
	contentDef  = `{{define "content"}}`
)

func parsePages(files fs.FS) (*pageSet, error) {
	read := func(name string) (string, error) {
		b, err := fs.ReadFile(files, name)
		return string(b), err
	}
	layout, err := read("templates/layout.html")
	if err != nil {
		return nil, err
	}
	if strings.Count(layout, contentCall) != 1 {
		return nil, fmt.Errorf("web: the layout must call %s once", contentCall)
	}
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return nil, err
	}
	ps := &pageSet{t: template.New("").Funcs(funcs), layout: map[string]string{}}
	defined := map[string]string{} // template name → the file that defines it
	add := func(file, src string) error {
		// In one set a second definition would silently replace the first:
		// parse each file alone first to learn the names it defines.
		alone, err := template.New(file).Funcs(funcs).Parse(src)
		if err != nil {
			return fmt.Errorf("web: template %s: %w", file, err)
		}
		for _, d := range alone.Templates() {
			if n := d.Name(); n != file {
				if other, ok := defined[n]; ok {
					return fmt.Errorf("web: template %q is defined in %s and %s", n, other, file)
				}
				defined[n] = file
			}
		}
		_, err = ps.t.New(file).Parse(src)
		return err
	}
	for _, n := range names {
		base := strings.TrimSuffix(path.Base(n), ".html")
		if base == "layout" || !strings.HasPrefix(base, "parts") {
			continue
		}
		src, err := read(n)
		if err != nil {
			return nil, err
		}
		if err := add(n, src); err != nil {
			return nil, err
		}
	}
	for _, n := range names {
		base := strings.TrimSuffix(path.Base(n), ".html")
		if base == "layout" || strings.HasPrefix(base, "parts") {
			continue
		}
		src, err := read(n)
		if err != nil {
			return nil, err
		}
		if strings.Count(src, contentDef) != 1 {
			return nil, fmt.Errorf("web: template %s must define its content with %s once", n, contentDef)
		}
		src = strings.Replace(src, contentDef, `{{define "content/`+base+`"}}`, 1)
		if err := add(n, src); err != nil {
			return nil, err
		}
		name := "layout/" + base
		if err := add(name, strings.Replace(layout, contentCall, `{{template "content/`+base+`" .}}`, 1)); err != nil {
			return nil, err
		}
		ps.layout[base] = name
	}
	return ps, nil
}

// page is what every template gets: the layout's fields and the page's own
// data in D.
type page struct {
	Title     string
	Me        *haven.User
	Actor     *auth.Actor
	PublicURL string
	Path      string
	Query     string // search box value
	Static    string // asset version
	Unread    int    // the visitor's unread notifications
	D         any
}

// render writes a page with the layout around it.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name, title string, d any) {
	h.renderFraming(w, r, status, name, title, d, "")
}

// renderFraming writes a page that may also frame pages of frameOrigin, a
// scheme://host other than the hub's own ("" for none).
func (h *Handler) renderFraming(w http.ResponseWriter, r *http.Request, status int, name, title string, d any, frameOrigin string) {
	layout, ok := h.pages.layout[name]
	if !ok {
		panic("web: no template " + name)
	}
	a := actorOf(r)
	p := page{
		Title:     title,
		Me:        a.User,
		Actor:     a,
		PublicURL: h.publicURL(""),
		Path:      r.URL.RequestURI(),
		Static:    staticVersion,
		D:         d,
	}
	if q := r.URL.Query().Get("search"); q != "" {
		p.Query = q
	}
	if a.User != nil {
		// The count is only a hint in the header: a failure leaves it out
		// rather than failing the page.
		p.Unread, _ = h.meta.UnreadNotifications(r.Context(), a.User.ID)
	}
	var buf bytes.Buffer
	if err := h.pages.t.ExecuteTemplate(&buf, layout, p); err != nil {
		h.log.ErrorContext(r.Context(), "rendering page", "page", name, "err", err)
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	// Card HTML is sanitised; the policy is a second fence: no inline or
	// foreign scripts, no plugins, no framing.
	csp := "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https: http:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
	if frameOrigin != "" {
		csp += "; frame-src 'self' " + frameOrigin
	}
	hd.Set("Content-Security-Policy", csp)
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

var funcs = template.FuncMap{
	"ago":        ago,
	"date":       func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"isodate":    func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"bytes":      humanBytes,
	"count":      humanCount,
	"short":      func(sha string) string { return sha[:min(len(sha), 7)] },
	"repoURL":    repoURL,
	"pathEsc":    url.PathEscape,
	"queryEsc":   url.QueryEscape,
	"typeLabel":  typeLabel,
	"add":        func(a, b int) int { return a + b },
	"join":       strings.Join,
	"lower":      strings.ToLower,
	"list":       func(v ...string) []string { return v },
	"stageClass": stageClass,
	"stageLabel": stageLabel,
	"entry":      func(repo *haven.Repo, stage string) repoEntry { return repoEntry{repo, stage} },
	"paramCount": paramCount,
}

// repoURL is the path of a repository's page, with optional escaped suffix.
func repoURL(repo *haven.Repo, suffix ...string) string {
	return "/" + repo.Type.URLPrefix() + url.PathEscape(repo.Namespace) + "/" + url.PathEscape(repo.Name) + strings.Join(suffix, "")
}

func typeLabel(t haven.RepoType) string {
	switch t {
	case haven.Dataset:
		return "Dataset"
	case haven.Space:
		return "Space"
	}
	return "Model"
}

// ago renders a past time as "3 days ago".
func ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 24*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	case d < 30*24*time.Hour:
		return plural(int(d/(24*time.Hour)), "day") + " ago"
	case d < 365*24*time.Hour:
		return plural(int(d/(30*24*time.Hour)), "month") + " ago"
	}
	return plural(int(d/(365*24*time.Hour)), "year") + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// humanBytes renders a size with a decimal unit, as the Hub does.
func humanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

// humanCount renders a counter compactly: 950, 1.2k, 3.4M.
func humanCount(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d", n)
	case n < 1_000_000:
		return strings.Replace(fmt.Sprintf("%.1fk", float64(n)/1e3), ".0k", "k", 1)
	}
	return strings.Replace(fmt.Sprintf("%.1fM", float64(n)/1e6), ".0M", "M", 1)
}
