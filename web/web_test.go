package web_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/net/html"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/access"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/audit"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/collections"
	"github.com/havenhub/haven/discussions"
	"github.com/havenhub/haven/internal/storetest"
	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/spaces"
	"github.com/havenhub/haven/web"
	"github.com/havenhub/haven/webhooks"
)

// site is the API with the pages behind it, on real stores in a
// temporary folder, with users alice (in org acme) and bob, both with the
// password "password-<name>".
type site struct {
	t       testing.TB
	url     string
	meta    *meta.Store
	handler http.Handler
	tokens  map[string]string // user → write token
	pages   *web.Handler      // set by the sites that plug services into the pages
}

func newSite(t testing.TB) *site {
	t.Helper()
	return newSiteOn(t, storetest.Open(t))
}

// newSiteOn is newSite on the given stores.
func newSiteOn(t testing.TB, st *storetest.Stores) *site {
	t.Helper()
	ctx := context.Background()
	m, g, b := st.Meta, st.Git, st.Blobs
	ts := httptest.NewUnstartedServer(nil)
	ts.Start()
	t.Cleanup(ts.Close)
	auditLog := audit.New(audit.Config{Meta: m, PublicURL: ts.URL})
	pages, err := web.New(web.Config{Meta: m, Git: g, PublicURL: ts.URL, Audit: auditLog})
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("test-secret-test-secret-test-secret")
	// Spaces run without a runner: static ones serve their files, and the
	// stage of the others is whatever a test records.
	var srv *api.Server
	apps, err := spaces.New(spaces.Config{Meta: m, Git: g, Dir: t.TempDir(), PublicURL: ts.URL, Secret: secret,
		Authenticate: func(r *http.Request) (*auth.Actor, error) { return srv.Authenticate(r) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { apps.Close() })
	gates := access.New(access.Config{Meta: m, PublicURL: ts.URL, Changed: func() { srv.ForgetTokens(); pages.ForgetSessions() }})
	colls := collections.New(collections.Config{Meta: m, PublicURL: ts.URL, Markdown: web.RenderNote})
	discs := discussions.New(discussions.Config{Meta: m, Git: g, PublicURL: ts.URL, Render: web.RenderComment})
	// Webhooks without workers: the pages show logs and replay at once.
	hooks := webhooks.New(webhooks.Config{Meta: m, PublicURL: ts.URL, AllowPrivate: true})
	srv, err = api.New(api.Config{Meta: m, Git: g, Blobs: b, PublicURL: ts.URL, Secret: secret,
		Web: pages, Sessions: pages, Spaces: apps, Routes: []api.Routes{apps, gates, colls, discs, hooks, auditLog}, PullRequests: discs,
		Audit: auditLog})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	pages.TokensChanged = srv.ForgetTokens
	pages.Spaces = apps
	pages.Collections = colls
	pages.Webhooks = hooks
	ts.Config.Handler = apps.Handler(srv)
	s := &site{t: t, url: ts.URL, meta: m, handler: ts.Config.Handler, tokens: map[string]string{}, pages: pages}
	for _, name := range []string{"alice", "bob"} {
		hash, _ := bcrypt.GenerateFromPassword([]byte("password-"+name), bcrypt.MinCost)
		u := &haven.User{Name: name}
		if err := m.CreateUser(ctx, u, string(hash)); err != nil {
			t.Fatal(err)
		}
		plain, th := auth.NewToken()
		if err := m.CreateToken(ctx, &haven.Token{UserID: u.ID, DisplayName: "cli", Role: haven.RoleWrite}, th); err != nil {
			t.Fatal(err)
		}
		s.tokens[name] = plain
	}
	org := &haven.User{Name: "acme", IsOrg: true}
	if err := m.CreateUser(ctx, org, ""); err != nil {
		t.Fatal(err)
	}
	alice, _ := m.UserByName(ctx, "alice")
	if err := m.AddMember(ctx, org.ID, alice.ID, meta.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	return s
}

// browser is a client with a cookie jar that sends the site's origin on
// unsafe requests, as a browser on the site's pages does.
type browser struct {
	s      *site
	c      *http.Client
	origin string // "" sends no Origin header
}

func (s *site) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{s: s, origin: s.url, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(method, path, contentType string, body []byte, hdr ...string) page {
	b.s.t.Helper()
	req, err := http.NewRequest(method, b.s.url+path, bytes.NewReader(body))
	if err != nil {
		b.s.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if b.origin != "" && method != http.MethodGet {
		req.Header.Set("Origin", b.origin)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.s.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return page{res.StatusCode, res.Header, string(data)}
}

func (b *browser) get(path string) page { return b.do("GET", path, "", nil) }

func (b *browser) form(path string, v url.Values) page {
	return b.do("POST", path, "application/x-www-form-urlencoded", []byte(v.Encode()))
}

// signIn signs the browser in and fails the test if that does not work.
func (b *browser) signIn(user string) {
	b.s.t.Helper()
	p := b.form("/login", url.Values{"username": {user}, "password": {"password-" + user}, "next": {"/"}})
	if p.status != http.StatusSeeOther {
		b.s.t.Fatalf("sign in as %s: status %d\n%s", user, p.status, p.body)
	}
}

// apiDo calls the API with a token.
func (s *site) apiDo(method, path, token, contentType string, body []byte) page {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.url+path, bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return page{res.StatusCode, res.Header, string(data)}
}

func (s *site) createRepo(user, name string, private bool) {
	s.t.Helper()
	body, _ := json.Marshal(map[string]any{"name": name, "private": private})
	if p := s.apiDo("POST", "/api/repos/create", s.tokens[user], "application/json", body); p.status != 200 {
		s.t.Fatalf("create %s/%s: %d %s", user, name, p.status, p.body)
	}
}

// commit writes files to main and returns the commit id.
func (s *site) commit(user, repo, summary string, files map[string]string) string {
	s.t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.Encode(map[string]any{"key": "header", "value": map[string]any{"summary": summary, "description": ""}})
	for p, c := range files {
		enc.Encode(map[string]any{"key": "file", "value": map[string]any{"path": p, "content": base64.StdEncoding.EncodeToString([]byte(c)), "encoding": "base64"}})
	}
	p := s.apiDo("POST", "/api/models/"+repo+"/commit/main", s.tokens[user], "application/x-ndjson", b.Bytes())
	if p.status != 200 {
		s.t.Fatalf("commit to %s: %d %s", repo, p.status, p.body)
	}
	var out struct{ CommitOid string }
	json.Unmarshal([]byte(p.body), &out)
	return out.CommitOid
}

func TestSignInAndOut(t *testing.T) {
	s := newSite(t)
	b := s.browser()
	tests := []struct {
		user, password string
		status         int
	}{
		{"alice", "wrong", http.StatusUnauthorized},
		{"nobody", "password-nobody", http.StatusUnauthorized},
		{"acme", "", http.StatusUnauthorized}, // organisations cannot sign in
		{"alice", "password-alice", http.StatusSeeOther},
	}
	for _, tc := range tests {
		p := b.form("/login", url.Values{"username": {tc.user}, "password": {tc.password}, "next": {"/models"}})
		if p.status != tc.status {
			t.Errorf("sign in as %s/%s: status %d, want %d", tc.user, tc.password, p.status, tc.status)
		}
	}
	// The last sign-in worked: the cookie is HttpOnly and SameSite=Lax, and
	// the redirect stays on the site.
	u, _ := url.Parse(s.url)
	cookies := b.c.Jar.Cookies(u)
	if len(cookies) != 1 || cookies[0].Name != web.SessionCookie {
		t.Fatalf("cookies after sign-in: %v", cookies)
	}
	p := b.form("/login", url.Values{"username": {"alice"}, "password": {"password-alice"}, "next": {"//evil.example/x"}})
	if loc := p.header.Get("Location"); loc != "/" {
		t.Errorf("next=//evil.example/x redirected to %q, want /", loc)
	}
	if sc := p.header.Get("Set-Cookie"); !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Lax") {
		t.Errorf("session cookie %q lacks HttpOnly or SameSite=Lax", sc)
	}
	var who struct{ Name string }
	p = b.get("/api/whoami-v2")
	json.Unmarshal([]byte(p.body), &who)
	if p.status != 200 || who.Name != "alice" {
		t.Fatalf("whoami with the session cookie: %d %s", p.status, p.body)
	}
	if p := b.form("/logout", nil); p.status != http.StatusSeeOther {
		t.Fatalf("sign out: %d", p.status)
	}
	if p := b.get("/api/whoami-v2"); p.status != http.StatusUnauthorized {
		t.Errorf("whoami after signing out: %d, want 401", p.status)
	}
}

func TestCrossSiteRequests(t *testing.T) {
	s := newSite(t)
	s.createRepo("alice", "m", false)
	b := s.browser()
	b.signIn("alice")
	tests := []struct {
		name   string
		method string
		path   string
		hdr    []string
		status int
	}{
		{"like from the site", "POST", "/api/models/alice/m/like", []string{"Origin", s.url}, 200},
		{"like from another site", "POST", "/api/models/alice/m/like", []string{"Origin", "http://evil.example"}, 401},
		{"like without origin or referer", "POST", "/api/models/alice/m/like", nil, 403},
		{"like with the script header", "POST", "/api/models/alice/m/like", []string{web.CSRFHeader, s.url}, 200},
		{"like with a foreign script header", "POST", "/api/models/alice/m/like", []string{web.CSRFHeader, "http://evil.example"}, 403},
		{"like with a referer from the site", "POST", "/api/models/alice/m/like", []string{"Referer", s.url + "/alice/m"}, 200},
		{"like with a look-alike referer", "POST", "/api/models/alice/m/like", []string{"Referer", s.url + ".evil.example/"}, 403},
		{"cross-site read is anonymous", "GET", "/api/whoami-v2", []string{"Origin", "http://evil.example"}, 401},
		{"sign out from another site", "POST", "/logout", []string{"Origin", "http://evil.example"}, 403},
		{"token form without origin", "POST", "/settings/tokens", nil, 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b.origin = "" // headers come from the table
			p := b.do(tc.method, tc.path, "", nil, tc.hdr...)
			if p.status != tc.status {
				t.Errorf("status %d, want %d: %s", p.status, tc.status, p.body)
			}
		})
	}
}

// TestPrivateRepoPages checks every page of a private repository, and the
// pages that list repositories, for the owner, another user and a visitor.
func TestPrivateRepoPages(t *testing.T) {
	s := newSite(t)
	s.createRepo("alice", "hidden-gem", true)
	sha := s.commit("alice", "alice/hidden-gem", "add", map[string]string{"README.md": "# Hidden\n", "a.txt": "x\n"})
	s.createRepo("alice", "open", false)
	alice, bob, anon := s.browser(), s.browser(), s.browser()
	alice.signIn("alice")
	bob.signIn("bob")
	repoPages := []string{
		"/alice/hidden-gem", "/alice/hidden-gem/tree/main", "/alice/hidden-gem/blob/main/a.txt",
		"/alice/hidden-gem/commits/main", "/alice/hidden-gem/commit/" + sha, "/alice/hidden-gem/refs",
		"/alice/hidden-gem/insights", "/alice/hidden-gem/settings", "/alice/hidden-gem/upload/main",
		"/alice/hidden-gem/edit/main/a.txt",
	}
	for _, path := range repoPages {
		if p := alice.get(path); p.status != 200 {
			t.Errorf("owner: GET %s = %d", path, p.status)
		}
		for who, b := range map[string]*browser{"bob": bob, "visitor": anon} {
			p := b.get(path)
			if p.status != http.StatusNotFound {
				t.Errorf("%s: GET %s = %d, want 404", who, path, p.status)
			}
			// The sign-in link carries the visitor's own URL back; nothing else may name the repository.
			if strings.Contains(strings.ReplaceAll(p.body, "?next="+strings.ToLower(url.QueryEscape(path)), ""), "hidden-gem") {
				t.Errorf("%s: GET %s shows the private name", who, path)
			}
		}
	}
	for _, path := range []string{"/", "/models", "/models?search=hidden", "/alice", "/api/quicksearch?q=hidden"} {
		if p := alice.get(path); !strings.Contains(p.body, "hidden-gem") {
			t.Errorf("owner: %s does not list the private repository", path)
		}
		for who, b := range map[string]*browser{"bob": bob, "visitor": anon} {
			if p := b.get(path); p.status != 200 || strings.Contains(p.body, "hidden-gem") {
				t.Errorf("%s: %s = %d and lists the private repository: %v", who, path, p.status, strings.Contains(p.body, "hidden-gem"))
			}
		}
	}
}

// TestHostileCards renders cards that try to run script or break the page:
// nothing runnable survives, and the page after the card is intact.
func TestHostileCards(t *testing.T) {
	s := newSite(t)
	s.createRepo("alice", "evil", false)
	cards := map[string]struct {
		card   string
		banned []string
	}{
		"script":       {"<script>alert(1)</script>\n", []string{"<script>alert"}},
		"handler":      {"<img src=x onerror=\"alert(1)\">\n", []string{"onerror"}},
		"js link":      {"[x](javascript:alert(1)) <a href=\"javascript:alert(2)\">y</a>\n", []string{"javascript:"}},
		"iframe":       {"<iframe src=\"http://evil.example\"></iframe>\n", []string{"<iframe"}},
		"style":        {"<style>body{display:none}</style><p style=\"position:fixed\">x</p>\n", []string{"display:none", "position:fixed"}},
		"form":         {"<form action=\"/logout\" method=\"post\"><button>go</button></form>\n", []string{"action=\"/logout\""}},
		"svg script":   {"<svg><script>alert(1)</script></svg>\n", []string{"alert(1)"}},
		"unclosed":     {"<div><table><tr><td><b><a href=\"http://x.example\">open\n", nil},
		"huge table":   {"|" + strings.Repeat(" c |", 500) + "\n|" + strings.Repeat("---|", 500) + "\n", nil},
		"id clobber":   {"<a id=\"qs-input\" name=\"qs-list\">x</a>\n", []string{`id="qs-input" name`}},
		"closing tags": {"</article></aside></main></body></html><p>after</p>\n", nil},
		// Fenced code is highlighted after sanitising: its text stays text.
		"fenced script": {"```html\n<script>alert(1)</script><img src=x onerror=alert(2)>\n```\n", []string{"<script>alert", "<img src=x", "onerror=\""}},
		"fence info":    {"```js\" onclick=\"alert(1)\nlet a = 1\n```\n", []string{"onclick="}},
		"raw code html": {"<pre><code class=\"language-go\"><a href=\"javascript:alert(1)\" id=\"qs-input\">x</a></code></pre>\n", []string{"javascript:", `id="qs-input"`}},
	}
	for name, tc := range cards {
		t.Run(name, func(t *testing.T) {
			s.commit("alice", "alice/evil", name, map[string]string{"README.md": "# Card\n\n" + tc.card})
			p := s.browser().get("/alice/evil")
			if p.status != 200 {
				t.Fatalf("status %d", p.status)
			}
			article := between(p.body, `<article class="card-body"`, `</article>`)
			for _, bad := range tc.banned {
				if strings.Contains(article, bad) {
					t.Errorf("card contains %q:\n%s", bad, article)
				}
			}
			// The card must not swallow the sidebar: the <aside> is a
			// sibling of the <article> in the parsed page.
			doc, err := html.Parse(strings.NewReader(p.body))
			if err != nil {
				t.Fatal(err)
			}
			art, side := find(doc, "article"), find(doc, "aside")
			if art == nil || side == nil || art.Parent != side.Parent {
				t.Errorf("the card broke the page structure")
			}
			if p.header.Get("Content-Security-Policy") == "" {
				t.Error("no Content-Security-Policy")
			}
		})
	}
}

func between(s, from, to string) string {
	i := strings.Index(s, from)
	if i < 0 {
		return ""
	}
	s = s[i:]
	if j := strings.Index(s, to); j >= 0 {
		return s[:j]
	}
	return s
}

func find(n *html.Node, tag string) *html.Node {
	if n.Type == html.ElementNode && n.Data == tag {
		return n
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if f := find(c, tag); f != nil {
			return f
		}
	}
	return nil
}

func TestRepoPages(t *testing.T) {
	s := newSite(t)
	s.createRepo("alice", "bert", false)
	first := s.commit("alice", "alice/bert", "Add card", map[string]string{
		"README.md":   "---\nlicense: mit\npipeline_tag: fill-mask\nlanguage: en\n---\n# Bert card\n\nSee [config](config.json) and ![logo](img/logo.png).\n",
		"config.json": "{\"hidden\": 768}\n",
		"src/run.py":  "def main():\n    return 1\n",
		"weights.bin": "version https://git-lfs.github.com/spec/v1\noid sha256:" + strings.Repeat("ab", 32) + "\nsize 123456789\n",
	})
	second := s.commit("alice", "alice/bert", "Change run.py", map[string]string{"src/run.py": "def main():\n    return 2\n"})
	if p := s.apiDo("POST", "/api/models/alice/bert/tag/"+first, s.tokens["alice"], "application/json", []byte(`{"tag":"v1"}`)); p.status != 200 {
		t.Fatalf("tag: %d %s", p.status, p.body)
	}
	b := s.browser()
	tests := []struct {
		path string
		want []string
		not  []string
	}{
		{"/alice/bert", []string{"Bert card", `href="/alice/bert/blob/main/config.json"`, `src="/alice/bert/resolve/` + second + `/img/logo.png"`,
			`/models?pipeline_tag=fill-mask`, `/models?license=mit`, "snapshot_download(&#34;alice/bert&#34;)", "git clone " + s.url + "/alice/bert", "<svg class=\"chart\""}, nil},
		{"/alice/bert/tree/main", []string{"config.json", "src", "weights.bin", "LFS", "123.5 MB", "Change run.py"}, nil},
		{"/alice/bert/tree/v1/src", []string{"run.py", "aria-current=\"true\">v1<"}, nil},
		{"/alice/bert/blob/main/src/run.py", []string{"chroma", "return", "/alice/bert/raw/main/src/run.py"}, nil},
		{"/alice/bert/blob/v1/src/run.py", []string{"1"}, nil},
		{"/alice/bert/blob/main/weights.bin", []string{strings.Repeat("ab", 32), "123.5 MB"}, nil},
		{"/alice/bert/commits/main", []string{"Change run.py", "Add card", second[:7]}, nil},
		{"/alice/bert/commit/" + second, []string{"src/run.py", "return 1", "return 2", "+1", "−1"}, []string{"config.json"}},
		{"/alice/bert/commit/" + first, []string{"added", "Large file stored with LFS."}, nil},
		{"/alice/bert/refs", []string{"main", "v1"}, nil},
		{"/alice/bert/insights", []string{"Storage", "weights.bin"}, nil},
		{"/alice", []string{"alice/bert"}, nil},
		{"/acme", []string{"Members", "alice"}, nil},
	}
	for _, tc := range tests {
		p := b.get(tc.path)
		if p.status != 200 {
			t.Errorf("GET %s: %d", tc.path, p.status)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(p.body, w) {
				t.Errorf("GET %s: no %q", tc.path, w)
			}
		}
		for _, w := range tc.not {
			if strings.Contains(p.body, w) {
				t.Errorf("GET %s: has %q", tc.path, w)
			}
		}
	}
	// A renamed repository's pages move with it.
	if p := s.apiDo("POST", "/api/repos/move", s.tokens["alice"], "application/json", []byte(`{"fromRepo":"alice/bert","toRepo":"alice/bert2","type":"model"}`)); p.status != 200 {
		t.Fatalf("move: %d %s", p.status, p.body)
	}
	if p := b.get("/alice/bert/tree/main/src?x=1"); p.status != http.StatusMovedPermanently || p.header.Get("Location") != "/alice/bert2/tree/main/src?x=1" {
		t.Errorf("old name: %d to %q", p.status, p.header.Get("Location"))
	}
}

func TestListing(t *testing.T) {
	s := newSite(t)
	// Created in this order, so that among equals the newest (gpt, then
	// bert-fr) comes first.
	cards := []struct{ name, card string }{
		{"bert-en", "---\npipeline_tag: fill-mask\nlibrary_name: transformers\nlicense: mit\nlanguage: en\n---\n"},
		{"bert-fr", "---\npipeline_tag: fill-mask\nlibrary_name: transformers\nlicense: apache-2.0\nlanguage: fr\n---\n"},
		{"gpt", "---\npipeline_tag: text-generation\nlibrary_name: transformers\nlicense: mit\ntags: [chat]\n---\n"},
	}
	for _, c := range cards {
		s.createRepo("alice", c.name, false)
		s.commit("alice", "alice/"+c.name, "card", map[string]string{"README.md": c.card})
	}
	s.createRepo("bob", "other", false)
	s.apiDo("POST", "/api/models/alice/gpt/like", s.tokens["bob"], "", nil)
	b := s.browser()
	tests := []struct {
		query string
		want  []string // in order
		not   []string
	}{
		{"", []string{"alice/gpt"}, nil}, // trending first: it has a like
		{"?search=bert", []string{"alice/bert-fr", "alice/bert-en"}, []string{"alice/gpt", "bob/other"}},
		{"?search=BERT-E", []string{"alice/bert-en"}, []string{"alice/bert-fr"}},
		{"?pipeline_tag=fill-mask", []string{"alice/bert-fr", "alice/bert-en"}, []string{"alice/gpt"}},
		{"?library=transformers&license=mit", []string{"alice/gpt", "alice/bert-en"}, []string{"alice/bert-fr", "bob/other"}},
		{"?language=fr", []string{"alice/bert-fr"}, []string{"alice/bert-en"}},
		{"?tag=chat", []string{"alice/gpt"}, []string{"alice/bert-en"}},
		{"?author=bob", []string{"bob/other"}, []string{"alice/gpt"}},
		{"?sort=likes", []string{"alice/gpt"}, nil},
		{"?sort=created", []string{"bob/other", "alice/"}, nil},
		{"?sort=updated&author=alice", []string{"alice/"}, []string{"bob/other"}},
		{"?sort=downloads", []string{"4 Models"}, nil},
		{"?p=2", []string{"4 Models", "Nothing matches"}, nil}, // one page of 30 only
		{"?sort=nonsense", []string{"4 Models"}, nil},
	}
	for _, tc := range tests {
		p := b.get("/models" + tc.query)
		if p.status != 200 {
			t.Errorf("/models%s: %d", tc.query, p.status)
			continue
		}
		results := between(p.body, `id="results-title"`, "</section>")
		at := 0
		for _, w := range tc.want {
			i := strings.Index(results[at:], w)
			if i < 0 {
				t.Errorf("/models%s: no %q in order", tc.query, w)
				break
			}
			at += i + len(w)
		}
		for _, w := range tc.not {
			if strings.Contains(results, w) {
				t.Errorf("/models%s: lists %q", tc.query, w)
			}
		}
	}
	// Facets list the tags with counts, and active ones link to removing them.
	p := b.get("/models?license=mit")
	for _, w := range []string{`fill-mask <span class="k">2</span>`, `transformers <span class="k">3</span>`, `aria-label="Remove filter mit"`} {
		if !strings.Contains(p.body, w) {
			t.Errorf("facets: no %q", w)
		}
	}
}

func TestTokensPage(t *testing.T) {
	s := newSite(t)
	b := s.browser()
	if p := b.get("/settings/tokens"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/login?next=") {
		t.Errorf("tokens page for a visitor: %d %q", p.status, p.header.Get("Location"))
	}
	b.signIn("alice")
	p := b.form("/settings/tokens", url.Values{"name": {"laptop"}, "role": {"write"}})
	if p.status != 200 {
		t.Fatalf("create: %d", p.status)
	}
	token := between(p.body, "hf_", "<")
	if len(token) != 37 {
		t.Fatalf("no token shown: %q", token)
	}
	if p := s.apiDo("GET", "/api/whoami-v2", token, "", nil); p.status != 200 {
		t.Fatalf("the new token does not work: %d", p.status)
	}
	if p := b.form("/settings/tokens", url.Values{"name": {""}, "role": {"write"}}); p.status != http.StatusBadRequest {
		t.Errorf("token without a name: %d", p.status)
	}
	alice, _ := s.meta.UserByName(context.Background(), "alice")
	list, _ := s.meta.ListTokens(context.Background(), alice.ID)
	var id int64
	for _, tk := range list {
		if tk.DisplayName == "laptop" {
			id = tk.ID
		}
	}
	// Bob cannot revoke alice's token.
	bob := s.browser()
	bob.signIn("bob")
	if p := bob.form("/settings/tokens/"+itoa(id)+"/delete", nil); p.status != http.StatusNotFound {
		t.Errorf("bob revoking alice's token: %d", p.status)
	}
	if p := b.form("/settings/tokens/"+itoa(id)+"/delete", nil); p.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", p.status)
	}
	if p := s.apiDo("GET", "/api/whoami-v2", token, "", nil); p.status != http.StatusUnauthorized {
		t.Errorf("revoked token still works: %d", p.status)
	}
}

func TestChangePassword(t *testing.T) {
	s := newSite(t)
	b, other := s.browser(), s.browser()
	b.signIn("alice")
	other.signIn("alice")
	tests := []struct {
		current, next, confirm string
		status                 int
	}{
		{"wrong", "new-password-1", "new-password-1", 400},
		{"password-alice", "short", "short", 400},
		{"password-alice", "new-password-1", "new-password-2", 400},
		{"password-alice", "new-password-1", "new-password-1", 200},
	}
	for _, tc := range tests {
		p := b.form("/settings/password", url.Values{"current": {tc.current}, "new": {tc.next}, "confirm": {tc.confirm}})
		if p.status != tc.status {
			t.Errorf("change %q→%q: %d, want %d", tc.current, tc.next, p.status, tc.status)
		}
	}
	if p := b.get("/api/whoami-v2"); p.status != 200 {
		t.Errorf("the browser that changed the password was signed out: %d", p.status)
	}
	if p := other.get("/api/whoami-v2"); p.status != http.StatusUnauthorized {
		t.Errorf("another session survived the password change: %d", p.status)
	}
	if p := s.browser().form("/login", url.Values{"username": {"alice"}, "password": {"new-password-1"}}); p.status != http.StatusSeeOther {
		t.Errorf("sign in with the new password: %d", p.status)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestDatasetViewerTab checks the Viewer tab: datasets only, framing the
// viewer's page for that dataset, and hidden like the rest of a private
// dataset.
func TestDatasetViewerTab(t *testing.T) {
	s := newSite(t)
	for _, name := range []string{"rows", "secret-rows"} {
		body, _ := json.Marshal(map[string]any{"name": name, "type": "dataset", "private": name == "secret-rows"})
		if p := s.apiDo("POST", "/api/repos/create", s.tokens["alice"], "application/json", body); p.status != 200 {
			t.Fatalf("create dataset %s: %d %s", name, p.status, p.body)
		}
	}
	s.createRepo("alice", "m", false)
	alice, bob, anon := s.browser(), s.browser(), s.browser()
	alice.signIn("alice")
	bob.signIn("bob")

	p := anon.get("/datasets/alice/rows")
	if !strings.Contains(p.body, `href="/datasets/alice/rows/viewer"`) {
		t.Errorf("the dataset card has no Viewer tab")
	}
	p = anon.get("/datasets/alice/rows/viewer")
	if p.status != 200 {
		t.Fatalf("viewer tab: %d", p.status)
	}
	frame := find(mustParse(t, p.body), "iframe")
	if frame == nil {
		t.Fatalf("viewer tab has no frame:\n%s", p.body)
	}
	if src := attr(frame, "src"); src != "/datasets-server/ui/?dataset=alice%2frows" && src != "/datasets-server/ui/?dataset=alice%2Frows" {
		t.Errorf("frame src %q", src)
	}
	if attr(frame, "title") == "" {
		t.Error("the frame has no title")
	}
	if !strings.Contains(p.body, `aria-current="page">Viewer<`) {
		t.Error("the Viewer tab is not marked current")
	}

	// Models have no viewer.
	if p := anon.get("/alice/m"); strings.Contains(p.body, "/viewer\"") {
		t.Error("a model page links to a viewer")
	}
	if p := anon.get("/alice/m/viewer"); p.status != http.StatusNotFound {
		t.Errorf("model viewer: %d, want 404", p.status)
	}

	// A private dataset's viewer is its owner's only.
	if p := alice.get("/datasets/alice/secret-rows/viewer"); p.status != 200 {
		t.Errorf("owner: private viewer %d", p.status)
	}
	for who, b := range map[string]*browser{"bob": bob, "visitor": anon} {
		p := b.get("/datasets/alice/secret-rows/viewer")
		if p.status != http.StatusNotFound || strings.Contains(p.body, "datasets-server") {
			t.Errorf("%s: private viewer %d, frames the viewer: %v", who, p.status, strings.Contains(p.body, "datasets-server"))
		}
	}
}

func mustParse(t *testing.T, body string) *html.Node {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// TestCardCodeHighlighted checks that fenced code in a card is coloured
// with the file view's classes, while unknown languages and inline code
// stay plain.
func TestCardCodeHighlighted(t *testing.T) {
	s := newSite(t)
	s.createRepo("alice", "coded", false)
	s.commit("alice", "alice/coded", "card", map[string]string{"README.md": "# Code\n\n" +
		"```python\ndef main():\n    return \"<b>\"\n```\n\n" +
		"```no-such-language\nplain <i>text</i>\n```\n\nInline `def x` stays.\n"})
	p := s.browser().get("/alice/coded")
	article := between(p.body, `<article class="card-body"`, `</article>`)
	for _, want := range []string{
		`<pre class="chroma"><code class="language-python"><span class="k">def</span>`,
		`<span class="s2">&#34;&lt;b&gt;&#34;</span>`,
		`<pre><code class="language-no-such-language">plain &lt;i&gt;text&lt;/i&gt;`,
		`<code>def x</code>`,
	} {
		if !strings.Contains(article, want) {
			t.Errorf("card lacks %s:\n%s", want, article)
		}
	}
}

// TestSignInLimits checks that failed sign-ins are limited per account and
// per client address, that a refusal says when to come back, and that the
// owner's success starts the account's count again.
func TestSignInLimits(t *testing.T) {
	s := newSite(t)
	b := s.browser()
	try := func(user, password, addr string) page {
		t.Helper()
		v := url.Values{"username": {user}, "password": {password}, "next": {"/"}}
		return b.do("POST", "/login", "application/x-www-form-urlencoded", []byte(v.Encode()), "X-Forwarded-For", addr)
	}
	// The account limit: ten failures from ten addresses, then even the
	// right password is refused, for alice only.
	for i := 0; i < 9; i++ {
		if p := try("alice", "wrong", "192.0.2."+itoa(int64(i))); p.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d", i+1, p.status)
		}
	}
	if p := try("alice", "password-alice", "192.0.2.50"); p.status != http.StatusSeeOther {
		t.Fatalf("the owner after nine failures: %d", p.status)
	}
	for i := 0; i < 10; i++ {
		if p := try("Alice", "wrong", "192.0.2."+itoa(int64(100+i))); p.status != http.StatusUnauthorized {
			t.Fatalf("failure %d after the count restarted: status %d", i+1, p.status)
		}
	}
	p := try("alice", "password-alice", "192.0.2.200")
	if p.status != http.StatusTooManyRequests {
		t.Fatalf("eleventh attempt: status %d, want 429", p.status)
	}
	if secs, err := strconv.Atoi(p.header.Get("Retry-After")); err != nil || secs < 1 || secs > 15*60 {
		t.Errorf("Retry-After %q", p.header.Get("Retry-After"))
	}
	if !strings.Contains(p.body, "Too many failed sign-ins") || !strings.Contains(p.body, `role="alert"`) {
		t.Errorf("the refusal does not say why:\n%s", p.body)
	}
	if p.header.Get("Set-Cookie") != "" {
		t.Error("a refused sign-in set a cookie")
	}
	if p := try("bob", "password-bob", "192.0.2.200"); p.status != http.StatusSeeOther {
		t.Errorf("bob from the same address: %d", p.status)
	}

	// The address limit: thirty failures on any names from one address,
	// then that address is refused for everyone and others are not.
	for i := 0; i < 30; i++ {
		if p := try("nobody-"+itoa(int64(i)), "x", "2001:db8:1:2::"+itoa(int64(i+1))); p.status != http.StatusUnauthorized {
			t.Fatalf("address failure %d: status %d", i+1, p.status)
		}
	}
	if p := try("bob", "password-bob", "2001:db8:1:2:ffff::1"); p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") == "" {
		t.Errorf("same /64 after thirty failures: %d, Retry-After %q", p.status, p.header.Get("Retry-After"))
	}
	if p := try("bob", "password-bob", "2001:db8:1:3::1"); p.status != http.StatusSeeOther {
		t.Errorf("another address: %d", p.status)
	}
}

// TestOrgMembers walks the members page of acme: who may see it, who may
// change it, the changes themselves (with their effect on access to the
// organisation's private repositories), and the refusals.
func TestOrgMembers(t *testing.T) {
	s := newSite(t)
	body, _ := json.Marshal(map[string]any{"name": "plans", "organization": "acme", "private": true})
	if p := s.apiDo("POST", "/api/repos/create", s.tokens["alice"], "application/json", body); p.status != 200 {
		t.Fatalf("create acme/plans: %d %s", p.status, p.body)
	}
	const members = "/organizations/acme/members"
	alice, bob, anon := s.browser(), s.browser(), s.browser()
	alice.signIn("alice")
	bob.signIn("bob")
	change := func(b *browser, action, user, role string) page {
		t.Helper()
		return b.form(members, url.Values{"action": {action}, "username": {user}, "role": {role}})
	}

	if p := anon.get(members); p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/login") {
		t.Errorf("visitor: %d to %q, want a sign-in redirect", p.status, p.header.Get("Location"))
	}
	if p := bob.get(members); p.status != http.StatusForbidden {
		t.Errorf("non-member: %d, want 403", p.status)
	}
	if p := change(bob, "add", "bob", "admin"); p.status != http.StatusForbidden {
		t.Errorf("non-member adding himself: %d, want 403", p.status)
	}
	if p := anon.get("/acme"); strings.Contains(p.body, members) {
		t.Error("the profile links visitors to the members page")
	}
	if p := alice.get("/acme"); !strings.Contains(p.body, `href="`+members+`"`) {
		t.Error("the profile does not link its admin to the members page")
	}
	p := alice.get(members)
	if p.status != 200 || !strings.Contains(p.body, "Add member") || !strings.Contains(p.body, `aria-label="Remove alice"`) {
		t.Fatalf("admin's page: %d\n%s", p.status, p.body)
	}

	// Adding bob gives him the organisation's private repositories at once.
	if p := bob.get("/acme/plans"); p.status != http.StatusNotFound {
		t.Errorf("bob before joining: %d", p.status)
	}
	p = change(alice, "add", "bob", "read")
	if p.status != http.StatusSeeOther || p.header.Get("Location") != members+"?done=added" {
		t.Fatalf("add bob: %d to %q\n%s", p.status, p.header.Get("Location"), p.body)
	}
	if p := alice.get(members + "?done=added"); !strings.Contains(p.body, "The member was added.") || !strings.Contains(p.body, `<option value="read" selected>`) {
		t.Errorf("after adding bob:\n%s", p.body)
	}
	if p := alice.get(members + "?done=Your+account+is+locked"); strings.Contains(p.body, "locked") {
		t.Error("the page shows text from its URL")
	}
	if p := bob.get("/acme/plans"); p.status != 200 {
		t.Errorf("bob after joining: %d", p.status)
	}
	p = bob.get(members)
	if p.status != 200 || strings.Contains(p.body, "Add member") || strings.Contains(p.body, "<select") || !strings.Contains(p.body, `<span class="badge">admin</span>`) {
		t.Errorf("a read member's page: %d, or it offers changes:\n%s", p.status, p.body)
	}
	if p := change(bob, "role", "bob", "admin"); p.status != http.StatusForbidden {
		t.Errorf("read member promoting himself: %d, want 403", p.status)
	}

	refusals := []struct{ action, user, role, want string }{
		{"add", "nobody", "read", "There is no user named nobody."},
		{"add", "acme", "read", "There is no user named acme."},
		{"add", "bob", "write", "already a member"},
		{"role", "bob", "owner", "Choose admin, write, contributor or read."},
		{"role", "alice", "write", "only administrator"},
		{"remove", "alice", "", "only administrator"},
		{"remove", "nobody", "", "no user named"},
	}
	for _, tc := range refusals {
		p := change(alice, tc.action, tc.user, tc.role)
		if p.status != http.StatusBadRequest || !strings.Contains(p.body, tc.want) {
			t.Errorf("%s %s %s: %d, want 400 with %q", tc.action, tc.user, tc.role, p.status, tc.want)
		}
	}

	// With a second admin, alice may step down, and then manages nothing.
	if p := change(alice, "role", "bob", "admin"); p.status != http.StatusSeeOther {
		t.Fatalf("promote bob: %d %s", p.status, p.body)
	}
	if p := change(alice, "role", "alice", "write"); p.status != http.StatusSeeOther {
		t.Fatalf("alice steps down: %d %s", p.status, p.body)
	}
	if p := change(alice, "remove", "bob", ""); p.status != http.StatusForbidden {
		t.Errorf("a write member removing an admin: %d, want 403", p.status)
	}
	if p := change(bob, "remove", "alice", ""); p.status != http.StatusSeeOther {
		t.Fatalf("bob removes alice: %d %s", p.status, p.body)
	}
	if p := alice.get("/acme/plans"); p.status != http.StatusNotFound {
		t.Errorf("alice after removal: %d, want 404", p.status)
	}
	if p := alice.get(members); p.status != http.StatusForbidden {
		t.Errorf("alice's page after removal: %d, want 403", p.status)
	}
}

// TestRefsPageForms checks that writers get the forms and delete buttons
// of the branches page (none for the default branch) and readers do not.
func TestRefsPageForms(t *testing.T) {
	s := newSite(t)
	s.createRepo("alice", "m", false)
	s.commit("alice", "alice/m", "first", map[string]string{"a.txt": "a\n"})
	if p := s.apiDo("POST", "/api/models/alice/m/branch/dev", s.tokens["alice"], "application/json", []byte(`{}`)); p.status != 200 {
		t.Fatalf("branch: %d %s", p.status, p.body)
	}
	if p := s.apiDo("POST", "/api/models/alice/m/tag/main", s.tokens["alice"], "application/json", []byte(`{"tag":"v1"}`)); p.status != 200 {
		t.Fatalf("tag: %d %s", p.status, p.body)
	}
	alice, bob := s.browser(), s.browser()
	alice.signIn("alice")
	bob.signIn("bob")
	p := alice.get("/alice/m/refs")
	for _, want := range []string{`data-api="/api/models/alice/m"`, "Create branch", "Create tag",
		`aria-label="Delete branch dev"`, `aria-label="Delete tag v1"`, `for="branch-name"`, `for="tag-rev"`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("writer's page lacks %s", want)
		}
	}
	if strings.Contains(p.body, `aria-label="Delete branch main"`) {
		t.Error("the default branch can be deleted from the page")
	}
	p = bob.get("/alice/m/refs")
	if p.status != 200 || strings.Contains(p.body, "data-refs") || strings.Contains(p.body, "data-delete-ref") {
		t.Errorf("reader's page: %d, offers changes: %v", p.status, strings.Contains(p.body, "data-delete-ref"))
	}
}

func TestGatedRepoPages(t *testing.T) {
	s := newSite(t)
	s.createRepo("alice", "gated", false)
	sha := s.commit("alice", "alice/gated", "add", map[string]string{"README.md": "# Gated\n", "a.txt": "secret\n"})
	if p := s.apiDo("PUT", "/api/models/alice/gated/settings", s.tokens["alice"], "application/json", []byte(`{"gated":"manual"}`)); p.status != 200 {
		t.Fatalf("gating: %d %s", p.status, p.body)
	}
	alice, bob := s.browser(), s.browser()
	alice.signIn("alice")
	bob.signIn("bob")
	for _, path := range []string{"/alice/gated/blob/main/a.txt", "/alice/gated/commit/" + sha} {
		if p := alice.get(path); p.status != 200 {
			t.Errorf("owner: GET %s = %d", path, p.status)
		}
		if p := bob.get(path); p.status != 403 || strings.Contains(p.body, "secret") {
			t.Errorf("other user: GET %s = %d (content shown: %t)", path, p.status, strings.Contains(p.body, "secret"))
		}
	}
	// The card and the file list stay visible, as on the Hub.
	for _, path := range []string{"/alice/gated", "/alice/gated/tree/main"} {
		if p := bob.get(path); p.status != 200 {
			t.Errorf("other user: GET %s = %d", path, p.status)
		}
	}
}

// createSpace creates a public Space with the Hub's starter files.
func (s *site) createSpace(owner, name, sdk string) {
	s.t.Helper()
	body, _ := json.Marshal(map[string]any{"name": name, "organization": owner, "type": "space", "sdk": sdk})
	if p := s.apiDo("POST", "/api/repos/create", s.tokens["alice"], "application/json", body); p.status != 200 {
		s.t.Fatalf("create space %s/%s: %d %s", owner, name, p.status, p.body)
	}
}

// setStage records the stage of a Space's app, at its current revision.
func (s *site) setStage(id, stage, msg string) {
	s.t.Helper()
	ns, name, _ := strings.Cut(id, "/")
	repo, err := s.meta.RepoByName(context.Background(), haven.Space, ns, name)
	if err != nil {
		s.t.Fatal(err)
	}
	st := meta.SpaceState{RepoID: repo.ID, Stage: stage, ErrorMessage: msg, SHA: repo.SHA}
	if err := s.meta.PutSpaceState(context.Background(), &st); err != nil {
		s.t.Fatal(err)
	}
}

// The Spaces service is what the pages show Spaces with.
var _ web.SpaceRuntime = (*spaces.Service)(nil)

// TestSpaceAppPage checks the App tab in each stage: the badge, the frame
// with the app and what is said instead of it.
func TestSpaceAppPage(t *testing.T) {
	s := newSite(t)
	s.createSpace("alice", "demo", "gradio")
	s.createSpace("alice", "site", "static")
	b := s.browser()
	tests := []struct {
		space, stage, msg string
		badge             string // the badge's class
		framed            bool   // the frame loads the app
		want, not         []string
	}{
		{"alice/site", "", "", "running", true, nil, []string{">Logs<", "This Space"}},
		{"alice/demo", "RUNNING", "", "running", true, []string{">Logs<"}, nil},
		{"alice/demo", "RUNNING_BUILDING", "", "busy", true, []string{"A new revision is building"}, nil},
		{"alice/demo", "BUILDING", "", "busy", false, []string{"This Space is building", `class="spinner"`}, nil},
		{"alice/demo", "APP_STARTING", "", "busy", false, []string{"This Space is starting"}, nil},
		{"alice/demo", "SLEEPING", "", "idle", true, []string{"waking up"}, nil},
		{"alice/demo", "PAUSED", "", "idle", false, []string{"paused by its owner"}, []string{`class="spinner"`}},
		{"alice/demo", "RUNTIME_ERROR", "Exit code: 1\n\nContainer logs:\n\nValueError: <boom>", "error", false,
			[]string{"This Space has an error (RUNTIME_ERROR)", "ValueError: &lt;boom&gt;", `href="/spaces/alice/demo/logs"`}, []string{"<boom>"}},
		{"alice/demo", "BUILD_ERROR", "Build failed: no such package", "error", false, []string{"Build failed: no such package"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.space+" "+tc.stage, func(t *testing.T) {
			if tc.stage != "" {
				s.setStage(tc.space, tc.stage, tc.msg)
			}
			p := b.get("/spaces/" + tc.space)
			if p.status != 200 {
				t.Fatalf("status %d", p.status)
			}
			doc := mustParse(t, p.body)
			badge := findAttr(doc, "data-stage-badge")
			if badge == nil {
				t.Fatal("no stage badge")
			}
			if got := attr(badge, "class"); got != "badge stage "+tc.badge {
				t.Errorf("badge class %q, want %q", got, "badge stage "+tc.badge)
			}
			frame := find(doc, "iframe")
			if frame == nil {
				t.Fatal("no frame")
			}
			host := s.url + "/-/spaces/" + tc.space + "/"
			if got := attr(frame, "src"); tc.framed != (got == host) {
				t.Errorf("frame src %q, want framed=%v (%s)", got, tc.framed, host)
			}
			if attr(frame, "data-src") != host {
				t.Errorf("frame data-src %q, want %q", attr(frame, "data-src"), host)
			}
			for _, w := range tc.want {
				if !strings.Contains(p.body, w) {
					t.Errorf("no %q", w)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(p.body, w) {
					t.Errorf("has %q", w)
				}
			}
		})
	}
	// The frame's source is the app: a static Space serves its index.html.
	if p := b.get("/-/spaces/alice/site/"); p.status != 200 || !strings.Contains(p.body, "<html") {
		t.Errorf("static app: %d %.200s", p.status, p.body)
	}
	// Logs are for Spaces that build; a static one has none.
	if p := b.get("/spaces/alice/demo/logs"); p.status != 200 || !strings.Contains(p.body, `data-log="/api/spaces/alice/demo/logs/build"`) ||
		!strings.Contains(p.body, `data-log="/api/spaces/alice/demo/logs/run"`) {
		t.Errorf("logs page: %d", p.status)
	}
	if p := b.get("/spaces/alice/site/logs"); p.status != http.StatusNotFound {
		t.Errorf("logs of a static Space: %d, want 404", p.status)
	}
	// Models keep their card.
	s.createRepo("alice", "m", false)
	if p := b.get("/alice/m"); p.status != 200 || strings.Contains(p.body, "data-stage-badge") || strings.Contains(p.body, "<iframe") {
		t.Errorf("model page: %d, or shows a Space's parts", p.status)
	}
}

// TestSpaceSettings checks who sees the settings of a Space, that secret
// values never reach a page, and that the page's script may call the
// Spaces API with the session.
func TestSpaceSettings(t *testing.T) {
	s := newSite(t)
	ctx := context.Background()
	s.createSpace("acme", "demo", "gradio")
	s.createSpace("acme", "site", "static")
	bobUser, _ := s.meta.UserByName(ctx, "bob")
	acme, _ := s.meta.UserByName(ctx, "acme")
	for _, id := range []string{"acme/demo", "acme/site"} {
		for _, env := range []string{"secrets", "variables"} {
			body := `{"key":"API_KEY","value":"never-shown-4711","description":"for the demo"}`
			if env == "variables" {
				body = `{"key":"MODEL","value":"acme/tiny-model"}`
			}
			if p := s.apiDo("POST", "/api/spaces/"+id+"/"+env, s.tokens["alice"], "application/json", []byte(body)); p.status != 200 {
				t.Fatalf("%s of %s: %d %s", env, id, p.status, p.body)
			}
		}
	}
	s.setStage("acme/demo", "RUNNING", "")
	alice, bob, anon := s.browser(), s.browser(), s.browser()
	alice.signIn("alice")
	bob.signIn("bob")
	as := func(b *browser) func() *browser { return func() *browser { return b } }
	// bob becomes a writer of acme, and signs in again to be one.
	writer := func() *browser {
		if err := s.meta.AddMember(ctx, acme.ID, bobUser.ID, meta.RoleWrite); err != nil {
			t.Fatal(err)
		}
		b := s.browser()
		b.signIn("bob")
		return b
	}
	tests := []struct {
		name       string
		who        func() *browser
		space      string
		status     int
		tab        bool     // the Settings tab is shown
		want, not  []string // on the settings page
		sleepWrite int      // status of a change of sleep time with the session
	}{
		{"visitor", as(anon), "acme/demo", 0, false, nil, nil, http.StatusUnauthorized},
		{"reader", as(bob), "acme/demo", http.StatusForbidden, false, nil, nil, http.StatusForbidden},
		{"admin", as(alice), "acme/demo", 200, true,
			[]string{"API_KEY", "for the demo", "MODEL", "acme/tiny-model", `value="cpu-upgrade"`, `value="-1"`, `data-space-action="factory"`, `data-space-action="pause"`, "Delete this repository"},
			nil, 200},
		{"admin, static", as(alice), "acme/site", 200, true, []string{"API_KEY", "MODEL"}, []string{"data-space-hardware", "data-space-action"}, 0},
		{"writer", writer, "acme/demo", 200, true, []string{"API_KEY", "data-space-hardware", "data-space-action=\"restart\""},
			[]string{"Delete this repository", "data-visibility"}, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.who()
			app := b.get("/spaces/" + tc.space)
			if app.status != 200 {
				t.Fatalf("app page: %d", app.status)
			}
			settingsLink := `href="/spaces/` + tc.space + `/settings"`
			if strings.Contains(app.body, settingsLink) != tc.tab {
				t.Errorf("settings tab shown: %v, want %v", !tc.tab, tc.tab)
			}
			p := b.get("/spaces/" + tc.space + "/settings")
			if tc.status == 0 {
				if p.status != http.StatusSeeOther {
					t.Errorf("settings: %d, want a sign-in redirect", p.status)
				}
			} else if p.status != tc.status {
				t.Errorf("settings: %d, want %d", p.status, tc.status)
			}
			for _, body := range []string{app.body, p.body} {
				if strings.Contains(body, "never-shown-4711") {
					t.Fatal("a secret value is on a page")
				}
			}
			if p.status == 200 && !strings.Contains(p.body, "data-space-settings") {
				t.Error("no Space settings")
			}
			for _, w := range tc.want {
				if !strings.Contains(p.body, w) {
					t.Errorf("settings: no %q", w)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(p.body, w) {
					t.Errorf("settings: has %q", w)
				}
			}
			if tc.sleepWrite != 0 {
				r := b.do("POST", "/api/spaces/"+tc.space+"/sleeptime", "application/json", []byte(`{"seconds":3600}`))
				if r.status != tc.sleepWrite {
					t.Errorf("sleep time with the session: %d, want %d: %s", r.status, tc.sleepWrite, r.body)
				}
			}
		})
	}
	// The sleep time set through the session shows as chosen.
	if p := alice.get("/spaces/acme/demo/settings"); !strings.Contains(p.body, `<option value="3600" selected>`) {
		t.Error("the new sleep time is not selected")
	}
}

// TestSpaceListing checks that /spaces shows the stage of each app.
func TestSpaceListing(t *testing.T) {
	s := newSite(t)
	s.createSpace("alice", "broken", "gradio")
	s.createSpace("alice", "site", "static")
	s.setStage("alice/broken", "BUILD_ERROR", "no")
	p := s.browser().get("/spaces")
	doc := mustParse(t, p.body)
	got := map[string]string{}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "li" && attr(n, "class") == "repo-item" {
			name := strings.TrimSpace(textOf(find(n, "a")))
			if b := findAttr(n, "data-stage-badge"); b != nil {
				got[name] = attr(b, "class") + ":" + textOf(b)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	want := map[string]string{"alice/broken": "badge stage error:Build error", "alice/site": "badge stage running:Running"}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: badge %q, want %q", name, got[name], w)
		}
	}
}

// findAttr finds the first element under n with the attribute key.
func findAttr(n *html.Node, key string) *html.Node {
	if n.Type == html.ElementNode {
		for _, a := range n.Attr {
			if a.Key == key {
				return n
			}
		}
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if f := findAttr(c, key); f != nil {
			return f
		}
	}
	return nil
}

func textOf(n *html.Node) string {
	if n == nil {
		return ""
	}
	if n.Type == html.TextNode {
		return n.Data
	}
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		b.WriteString(textOf(c))
	}
	return b.String()
}
