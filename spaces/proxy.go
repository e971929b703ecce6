package spaces

import (
	"bytes"
	"context"
	"encoding/json"
	"html/template"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/gitstore"
	"github.com/havenhub/haven/hubhttp"
	"github.com/havenhub/haven/meta"
)

// wakeWait bounds how long a programmatic request to a sleeping or starting
// app is held before it gets a 503.
const wakeWait = 3 * time.Minute

// Handler serves the apps — at {subdomain}.{Domain} when a Spaces domain is
// set, and at /-/spaces/{ns}/{name}/ below the public URL — and passes every
// other request to next.
func (s *Service) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		repo, rest, ok := s.route(r)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		s.serveApp(w, r, repo, rest)
	})
}

// route finds the Space a request is for and the path inside its app.
func (s *Service) route(r *http.Request) (*haven.Repo, string, bool) {
	if s.cfg.Domain != "" {
		host := strings.ToLower(r.Host)
		if h, _, err := splitHostPort(host); err == nil {
			host = h
		}
		if label, ok := strings.CutSuffix(host, "."+s.cfg.Domain); ok {
			label = strings.TrimSuffix(label, ".static")
			if repo := s.bySubdomain(r.Context(), label); repo != nil {
				return repo, r.URL.EscapedPath(), true
			}
			return nil, "", false
		}
	}
	p := r.URL.EscapedPath()
	rest, ok := strings.CutPrefix(p, "/-/spaces/")
	if !ok {
		return nil, "", false
	}
	parts := strings.SplitN(rest, "/", 3)
	if len(parts) < 2 {
		return nil, "", false
	}
	ns, err1 := url.PathUnescape(parts[0])
	name, err2 := url.PathUnescape(parts[1])
	if err1 != nil || err2 != nil {
		return nil, "", false
	}
	repo := s.spaceByName(r.Context(), ns, name)
	inner := "/"
	if len(parts) == 3 {
		// host + "/route" doubles the slash of a host that ends in one.
		inner = "/" + strings.TrimLeft(parts[2], "/")
	}
	return repo, inner, true
}

func splitHostPort(h string) (string, string, error) {
	i := strings.LastIndexByte(h, ':')
	if i < 0 || strings.Contains(h[i:], "]") {
		return h, "", strconvErr
	}
	return h[:i], h[i+1:], nil
}

var strconvErr = &strconv.NumError{Func: "splitHostPort", Err: strconv.ErrSyntax}

// spaceByName finds a Space by owner and name, from the read cache when it
// was read within readTTL; an unknown one comes back with ID 0, to be
// answered as not found.
func (s *Service) spaceByName(ctx context.Context, ns, name string) *haven.Repo {
	key := repoKey(ns, name)
	if repo, ok := s.cache.repos.Get(key); ok {
		return repo
	}
	repo, err := s.cfg.Meta.RepoByName(ctx, haven.Space, ns, name)
	if err != nil {
		return &haven.Repo{Type: haven.Space, Namespace: ns, Name: name}
	}
	s.cache.repos.Add(key, repo)
	return repo
}

// bySubdomain finds a Space by its host label.
func (s *Service) bySubdomain(ctx context.Context, label string) *haven.Repo {
	if id, ok := s.subs.Load(label); ok {
		if repo, ok := s.cache.repos.Get("#" + label); ok && repo.ID == id.(int64) {
			return repo
		}
		if repo, err := s.cfg.Meta.RepoByID(ctx, id.(int64)); err == nil && subdomain(repo) == label {
			s.cache.repos.Add("#"+label, repo)
			return repo
		}
	}
	// Not seen yet (created since start): look through the Spaces once.
	repos, err := s.cfg.Meta.ListRepos(ctx, spacesFilter())
	if err != nil {
		return nil
	}
	for _, repo := range repos {
		s.subs.Store(subdomain(repo), repo.ID)
		if subdomain(repo) == label {
			return repo
		}
	}
	return nil
}

