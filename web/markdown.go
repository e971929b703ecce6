package web

import (
	"bytes"
	"html/template"
	"net/url"
	"path"
	"regexp"
	"strings"
	"sync"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	gmhtml "github.com/yuin/goldmark/renderer/html"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// maxCardBody bounds the Markdown rendered for a card; beyond it the page
// shows the start and a note.
const maxCardBody = 1 << 20

// markdown converts GitHub-flavoured Markdown. Raw HTML passes through it,
// because cards use it (centred logos, badges, details); sanitize decides
// what of it survives.
var markdown = goldmark.New(
	goldmark.WithExtensions(extension.GFM),
	goldmark.WithRendererOptions(gmhtml.WithUnsafe()),
)

// cardPolicy is the user-generated-content policy plus the language class
// of fenced code blocks.
var cardPolicy = func() *bluemonday.Policy {
	p := bluemonday.UGCPolicy()
	p.AllowAttrs("class").Matching(regexp.MustCompile(`^language-[\w+#.-]{1,40}$`)).OnElements("code")
	return p
}()

// renderCard turns a card body into HTML that can neither run script nor
// break the page around it: Markdown, then the sanitiser, then a pass that
// re-balances the markup (so an unclosed tag cannot swallow the page),
// points relative links into the repository and keeps ids from clashing
// with the page's own.
func renderCard(body []byte, blobBase, resolveBase string) template.HTML {
	truncated := false
	if len(body) > maxCardBody {
		body, truncated = body[:maxCardBody], true
	}
	var md bytes.Buffer
	if err := markdown.Convert(body, &md); err != nil {
		return template.HTML("<p>This card could not be rendered.</p>")
	}
	clean := cardPolicy.SanitizeBytes(md.Bytes())
	out := rebalance(clean, blobBase, resolveBase)
	if truncated {
		out += "<p><em>This card is too long to show in full.</em></p>"
	}
	return template.HTML(out) // sanitised and re-serialised above
}

// rebalance parses sanitised HTML as the content of a <div> and writes it
// out again, closing whatever was left open.
func rebalance(b []byte, blobBase, resolveBase string) string {
	ctx := &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div}
	nodes, err := html.ParseFragment(bytes.NewReader(b), ctx)
	if err != nil {
		return template.HTMLEscapeString(string(b))
	}
	var out strings.Builder
	for _, n := range nodes {
		fixNode(n, blobBase, resolveBase)
		if err := html.Render(&out, n); err != nil {
			return template.HTMLEscapeString(string(b))
		}
	}
	return out.String()
}

func fixNode(n *html.Node, blobBase, resolveBase string) {
	if n.Type == html.ElementNode {
		for i := range n.Attr {
			a := &n.Attr[i]
			switch {
			case a.Key == "id" || a.Key == "name":
				a.Val = "uc-" + a.Val
			case a.Key == "href" && n.DataAtom == atom.A:
				if strings.HasPrefix(a.Val, "#") {
					a.Val = "#uc-" + a.Val[1:]
				} else {
					a.Val = repoRelative(a.Val, blobBase)
				}
			case a.Key == "src" && n.DataAtom == atom.Img:
				a.Val = repoRelative(a.Val, resolveBase)
			}
		}
		if n.DataAtom == atom.Img {
			n.Attr = append(n.Attr, html.Attribute{Key: "loading", Val: "lazy"})
		}
		if n.DataAtom == atom.Code && highlightCardBlock(n) {
			return // its children are now the highlighter's, with nothing to fix
		}
		if n.DataAtom == atom.Table {
			// A wide table scrolls inside its own box instead of widening the page.
			wrap := &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div,
				Attr: []html.Attribute{{Key: "class", Val: "table-wrap"}}}
			if p := n.Parent; p != nil {
				p.InsertBefore(wrap, n)
				p.RemoveChild(n)
				wrap.AppendChild(n)
			}
		}
	}
	for c := n.FirstChild; c != nil; {
		next := c.NextSibling
		fixNode(c, blobBase, resolveBase)
		c = next
	}
}

// repoRelative points a relative URL at a file of the repository: base is
// the escaped "/{repo}/blob/{rev}" (links) or ".../resolve/{rev}" (images).
// Absolute URLs, site paths and anything with a scheme are left alone; the
// sanitiser has already removed unsafe schemes.
func repoRelative(v, base string) string {
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "" || u.Host != "" || strings.HasPrefix(u.Path, "/") || u.Path == "" {
		return v
	}
	clean := strings.TrimPrefix(path.Clean("/"+u.Path), "/")
	if clean == "" {
		return v
	}
	var esc []string
	for _, seg := range strings.Split(clean, "/") {
		esc = append(esc, url.PathEscape(seg))
	}
	out := base + "/" + strings.Join(esc, "/")
	if u.RawQuery != "" {
		out += "?" + u.RawQuery
	}
	if u.Fragment != "" {
		out += "#" + url.PathEscape(u.Fragment)
	}
	return out
}

// cardCache keeps rendered cards by repository and commit, since a card
// only changes with a commit. It is cleared when it grows past its bound.
type cardCache struct {
	mu sync.Mutex
	m  map[cardKey]template.HTML
}

type cardKey struct {
	repo int64
	sha  string
	base string
}

const cardCacheMax = 512

func (c *cardCache) get(k cardKey) (template.HTML, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok
}

func (c *cardCache) put(k cardKey, v template.HTML) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= cardCacheMax {
		c.m = map[cardKey]template.HTML{}
	}
	c.m[k] = v
}
