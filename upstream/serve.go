package upstream

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/hubhttp"
)

// serveCached answers a read of a public, ungated repository at the commit
// st names, from the cache or through it.
func (c *Cache) serveCached(w http.ResponseWriter, r *http.Request, req api.RepoRequest, st *revState, rest []string) {
	switch req.Action {
	case "", "revision":
		c.serveInfo(w, r, req, st.Commit)
	case "tree":
		c.serveTree(w, r, req, st.Commit, rest)
	case "paths-info":
		c.servePathsInfo(w, r, req, st.Commit)
	case "resolve":
		c.serveResolve(w, r, req, st.Commit, rest)
	}
}

func (c *Cache) repoAPI(req api.RepoRequest) string {
	return "/api/" + req.Type.Plural() + "/" + escapeID(req)
}

func withQuery(p string, r *http.Request) string {
	if r.URL.RawQuery != "" {
		return p + "?" + r.URL.RawQuery
	}
	return p
}

func (c *Cache) serveInfo(w http.ResponseWriter, r *http.Request, req api.RepoRequest, commit string) {
	a, err := c.meta(r.Context(), req, commit, "info", r.URL.Query().Encode(), func() (cachedAnswer, error) {
		_, b, err := c.fetch(r.Context(), http.MethodGet, withQuery(c.repoAPI(req)+"/revision/"+commit, r), nil, "", c.token)
		if err != nil {
			return cachedAnswer{}, err
		}
		b, err = c.infoBody(b)
		return cachedAnswer{Body: b}, err
	})
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	hubhttp.WriteJSONBytes(w, http.StatusOK, a.Body)
}

func (c *Cache) serveTree(w http.ResponseWriter, r *http.Request, req api.RepoRequest, commit string, rest []string) {
	p := c.repoAPI(req) + "/tree/" + commit
	if len(rest) > 0 {
		p += "/" + escapePath(rest)
	}
	query := strings.Join(rest, "/") + "?" + r.URL.Query().Encode()
	a, err := c.meta(r.Context(), req, commit, "tree", query, func() (cachedAnswer, error) {
		h, b, err := c.fetch(r.Context(), http.MethodGet, withQuery(p, r), nil, "", c.token)
		if err != nil {
			return cachedAnswer{}, err
		}
		b, err = entriesBody(b)
		return cachedAnswer{Body: b, Link: h.Get("Link")}, err
	})
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	if l := c.localLink(a.Link); l != "" {
		w.Header().Set("Link", l)
	}
	hubhttp.WriteJSONBytes(w, http.StatusOK, a.Body)
}