// serveApp checks access, wakes the app when it sleeps and forwards the
// request, or serves the files of a static Space.
func (s *Service) serveApp(w http.ResponseWriter, r *http.Request, repo *haven.Repo, inner string) {
	if v := r.Header.Get("X-Hf-Authorization"); v != "" && r.Header.Get("Authorization") == "" {
		// gradio_client sends the token under this name, as the Hub's
		// Spaces proxy reads it.
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", v)
	}
	actor, err := s.cfg.Authenticate(r)
	if err != nil {
		s.appError(w, r, err)
		return
	}
	r = r.WithContext(hubhttp.WithActor(r.Context(), actor))
	if repo.ID == 0 {
		s.appError(w, r, auth.RepoNotFound())
		return
	}
	if s.trade(w, r, repo) {
		return
	}
	if err := auth.Can(actor, auth.Read, repo); err != nil && !s.granted(r, repo) {
		s.appError(w, r, err)
		return
	}
	if s.cfg.Domain == "" && inner == "/" && !strings.HasSuffix(r.URL.Path, "/") {
		// Relative links in the app need the trailing slash.
		http.Redirect(w, r, r.URL.Path+"/"+queryOf(r), http.StatusFound)
		return
	}
	if repo.SDK == SDKStatic {
		s.serveStatic(w, r, repo, inner)
		return
	}
	if s.atHolder(w, r, repo) {
		return
	}
	a := s.appFor(repo)
	a.lastSeen.Store(time.Now().UnixNano())
	a.active.Add(1)
	defer func() {
		a.active.Add(-1)
		a.lastSeen.Store(time.Now().UnixNano())
	}()
	a.wake()
	in, err := a.readyNow()
	if in == nil && err == nil {
		if wantsPage(r) {
			s.wakingPage(w, r, repo)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), wakeWait)
		in, err = a.ready(ctx)
		cancel()
	}
	if err != nil {
		s.appError(w, r, err)
		return
	}
	if in == nil { // the Space became static
		s.serveStatic(w, r, repo, inner)
		return
	}
	s.forward(w, r, repo, in, inner)
}

// readyNow returns the serving instance, or (nil, nil) while the app is on
// its way up, or the reason it will not come up.
func (a *app) readyNow() (*instance, error) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	in, err := a.ready(ctx)
	if err != nil && strings.HasPrefix(haven.ErrorMessage(err), "This Space is starting") {
		return nil, nil
	}
	return in, err
}

// forward proxies the request to the instance, streaming both ways
// (server-sent events and WebSockets pass through unbuffered).
func (s *Service) forward(w http.ResponseWriter, r *http.Request, repo *haven.Repo, in *instance, inner string) {
	addr := in.h.Addr()
	target := in.prefix + inner
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = addr
			pr.Out.URL.RawPath = target
			if p, err := url.PathUnescape(target); err == nil {
				pr.Out.URL.Path = p
			}
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
			// The app never sees the caller's Haven credentials.
			pr.Out.Header.Del("Authorization")
			pr.Out.Header.Del("X-Hf-Authorization")
			withoutCookie(pr.Out.Header, s.cfg.SessionCookie)
			withoutCookie(pr.Out.Header, accessCookie)
			if s.cfg.Domain == "" {
				pr.Out.Header.Set("X-Forwarded-Prefix", PathPrefix(repo))
			}
		},
		FlushInterval: -1,
		Transport:     appTransport,
		ModifyResponse: func(resp *http.Response) error {
			for k, v := range in.cfg.Headers {
				resp.Header.Set(k, v)
			}
			if in.cfg.NoEmbed {
				resp.Header.Set("X-Frame-Options", "DENY")
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			s.appError(w, r, haven.Errorf(haven.EUnavailable, "The app did not answer: %v", err))
		},
	}
	rp.ServeHTTP(w, r)
}

