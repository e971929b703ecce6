// Package commitreq parses the NDJSON body of the commit endpoint into
// validated operations.
package commitreq

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/lfs"
)

// Header is the first line of a commit request.
type Header struct {
	Summary      string
	Description  string
	ParentCommit string
}

// Operation kinds, as the clients name them.
const (
	KindFile          = "file"
	KindLFSFile       = "lfsFile"
	KindDeletedFile   = "deletedFile"
	KindDeletedFolder = "deletedFolder"
)

// Op is one change of a commit.
type Op struct {
	Kind    string // KindFile, KindLFSFile, KindDeletedFile or KindDeletedFolder
	Path    string // cleaned, validated path; a deleted folder loses its trailing "/"
	Content []byte // KindFile: the decoded content
	OID     string // KindLFSFile: SHA-256 of the object, lower-case hex
	Size    int64  // KindLFSFile: -1 when absent (copies omit it)
	OldPath string // optional rename source of a file or LFS file
}

// Request is a parsed commit request.
type Request struct {
	Header Header
	Ops    []Op
}

// Limits bound what Parse accepts. A zero field takes its value from
// DefaultLimits.
type Limits struct {
	MaxLine     int   // bytes in one line
	MaxOps      int   // operations in one request
	MaxFileSize int64 // decoded bytes of a regular file; larger ones must use LFS
}

// DefaultLimits fit the Hub: a regular file of up to 10 MiB, whose base64
// line is about 14 MiB.
var DefaultLimits = Limits{MaxLine: 64 << 20, MaxOps: 25000, MaxFileSize: 10 << 20}

// line is the union of every value the clients send, so that each line,
// however large, is decoded in a single pass.
type line struct {
	Key   string     `json:"key"`
	Value *lineValue `json:"value"`
}

type lineValue struct {
	Summary      string `json:"summary"`
	Description  string `json:"description"`
	ParentCommit string `json:"parentCommit"`

	Path     string `json:"path"`
	OldPath  string `json:"oldPath"`
	Content  string `json:"content"`
	Encoding string `json:"encoding"`
	Algo     string `json:"algo"`
	OID      string `json:"oid"`
	Size     *int64 `json:"size"`
}

