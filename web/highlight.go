package web

import (
	"bytes"
	"html/template"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/alecthomas/chroma/v2"
	chromahtml "github.com/alecthomas/chroma/v2/formatters/html"
	"github.com/alecthomas/chroma/v2/lexers"
	"github.com/alecthomas/chroma/v2/styles"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// maxHighlight is the largest file shown with syntax highlighting; larger
// text files are shown plain, and files past maxTextView not at all.
const (
	maxHighlight = 256 << 10
	maxTextView  = 2 << 20
)

// codeFormatter writes class-based markup, so that the colours live in the
// stylesheet (highlightCSS) and follow the light or dark theme.
var codeFormatter = chromahtml.New(
	chromahtml.WithClasses(true),
	chromahtml.WithLineNumbers(true),
	chromahtml.LineNumbersInTable(true),
	chromahtml.WithLinkableLineNumbers(true, "L"),
)

// highlightCSS is the token colours for both themes.
var highlightCSS = func() []byte {
	var b bytes.Buffer
	codeFormatter.WriteCSS(&b, styles.Get("github"))
	b.WriteString("\n@media (prefers-color-scheme: dark) {\n")
	// Tokens the dark style leaves alone must not keep their light colour.
	b.WriteString(".chroma [class] { color: inherit; background-color: transparent; }\n")
	codeFormatter.WriteCSS(&b, styles.Get("github-dark"))
	b.WriteString("}\n")
	return b.Bytes()
}()

// isText reports whether content looks like text to show: UTF-8 without
// NUL bytes.
func isText(b []byte) bool {
	return bytes.IndexByte(b, 0) < 0 && utf8.Valid(b)
}

// highlight renders a text file with line numbers and, when its language
// is known from its name and it is not too big, colours.
func highlight(name string, content []byte) template.HTML {
	var lexer chroma.Lexer
	if len(content) <= maxHighlight {
		lexer = lexers.Match(path.Base(name))
		if lexer == nil && strings.HasSuffix(strings.ToLower(name), ".jsonl") {
			lexer = lexers.Get("json")
		}
	}
	if lexer == nil {
		lexer = lexers.Get("plaintext")
	}
	lexer = chroma.Coalesce(lexer)
	it, err := lexer.Tokenise(nil, string(content))
	if err != nil {
		return template.HTML("<pre>" + template.HTMLEscapeString(string(content)) + "</pre>")
	}
	var b bytes.Buffer
	if err := codeFormatter.Format(&b, styles.Get("github"), it); err != nil {
		return template.HTML("<pre>" + template.HTMLEscapeString(string(content)) + "</pre>")
	}
	return template.HTML(b.String()) // the formatter escapes every token
}

// imageExts are the files shown as pictures in the file view.
var imageExts = map[string]bool{
	".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".webp": true, ".avif": true, ".bmp": true, ".ico": true, ".svg": true,
}

func isImage(name string) bool { return imageExts[strings.ToLower(path.Ext(name))] }

// highlightCardBlock colours a fenced code block of a rendered card in
// place, with the lexer its info string names and the class names of the
// file view, so that one stylesheet serves both. It works on the parsed
// tree after the sanitiser: the block's text becomes text nodes inside
// spans whose only attribute is a class chosen here, so nothing the card
// wrote can turn into markup. Blocks with markup inside, an unknown
// language or too much text stay as they are.
func highlightCardBlock(code *html.Node) bool {
	pre := code.Parent
	if pre == nil || pre.DataAtom != atom.Pre || pre.FirstChild != code || code.NextSibling != nil {
		return false
	}
	lang := ""
	for _, a := range code.Attr {
		if a.Key == "class" {
			lang = strings.TrimPrefix(a.Val, "language-")
		}
	}
	if lang == "" {
		return false
	}
	var text strings.Builder
	for c := code.FirstChild; c != nil; c = c.NextSibling {
		if c.Type != html.TextNode {
			return false
		}
		text.WriteString(c.Data)
	}
	if text.Len() > maxHighlight {
		return false
	}
	lexer := lexers.Get(lang)
	if lexer == nil {
		return false
	}
	it, err := chroma.Coalesce(lexer).Tokenise(nil, text.String())
	if err != nil {
		return false
	}
	for c := code.FirstChild; c != nil; c = code.FirstChild {
		code.RemoveChild(c)
	}
	for _, tok := range it.Tokens() {
		txt := &html.Node{Type: html.TextNode, Data: tok.Value}
		cls := tokenClass(tok.Type)
		if cls == "" {
			code.AppendChild(txt)
			continue
		}
		span := &html.Node{Type: html.ElementNode, Data: "span", DataAtom: atom.Span,
			Attr: []html.Attribute{{Key: "class", Val: cls}}}
		span.AppendChild(txt)
		code.AppendChild(span)
	}
	// The sanitiser allows no class on <pre>; any other attribute stays.
	pre.Attr = append(pre.Attr, html.Attribute{Key: "class", Val: "chroma"})
	return true
}

// tokenClass is the class the highlighter's formatter gives a token type:
// that of the nearest type with a name, none for plain text and spaces.
func tokenClass(t chroma.TokenType) string {
	for ; t != 0; t = t.Parent() {
		if cls, ok := chroma.StandardTypes[t]; ok {
			if cls == "w" {
				return ""
			}
			return cls
		}
	}
	return ""
}