// pathsRequest reads the body of a paths-info request: form-encoded
// (Python) or JSON (JS).
func pathsRequest(r *http.Request) (url.Values, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 8<<20))
	if err != nil {
		return nil, haven.Errorf(haven.EInvalid, "Invalid body: %v", err)
	}
	out := url.Values{}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/json" {
		var req struct {
			Paths  []string `json:"paths"`
			Expand any      `json:"expand"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, haven.Errorf(haven.EInvalid, "Invalid JSON body: %v", err)
		}
		out["paths"] = req.Paths
		if req.Expand != nil && req.Expand != false {
			out.Set("expand", fmt.Sprint(req.Expand))
		}
		return out, nil
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, haven.Errorf(haven.EInvalid, "Invalid form body: %v", err)
	}
	out["paths"] = form["paths"]
	if e := form.Get("expand"); e != "" {
		out.Set("expand", e)
	}
	return out, nil
}

func (c *Cache) servePathsInfo(w http.ResponseWriter, r *http.Request, req api.RepoRequest, commit string) {
	form, err := pathsRequest(r)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	a, err := c.paths(r, req, commit, "paths", form)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	hubhttp.WriteJSONBytes(w, http.StatusOK, a.Body)
}

// paths asks the upstream's paths-info at commit, through the cache.
func (c *Cache) paths(r *http.Request, req api.RepoRequest, commit, kind string, form url.Values) (cachedAnswer, error) {
	body := form.Encode()
	return c.meta(r.Context(), req, commit, kind, body, func() (cachedAnswer, error) {
		_, b, err := c.fetch(r.Context(), http.MethodPost, c.repoAPI(req)+"/paths-info/"+commit, []byte(body), "application/x-www-form-urlencoded", c.token)
		if err != nil {
			return cachedAnswer{}, err
		}
		b, err = entriesBody(b)
		return cachedAnswer{Body: b}, err
	})
}

// serveResolve serves a file's content from the cache, fetching it first
// when it is not there; HEAD answers from the metadata alone.
func (c *Cache) serveResolve(w http.ResponseWriter, r *http.Request, req api.RepoRequest, commit string, rest []string) {
	p := strings.Join(rest, "/")
	if p == "" {
		c.writeError(w, r, haven.Errorf(haven.EEntryNotFound, "Entry not found"))
		return
	}
	a, err := c.paths(r, req, commit, "entry", url.Values{"paths": {p}})
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	var list []entry
	json.Unmarshal(a.Body, &list)
	var e *entry
	for i := range list {
		if list[i].Path == p && list[i].Type == "file" {
			e = &list[i]
		}
	}
	if e == nil {
		c.writeError(w, r, haven.Errorf(haven.EEntryNotFound, "upstream %s: Entry not found", c.host))
		return
	}
	if !e.usable() {
		c.writeError(w, r, haven.Errorf(haven.EUnavailable, "The upstream %s describes %s without a usable hash", c.host, p))
		return
	}
	h := w.Header()
	h.Set("X-Repo-Commit", commit)
	h.Set("Accept-Ranges", "bytes")
	h.Set("Cache-Control", "private, max-age=0, must-revalidate")
	h.Set("Content-Disposition", contentDisposition(path.Base(p), r.URL.Query().Has("download")))
	if ct := mime.TypeByExtension(path.Ext(p)); ct != "" && !strings.HasPrefix(ct, "text/html") {
		h.Set("Content-Type", ct)
	} else {
		h.Set("Content-Type", "application/octet-stream")
	}
	if e.LFS != nil {
		h.Set("ETag", `"`+e.LFS.OID+`"`)
		h.Set("X-Linked-Etag", `"`+e.LFS.OID+`"`)
		h.Set("X-Linked-Size", strconv.FormatInt(e.LFS.Size, 10))
	} else {
		h.Set("ETag", `"`+e.OID+`"`)
	}
	size := e.size()
	if size == 0 || r.Method == http.MethodHead && r.Header.Get("Range") == "" {
		if size == 0 && r.Header.Get("Range") != "" {
			// As the hub answers a probe of an empty file.
			h.Set("Content-Range", "bytes */0")
		}
		h.Set("Content-Length", strconv.FormatInt(size, 10))
		w.WriteHeader(http.StatusOK)
		return
	}
	key, err := c.content(r.Context(), req, commit, escapePath(rest), e)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	f, _, err := c.blobs.Open(r.Context(), key)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	defer f.Close()
	http.ServeContent(w, r, "", time.Time{}, f)
}

// passHeaders are the headers of the upstream's answers that reach the
// caller of a request passed through; Xet hints are left out, since the
// caller would ask this hub for Xet tokens it cannot give.
var passHeaders = []string{"Content-Type", "Content-Length", "Content-Range", "Content-Disposition", "Accept-Ranges",
	"ETag", "Last-Modified", "X-Repo-Commit", "X-Linked-Etag", "X-Linked-Size", "X-Total-Count"}

// passThrough answers a request of a repository that is not cached (private,
// gated, or not visible to the hub's token) by asking the upstream with the
// caller's own upstream token, or none. Nothing of the answer is kept.
func (c *Cache) passThrough(w http.ResponseWriter, r *http.Request, req api.RepoRequest) {
	if c.offline {
		c.writeError(w, r, haven.Errorf(haven.EUnavailable, "The upstream %s is offline and %s is not cached on this hub", c.host, repoID(req)))
		return
	}
	var body []byte
	if r.Method == http.MethodPost {
		b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 8<<20))
		if err != nil {
			c.writeError(w, r, haven.Errorf(haven.EInvalid, "Invalid body: %v", err))
			return
		}
		body = b
	}
	hdr := http.Header{}
	for _, k := range []string{"Range", "If-Range", "Content-Type", "Accept"} {
		if v := r.Header.Get(k); v != "" {
			hdr.Set(k, v)
		}
	}
	// A HEAD of a file is not followed to a signed URL (which may accept
	// GET only): the Hub's headers on the redirect say what the file is.
	resp, err := c.send(r.Context(), r.Method, withQuery(r.URL.EscapedPath(), r), body, hdr, req.Token, r.Method != http.MethodHead)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		c.writeError(w, r, c.upstreamError(resp, b))
		return
	}
	h := w.Header()
	for _, k := range passHeaders {
		if v := resp.Header.Values(k); len(v) > 0 {
			h[k] = v
		}
	}
	if l := c.localLink(resp.Header.Get("Link")); l != "" {
		h.Set("Link", l)
	}
	h.Set("Cache-Control", "private, no-store")
	status := resp.StatusCode
	if status >= 300 {
		// HEAD of a redirected file.
		status = http.StatusOK
		h.Del("Location")
		if s := resp.Header.Get("X-Linked-Size"); s != "" {
			h.Set("Content-Length", s)
		}
		w.WriteHeader(status)
		return
	}
	if status == http.StatusOK && req.Action != "resolve" && r.Method != http.MethodHead {
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxMetaBody))
		if err == nil {
			switch req.Action {
			case "", "revision":
				b, err = c.infoBody(b)
			case "tree", "paths-info":
				b, err = entriesBody(b)
			}
		}
		if err != nil {
			c.writeError(w, r, haven.Errorf(haven.EUnavailable, "The upstream %s answered with invalid JSON", c.host))
			return
		}
		hubhttp.WriteJSONBytes(w, status, b)
		return
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		io.Copy(w, resp.Body)
	}
}

// infoBody is the upstream's repo info as this hub serves it: it names
// the upstream, and says Xet is off since this hub serves the files itself.
func (c *Cache) infoBody(b []byte) ([]byte, error) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if _, ok := m["xetEnabled"]; ok {
		m["xetEnabled"] = false
	}
	m["upstream"] = c.host
	return hubhttp.MarshalJSON(m)
}

// entriesBody is a tree or paths-info answer without its Xet hashes.
func entriesBody(b []byte) ([]byte, error) {
	var list []map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&list); err != nil {
		return nil, err
	}
	for _, e := range list {
		delete(e, "xetHash")
	}
	if list == nil {
		list = []map[string]any{}
	}
	return hubhttp.MarshalJSON(list)
}

// localLink rewrites a Link header of the upstream for this hub: links into
// the upstream point here instead; Xet links are dropped.
func (c *Cache) localLink(link string) string {
	if link == "" {
		return ""
	}
	var out []string
	for _, part := range strings.Split(link, ",") {
		part = strings.TrimSpace(part)
		if strings.Contains(part, "xet-auth") {
			continue
		}
		start, end := strings.IndexByte(part, '<'), strings.IndexByte(part, '>')
		if start != 0 || end < 0 {
			continue
		}
		u, err := c.base.Parse(part[1:end])
		if err != nil || u.Host != c.base.Host || !strings.HasPrefix(u.EscapedPath(), c.base.EscapedPath()) {
			continue
		}
		local := c.publicURL + strings.TrimPrefix(u.EscapedPath(), c.base.EscapedPath())
		if u.RawQuery != "" {
			local += "?" + u.RawQuery
		}
		out = append(out, "<"+local+">"+part[end+1:])
	}
	return strings.Join(out, ", ")
}

// escapePath escapes each segment of a file path.
func escapePath(segs []string) string {
	out := make([]string, len(segs))
	for i, s := range segs {
		out[i] = url.PathEscape(s)
	}
	return strings.Join(out, "/")
}

func contentDisposition(name string, attachment bool) string {
	ascii := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '_'
		}
		return r
	}, name)
	kind := "inline"
	if attachment {
		kind = "attachment"
	}
	return fmt.Sprintf(`%s; filename*=UTF-8''%s; filename="%s";`, kind, url.PathEscape(name), ascii)
}