// Parse reads a whole commit request: lines separated by "\n" (a trailing
// newline, blank lines and "\r\n" are tolerated), the first one the header.
// Errors are *haven.Error: EUnprocessable for an invalid path, EInvalid for
// everything else.
func Parse(r io.Reader, lim Limits) (*Request, error) {
	lim = lim.withDefaults()
	br := bufio.NewReaderSize(r, 64<<10)
	req := &Request{}
	seen := map[string]bool{}
	var buf []byte
	haveHeader := false
	for n := 1; ; n++ {
		text, err := readLine(br, &buf, lim.MaxLine)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, lineError(n, err)
		}
		text = bytes.TrimRight(text, "\r")
		if len(bytes.TrimSpace(text)) > 0 {
			if err := req.addLine(n, text, &haveHeader, seen, lim); err != nil {
				return nil, err
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	if !haveHeader {
		return nil, haven.Errorf(haven.EInvalid, "Invalid commit request: missing header line")
	}
	return req, nil
}

func (lim Limits) withDefaults() Limits {
	if lim.MaxLine <= 0 {
		lim.MaxLine = DefaultLimits.MaxLine
	}
	if lim.MaxOps <= 0 {
		lim.MaxOps = DefaultLimits.MaxOps
	}
	if lim.MaxFileSize <= 0 {
		lim.MaxFileSize = DefaultLimits.MaxFileSize
	}
	return lim
}

var errLineTooLong = errors.New("line too long")

// readLine returns the next line without its "\n", reusing *buf so that one
// buffer serves every line of the body. It returns io.EOF with the last line.
func readLine(br *bufio.Reader, buf *[]byte, limit int) ([]byte, error) {
	*buf = (*buf)[:0]
	for {
		chunk, err := br.ReadSlice('\n')
		if len(*buf)+len(chunk) > limit+1 { // +1 for the newline itself
			return nil, errLineTooLong
		}
		if need := len(*buf) + len(chunk); need > cap(*buf) {
			// Double explicitly: append grows large slices by only 1.25x,
			// which for a 14 MiB line allocates several times its size.
			grown := make([]byte, len(*buf), max(need, 2*cap(*buf)))
			copy(grown, *buf)
			*buf = grown
		}
		*buf = append(*buf, chunk...)
		switch {
		case err == nil:
			return (*buf)[:len(*buf)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			if len(*buf) > limit {
				return nil, errLineTooLong
			}
			return *buf, err
		}
	}
}

func lineError(n int, err error) error {
	if errors.Is(err, errLineTooLong) {
		return haven.Errorf(haven.EInvalid, "Invalid commit request: line %d is too long", n)
	}
	return haven.Errorf(haven.EInvalid, "Invalid commit request: reading line %d: %v", n, err)
}

func (req *Request) addLine(n int, text []byte, haveHeader *bool, seen map[string]bool, lim Limits) error {
	var l line
	if err := json.Unmarshal(text, &l); err != nil {
		return haven.Errorf(haven.EInvalid, "Invalid commit request: line %d is not valid JSON: %v", n, err)
	}
	if l.Value == nil {
		return haven.Errorf(haven.EInvalid, "Invalid commit request: line %d has no value object", n)
	}
	v := l.Value
	if !*haveHeader {
		if l.Key != "header" {
			return haven.Errorf(haven.EInvalid, "Invalid commit request: the first line must be the header, got %q", l.Key)
		}
		req.Header = Header{Summary: v.Summary, Description: v.Description, ParentCommit: v.ParentCommit}
		*haveHeader = true
		return nil
	}
	if len(req.Ops) >= lim.MaxOps {
		return haven.Errorf(haven.EInvalid, "Invalid commit request: more than %d operations", lim.MaxOps)
	}
	op, err := parseOp(n, l.Key, v, lim)
	if err != nil {
		return err
	}
	if seen[op.Path] {
		return haven.Errorf(haven.EInvalid, "Invalid commit request: more than one operation on %q", op.Path)
	}
	seen[op.Path] = true
	req.Ops = append(req.Ops, op)
	return nil
}

func parseOp(n int, key string, v *lineValue, lim Limits) (Op, error) {
	path := v.Path
	if key == KindDeletedFolder {
		path = strings.TrimSuffix(path, "/")
	}
	op := Op{Kind: key, Size: -1}
	switch key {
	case KindFile, KindLFSFile, KindDeletedFile, KindDeletedFolder:
	case "header":
		return Op{}, haven.Errorf(haven.EInvalid, "Invalid commit request: line %d repeats the header", n)
	default:
		return Op{}, haven.Errorf(haven.EInvalid, "Invalid commit request: line %d has unknown key %q", n, key)
	}
	var err error
	if op.Path, err = CleanPath(path); err != nil {
		return Op{}, err
	}
	if v.OldPath != "" && (key == KindFile || key == KindLFSFile) {
		if op.OldPath, err = CleanPath(v.OldPath); err != nil {
			return Op{}, err
		}
	}
	switch key {
	case KindFile:
		op.Content, err = decodeContent(op.Path, v, lim.MaxFileSize)
	case KindLFSFile:
		op.OID, op.Size, err = lfsObject(op.Path, v)
	}
	if err != nil {
		return Op{}, err
	}
	return op, nil
}

func decodeContent(path string, v *lineValue, max int64) ([]byte, error) {
	var content []byte
	switch v.Encoding {
	case "base64":
		if int64(base64.StdEncoding.DecodedLen(len(v.Content))) > max+3 {
			return nil, tooLarge(path, max)
		}
		var err error
		if content, err = base64.StdEncoding.DecodeString(v.Content); err != nil {
			return nil, haven.Errorf(haven.EInvalid, "Invalid commit request: content of %q is not valid base64", path)
		}
	case "", "utf-8", "utf8":
		content = []byte(v.Content)
	default:
		return nil, haven.Errorf(haven.EInvalid, "Invalid commit request: unknown encoding %q for %q", v.Encoding, path)
	}
	if int64(len(content)) > max {
		return nil, tooLarge(path, max)
	}
	return content, nil
}

func tooLarge(path string, max int64) error {
	return haven.Errorf(haven.EInvalid, "File %q is larger than %s, use LFS to upload it", path, formatSize(max))
}

func formatSize(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

func lfsObject(path string, v *lineValue) (string, int64, error) {
	if v.Algo != "" && v.Algo != "sha256" {
		return "", 0, haven.Errorf(haven.EInvalid, "Invalid commit request: unsupported algo %q for %q", v.Algo, path)
	}
	oid := strings.ToLower(v.OID)
	if !lfs.ValidOID(oid) {
		return "", 0, haven.Errorf(haven.EInvalid, "Invalid commit request: invalid oid %q for %q", v.OID, path)
	}
	size := int64(-1)
	if v.Size != nil {
		if *v.Size < 0 {
			return "", 0, haven.Errorf(haven.EInvalid, "Invalid commit request: negative size for %q", path)
		}
		size = *v.Size
	}
	return oid, size, nil
}

// MaxPathLen is the longest repository path CleanPath accepts, in bytes.
const MaxPathLen = 4096

// CleanPath validates a repository path and returns it unchanged, or an
// EUnprocessable error naming it. A valid path is relative, valid UTF-8, at
// most MaxPathLen bytes, free of control characters, and has no empty, ".",
// ".." or ".git" segment. A backslash is an ordinary file-name character in
// git, as on the Hub, except at the start of the path ("\x", "..\x"), where
// Windows clients would read it as a way out of the folder.
func CleanPath(p string) (string, error) {
	invalid := func(why string) error {
		return haven.Errorf(haven.EUnprocessable, "Invalid path %q: %s", p, why)
	}
	switch {
	case p == "":
		return "", haven.Errorf(haven.EUnprocessable, "Invalid path: empty")
	case len(p) > MaxPathLen:
		return "", haven.Errorf(haven.EUnprocessable, "Invalid path %q...: longer than %d bytes", p[:64], MaxPathLen)
	case !utf8.ValidString(p):
		return "", invalid("not valid UTF-8")
	case strings.HasPrefix(p, "/"):
		return "", invalid("must be relative")
	case strings.HasPrefix(p, `\`) || strings.HasPrefix(p, `..\`) || strings.HasPrefix(p, `.\`):
		return "", invalid("must not start with a backslash or a parent folder")
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return "", invalid("control characters are not allowed")
		}
	}
	for _, seg := range strings.Split(p, "/") {
		switch {
		case seg == "":
			return "", invalid("empty path segment")
		case seg == "." || seg == "..":
			return "", invalid(`"." and ".." segments are not allowed`)
		case strings.EqualFold(seg, ".git") || len(seg) > 4 && strings.EqualFold(seg[:5], `.git\`):
			return "", invalid(`".git" segments are not allowed`)
		}
	}
	return p, nil
}
