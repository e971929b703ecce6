package lfs

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/havenhub/haven"
)

// Attributes is a parsed .gitattributes file, reduced to the rules that set or
// unset the "filter" attribute.
type Attributes struct {
	rules []filterRule
}

type filterRule struct {
	match func(path string) bool
	lfs   bool // filter=lfs; false for -filter, !filter or another driver
}

// ParseAttributes parses a .gitattributes file. Lines it cannot use (macro
// definitions, negated patterns, directory-only patterns) are skipped, as git
// skips them when choosing attributes for a file.
func ParseAttributes(b []byte) *Attributes {
	a := &Attributes{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimRight(line, "\r")
		pattern, rest, ok := splitPattern(line)
		if !ok {
			continue
		}
		lfs, mentionsFilter := false, false
		for _, attr := range strings.Fields(rest) {
			switch {
			case attr == "filter=lfs":
				lfs, mentionsFilter = true, true
			case attr == "filter" || attr == "-filter" || attr == "!filter" || strings.HasPrefix(attr, "filter="):
				lfs, mentionsFilter = false, true
			}
		}
		if !mentionsFilter {
			continue
		}
		if m := compilePattern(pattern); m != nil {
			a.rules = append(a.rules, filterRule{match: m, lfs: lfs})
		}
	}
	return a
}

// splitPattern separates the pattern of a .gitattributes line from its
// attributes, unquoting a C-style quoted pattern.
func splitPattern(line string) (pattern, rest string, ok bool) {
	line = strings.TrimLeft(line, " \t")
	if line == "" || line[0] == '#' {
		return "", "", false
	}
	if line[0] == '"' {
		var b strings.Builder
		for i := 1; i < len(line); i++ {
			c := line[i]
			switch {
			case c == '"':
				return b.String(), line[i+1:], b.Len() > 0
			case c == '\\' && i+1 < len(line):
				i++
				b.WriteByte(unescapeC(line[i]))
			default:
				b.WriteByte(c)
			}
		}
		return "", "", false
	}
	end := strings.IndexAny(line, " \t")
	if end < 0 {
		return line, "", true
	}
	return line[:end], line[end:], true
}

func unescapeC(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 't':
		return '\t'
	case 'r':
		return '\r'
	}
	return c
}

// LFS reports whether git would run path through the lfs filter: the last
// matching line that mentions "filter" decides.
func (a *Attributes) LFS(path string) bool {
	path = strings.TrimPrefix(path, "/")
	for i := len(a.rules) - 1; i >= 0; i-- {
		if a.rules[i].match(path) {
			return a.rules[i].lfs
		}
	}
	return false
}

// compilePattern turns a gitattributes pattern into a matcher, or nil when
// the pattern can never match a file. A pattern without a slash matches the
// basename at any depth; otherwise it is anchored at the repository root.
// Patterns become RE2 expressions so that matching stays linear in the
// length of the path whatever the pattern.
func compilePattern(pattern string) func(string) bool {
	if strings.HasPrefix(pattern, "[attr]") || strings.HasPrefix(pattern, "!") || strings.HasSuffix(pattern, "/") {
		return nil
	}
	basenameOnly := !strings.Contains(pattern, "/")
	pattern = strings.TrimPrefix(pattern, "/")
	expr, ok := globToRegexp(pattern)
	if !ok {
		return nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil
	}
	if basenameOnly {
		return func(p string) bool { return re.MatchString(p[strings.LastIndexByte(p, '/')+1:]) }
	}
	return re.MatchString
}

// globToRegexp translates git's wildmatch syntax (with slashes significant)
// into an anchored regular expression.
func globToRegexp(glob string) (string, bool) {
	var re strings.Builder
	re.WriteString(`^`)
	for i := 0; i < len(glob); i++ {
		c := glob[i]
		switch c {
		case '*':
			j := i
			for j < len(glob) && glob[j] == '*' {
				j++
			}
			atSegmentStart := i == 0 || glob[i-1] == '/'
			atSegmentEnd := j == len(glob) || glob[j] == '/'
			switch {
			case j-i >= 2 && atSegmentStart && j == len(glob):
				re.WriteString(`.*`) // "**" or trailing "/**": everything below
			case j-i >= 2 && atSegmentStart && atSegmentEnd:
				re.WriteString(`(?:.*/)?`) // "**/": zero or more directories
				j++
			default:
				re.WriteString(`[^/]*`)
			}
			i = j - 1
		case '?':
			re.WriteString(`[^/]`)
		case '[':
			class, n, ok := bracketToRegexp(glob[i:])
			if !ok {
				return "", false // git aborts the match on an unclosed bracket
			}
			re.WriteString(class)
			i += n - 1
		case '\\':
			if i+1 < len(glob) {
				i++
			}
			re.WriteString(regexp.QuoteMeta(glob[i : i+1]))
		default:
			re.WriteString(regexp.QuoteMeta(glob[i : i+1]))
		}
	}
	re.WriteString(`$`)
	return re.String(), true
}

// posixClasses are the character classes wildmatch understands inside
// brackets, spelled out in ASCII ranges without '/' (a class never matches
// '/' in git).
var posixClasses = map[string]string{
	"alnum":  `0-9A-Za-z`,
	"alpha":  `A-Za-z`,
	"blank":  `\t `,
	"cntrl":  `\x00-\x1f\x7f`,
	"digit":  `0-9`,
	"graph":  `!-.0-~`,
	"lower":  `a-z`,
	"print":  ` -.0-~`,
	"punct":  `!-.:-@\[-` + "`" + `{-~`,
	"space":  `\t-\r `,
	"upper":  `A-Z`,
	"xdigit": `0-9A-Fa-f`,
}