// serveStatic serves a static Space's files from the repository at the head
// of its default branch: app_file at "/", index.html in folders, variables
// as window.huggingface.variables in HTML pages.
func (s *Service) serveStatic(w http.ResponseWriter, r *http.Request, repo *haven.Repo, inner string) {
	ctx := r.Context()
	p, err := url.PathUnescape(inner)
	if err != nil {
		s.appError(w, r, haven.Errorf(haven.EInvalid, "Invalid path"))
		return
	}
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	f, err := s.staticFile(ctx, repo, p)
	if err != nil {
		s.appError(w, r, err)
		return
	}
	if f == nil {
		http.Error(w, "404 Not Found", http.StatusNotFound)
		return
	}
	var body io.ReadSeeker
	switch {
	case f.body != nil:
		body = bytes.NewReader(f.body)
	case f.file != "":
		// An *os.File lets the server send it with sendfile.
		file, err := os.Open(f.file)
		if err != nil {
			s.cache.static.Remove(staticKey{repo: repo.ID, sha: repo.SHA, path: p})
			s.appError(w, r, err)
			return
		}
		defer file.Close()
		body = file
	case f.lfsOID != "" && s.cfg.Open != nil:
		rc, _, err := s.cfg.Open(ctx, f.lfsOID)
		if err != nil {
			s.appError(w, r, err)
			return
		}
		defer rc.Close()
		body = rc
	default:
		g, err := s.cfg.Git.Open(ctx, repo.Type, repo.RepoID())
		if err != nil {
			s.appError(w, r, err)
			return
		}
		rc, _, err := g.Blob(f.oid)
		if err != nil {
			s.appError(w, r, err)
			return
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			s.appError(w, r, err)
			return
		}
		body = bytes.NewReader(b)
	}
	ctype := mime.TypeByExtension(path.Ext(f.path))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	etag := f.oid
	if strings.HasPrefix(ctype, "text/html") {
		h.Set("Cache-Control", "no-cache")
		if vars := s.variablesScript(ctx, repo); vars != "" {
			b, _ := io.ReadAll(body)
			body = bytes.NewReader(injectHead(b, vars))
			// The page changes with the variables, not only with the file.
			etag += "-" + shortHash(vars)
		}
	} else {
		h.Set("Cache-Control", "public, max-age=0, must-revalidate")
	}
	h.Set("ETag", `"`+etag+`"`)
	http.ServeContent(w, r, "", time.Time{}, body)
}

// staticFile resolves a request path of a static Space at the head of its
// default branch: app_file at "", index.html in folders; nil when there is
// no such file. Resolutions are cached by commit, with the contents of
// small files.
func (s *Service) staticFile(ctx context.Context, repo *haven.Repo, p string) (*staticFile, error) {
	sha := repo.SHA
	var g *gitstore.Repo
	if sha == "" {
		var err error
		if g, err = s.cfg.Git.Open(ctx, repo.Type, repo.RepoID()); err != nil {
			return nil, err
		}
		if sha, err = g.Resolve(repo.DefaultBranch()); err != nil {
			return nil, err
		}
	}
	key := staticKey{repo: repo.ID, sha: sha, path: p}
	if f, ok := s.cache.static.Get(key); ok {
		return f, nil
	}
	if g == nil {
		var err error
		if g, err = s.cfg.Git.Open(ctx, repo.Type, repo.RepoID()); err != nil {
			return nil, err
		}
	}
	file := p
	if file == "" {
		readme, _ := g.ReadFile(sha, "README.md")
		file = "index.html"
		if cfg, err := parseConfig(readme, func(string) bool { return true }); err == nil {
			file = cfg.AppFile
		}
	}
	e, err := g.Stat(sha, file)
	if err == nil && e.Type == gitstore.TypeDirectory {
		file = path.Join(file, "index.html")
		e, err = g.Stat(sha, file)
	}
	if err != nil || e.Type != gitstore.TypeFile {
		return nil, nil
	}
	f := &staticFile{path: file, oid: e.OID}
	if ptr, ok := g.Pointer(e); ok {
		f.lfsOID = ptr.OID
	} else if e.Size <= staticMaxBytes {
		if f.body, err = g.ReadFile(sha, file); err != nil {
			return nil, err
		}
	} else if f.file, err = s.blobFile(g, e.OID); err != nil {
		return nil, err
	}
	s.cache.static.Add(key, f)
	return f, nil
}

// variablesScript is the script that gives a static page its Space's
// variables (never its secrets), or "" when there are none.
func (s *Service) variablesScript(ctx context.Context, repo *haven.Repo) string {
	if script, ok := s.cache.vars.Get(repo.ID); ok {
		return script
	}
	vars, err := s.cfg.Meta.SpaceEnv(ctx, repo.ID, false)
	if err != nil {
		return ""
	}
	if len(vars) == 0 {
		s.cache.vars.Add(repo.ID, "")
		return ""
	}
	m := map[string]string{}
	for _, v := range vars {
		m[v.Key] = v.Value
	}
	b, _ := json.Marshal(map[string]any{"variables": m})
	// json.Marshal escapes <, > and &, so the values cannot close the script.
	script := "<script>window.huggingface = " + string(b) + ";</script>"
	s.cache.vars.Add(repo.ID, script)
	return script
}

func injectHead(page []byte, snippet string) []byte {
	i := bytes.Index(bytes.ToLower(page), []byte("<head>"))
	if i < 0 {
		return append([]byte(snippet), page...)
	}
	i += len("<head>")
	out := make([]byte, 0, len(page)+len(snippet))
	out = append(out, page[:i]...)
	out = append(out, snippet...)
	return append(out, page[i:]...)
}

