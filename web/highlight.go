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