// bracketToRegexp translates the bracket expression at the start of s and
// returns it with the number of bytes it consumed. The class never matches
// '/', as in git.
func bracketToRegexp(s string) (string, int, bool) {
	var out strings.Builder
	i := 1
	negate := i < len(s) && (s[i] == '!' || s[i] == '^')
	if negate {
		i++
		out.WriteString(`[^/`)
	} else {
		out.WriteString(`[`)
	}
	first := true
	for i < len(s) {
		if s[i] == ']' && !first {
			out.WriteString(`]`)
			return out.String(), i + 1, true
		}
		first = false
		if strings.HasPrefix(s[i:], "[:") {
			end := strings.Index(s[i+2:], ":]")
			if end < 0 {
				return "", 0, false
			}
			class, known := posixClasses[s[i+2:i+2+end]]
			if !known {
				return "", 0, false
			}
			out.WriteString(class)
			i += 2 + end + 2
			continue
		}
		lo, n := classChar(s[i:])
		i += n
		hi := lo
		if i+1 < len(s) && s[i] == '-' && s[i+1] != ']' {
			hi, n = classChar(s[i+1:])
			i += 1 + n
			if hi < lo {
				return "", 0, false
			}
		}
		writeRange(&out, lo, hi, negate)
	}
	return "", 0, false
}

// classChar reads one possibly escaped character of a bracket expression.
func classChar(s string) (rune, int) {
	if s[0] == '\\' && len(s) > 1 {
		r, n := utf8.DecodeRuneInString(s[1:])
		return r, n + 1
	}
	return utf8.DecodeRuneInString(s)
}

// writeRange adds lo-hi to a character class, leaving out '/' from a
// positive class (a negated one already excludes it).
func writeRange(out *strings.Builder, lo, hi rune, negate bool) {
	if !negate && lo <= '/' && '/' <= hi {
		if lo < '/' {
			writeRange(out, lo, '/'-1, negate)
		}
		if hi > '/' {
			writeRange(out, '/'+1, hi, negate)
		}
		return
	}
	fmt.Fprintf(out, `\x{%x}`, lo)
	if hi != lo {
		fmt.Fprintf(out, `-\x{%x}`, hi)
	}
}

// lfsAttrs is what every LFS line of a generated .gitattributes sets.
const lfsAttrs = " filter=lfs diff=lfs merge=lfs -text\n"

// modelPatterns are the LFS patterns of a new model or Space, those the Hub
// itself writes: archives, serialised tensors and training logs.
var modelPatterns = []string{
	"*.7z", "*.arrow", "*.bin", "*.bz2", "*.ckpt", "*.ftz", "*.gz", "*.h5", "*.joblib",
	"*.lfs.*", "*.mlmodel", "*.model", "*.msgpack", "*.npy", "*.npz", "*.onnx", "*.ot",
	"*.parquet", "*.pb", "*.pickle", "*.pkl", "*.pt", "*.pth", "*.rar", "*.safetensors",
	"saved_model/**/*", "*.tar.*", "*.tar", "*.tflite", "*.tgz", "*.wasm", "*.xz", "*.zip",
	"*.zst", "*tfevents*",
}

// datasetExtraPatterns are added for datasets, which commonly hold media and
// further archive formats.
var datasetExtraPatterns = []struct {
	comment  string
	patterns []string
}{
	{"Archives and columnar data", []string{"*.lz4", "*.mds"}},
	{"Audio files - uncompressed", []string{"*.pcm", "*.sam", "*.raw"}},
	{"Audio files - compressed", []string{"*.aac", "*.flac", "*.mp3", "*.ogg", "*.wav"}},
	{"Image files - uncompressed", []string{"*.bmp", "*.gif", "*.png", "*.tiff"}},
	{"Image files - compressed", []string{"*.jpg", "*.jpeg", "*.webp"}},
	{"Video files - compressed", []string{"*.mp4", "*.webm"}},
}

// DefaultAttributes is the .gitattributes of a new repository of type t.
func DefaultAttributes(t haven.RepoType) []byte {
	var b bytes.Buffer
	for _, p := range modelPatterns {
		b.WriteString(p + lfsAttrs)
	}
	if t == haven.Dataset {
		for _, group := range datasetExtraPatterns {
			b.WriteString("# " + group.comment + "\n")
			for _, p := range group.patterns {
				b.WriteString(p + lfsAttrs)
			}
		}
	}
	return b.Bytes()
}

// WithPattern returns attrs with a line added that tracks exactly path with
// LFS, unless attrs already tracks it. attrs itself is not modified.
func WithPattern(attrs []byte, path string) []byte {
	path = strings.TrimPrefix(path, "/")
	if ParseAttributes(attrs).LFS(path) {
		return attrs
	}
	out := make([]byte, 0, len(attrs)+len(path)+len(lfsAttrs)+16)
	out = append(out, attrs...)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	out = append(out, escapePattern(path)...)
	return append(out, lfsAttrs...)
}

// escapePattern makes a pattern that matches path and nothing else: anchored
// at the root, wildcards escaped, whitespace (which would end the pattern)
// replaced by a class.
func escapePattern(path string) string {
	var b strings.Builder
	b.WriteByte('/')
	for _, c := range []byte(path) {
		switch c {
		case ' ', '\t', '\n', '\r', '\v', '\f':
			b.WriteString("[[:space:]]")
		case '*', '?', '[', ']', '\\', '"', '#', '!':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