// wantsPage tells a browser navigation from an API call.
func wantsPage(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.Contains(r.Header.Get("Accept"), "text/html")
}

var wakingTmpl = template.Must(template.New("waking").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="15">
<title>{{.Name}} is waking up</title>
<style>body{font:16px system-ui,sans-serif;display:grid;place-items:center;height:90vh;color:#333}
.spin{width:32px;height:32px;border:4px solid #ddd;border-top-color:#f59e0b;border-radius:50%;animation:s 1s linear infinite;margin:auto}
@keyframes s{to{transform:rotate(360deg)}}</style></head>
<body><div><div class="spin"></div><p>{{.Name}} is starting up. This page reloads by itself.</p>
<p id="stage"></p></div>
<script>
// Poll the Space's runtime and reload once the app runs; the refresh above
// is the fallback where the runtime cannot be read from here.
(function poll() {
	fetch({{.Runtime}}, {credentials: "include"}).then(function (r) { return r.json(); }).then(function (rt) {
		document.getElementById("stage").textContent = rt.stage || "";
		if (rt.stage === "RUNNING") { location.reload(); return; }
		if (/ERROR|PAUSED/.test(rt.stage || "")) { document.getElementById("stage").textContent = rt.stage + ": " + (rt.errorMessage || ""); return; }
		setTimeout(poll, 1000);
	}).catch(function () { setTimeout(poll, 2000); });
})();
</script></body></html>`))

func (s *Service) wakingPage(w http.ResponseWriter, r *http.Request, repo *haven.Repo) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Retry-After", "2")
	w.WriteHeader(http.StatusServiceUnavailable)
	wakingTmpl.Execute(w, map[string]string{
		"Name":    repo.FullName(),
		"Runtime": strings.TrimRight(s.cfg.PublicURL, "/") + "/api/spaces/" + repo.FullName() + "/runtime",
	})
}

// appError answers a request to an app that cannot be served: the Hub's
// error shape for API callers, a short page for browsers.
func (s *Service) appError(w http.ResponseWriter, r *http.Request, err error) {
	if wantsPage(r) {
		status := hubhttp.Status(err)
		if haven.IsCode(err, haven.ERepoNotFound) {
			status = http.StatusNotFound
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		errorTmpl.Execute(w, haven.ErrorMessage(err))
		return
	}
	hubhttp.WriteError(s.log, w, r, err)
}

var errorTmpl = template.Must(template.New("error").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Space unavailable</title>
<style>body{font:16px system-ui,sans-serif;max-width:40em;margin:10vh auto;color:#333}</style></head>
<body><p>{{.}}</p></body></html>`))

func queryOf(r *http.Request) string {
	if r.URL.RawQuery == "" {
		return ""
	}
	return "?" + r.URL.RawQuery
}

func spacesFilter() meta.RepoFilter { return meta.RepoFilter{Type: haven.Space, SeeAll: true} }

// withoutCookie removes the cookie named name from h, keeping the app's
// own: under a path prefix the browser sends Haven's session to the app.
func withoutCookie(h http.Header, name string) {
	if name == "" {
		return
	}
	lines := h.Values("Cookie")
	h.Del("Cookie")
	for _, line := range lines {
		var kept []string
		for _, part := range strings.Split(line, ";") {
			k, _, _ := strings.Cut(strings.TrimSpace(part), "=")
			if k != name && strings.TrimSpace(part) != "" {
				kept = append(kept, strings.TrimSpace(part))
			}
		}
		if len(kept) > 0 {
			h.Add("Cookie", strings.Join(kept, "; "))
		}
	}
}

// appTransport carries proxied requests to the apps. It keeps many idle
// connections per app (the default keeps two), so that concurrent callers
// reuse connections instead of opening one per request.
var appTransport = &http.Transport{
	Proxy:                 nil, // apps are on loopback, never behind a proxy
	DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	MaxIdleConns:          1024,
	MaxIdleConnsPerHost:   256,
	IdleConnTimeout:       90 * time.Second,
	ExpectContinueTimeout: time.Second,
}

// blobFile is the path of a git blob written out under the service's
// folder (static/{id}), written once: blobs never change.
func (s *Service) blobFile(g *gitstore.Repo, oid string) (string, error) {
	dst := filepath.Join(s.cfg.Dir, "static", oid[:2], oid)
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	rc, _, err := g.Blob(oid)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".blob-")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, rc); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	return dst, os.Rename(tmp.Name(), dst)
}
