package commitreq_test

import (
	"bytes"
	"encoding/base64"
	"runtime"
	"strings"
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/commitreq"
)

const oid = "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393"

const pyHeader = `{"key": "header", "value": {"summary": "Upload folder", "description": ""}}` + "\n"

func TestParse(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		header commitreq.Header
		ops    []commitreq.Op
	}{
		{
			name: "python line format",
			body: pyHeader +
				`{"key": "file", "value": {"content": "aGVsbG8=", "path": "a", "encoding": "base64"}}` + "\n" +
				`{"key": "lfsFile", "value": {"path": "w/model.bin", "algo": "sha256", "oid": "` + oid + `", "size": 7}}` + "\n" +
				`{"key": "lfsFile", "value": {"path": "copy.bin", "algo": "sha256", "oid": "` + oid + `"}}` + "\n" +
				`{"key": "deletedFile", "value": {"path": "old.txt"}}` + "\n" +
				`{"key": "deletedFolder", "value": {"path": "nested/"}}` + "\n",
			header: commitreq.Header{Summary: "Upload folder"},
			ops: []commitreq.Op{
				{Kind: "file", Path: "a", Content: []byte("hello"), Size: -1},
				{Kind: "lfsFile", Path: "w/model.bin", OID: oid, Size: 7},
				{Kind: "lfsFile", Path: "copy.bin", OID: oid, Size: -1},
				{Kind: "deletedFile", Path: "old.txt", Size: -1},
				{Kind: "deletedFolder", Path: "nested", Size: -1},
			},
		},
		{
			name: "js line format without trailing newline",
			body: `{"key":"header","value":{"summary":"s","description":"d","parentCommit":"abc123"}}` + "\n" +
				`{"key":"file","value":{"content":"eA==","path":"dir/x.txt","encoding":"base64","oldPath":"x.txt"}}` + "\n" +
				`{"key":"lfsFile","value":{"path":"b.bin","algo":"sha256","oid":"` + strings.ToUpper(oid) + `","size":0}}`,
			header: commitreq.Header{Summary: "s", Description: "d", ParentCommit: "abc123"},
			ops: []commitreq.Op{
				{Kind: "file", Path: "dir/x.txt", Content: []byte("x"), Size: -1, OldPath: "x.txt"},
				{Kind: "lfsFile", Path: "b.bin", OID: oid, Size: 0},
			},
		},
		{
			name: "crlf, blank lines, utf-8 content",
			body: "\r\n" + `{"key":"header","value":{"summary":"s"}}` + "\r\n\r\n" +
				`{"key":"file","value":{"path":"r.md","content":"# héllo\n","encoding":"utf-8"}}` + "\r\n" +
				`{"key":"file","value":{"path":"e.txt","content":""}}` + "\r\n",
			header: commitreq.Header{Summary: "s"},
			ops: []commitreq.Op{
				{Kind: "file", Path: "r.md", Content: []byte("# héllo\n"), Size: -1},
				{Kind: "file", Path: "e.txt", Content: []byte{}, Size: -1},
			},
		},
		{
			name:   "header only",
			body:   pyHeader,
			header: commitreq.Header{Summary: "Upload folder"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := commitreq.Parse(strings.NewReader(tt.body), commitreq.DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			if req.Header != tt.header {
				t.Errorf("header = %+v, want %+v", req.Header, tt.header)
			}
			if len(req.Ops) != len(tt.ops) {
				t.Fatalf("got %d ops, want %d: %+v", len(req.Ops), len(tt.ops), req.Ops)
			}
			for i, got := range req.Ops {
				want := tt.ops[i]
				if got.Kind != want.Kind || got.Path != want.Path || !bytes.Equal(got.Content, want.Content) ||
					got.OID != want.OID || got.Size != want.Size || got.OldPath != want.OldPath {
					t.Errorf("op %d = %+v, want %+v", i, got, want)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	file := func(path string) string {
		return `{"key": "file", "value": {"content": "", "path": "` + path + `", "encoding": "base64"}}` + "\n"
	}
	small := commitreq.Limits{MaxLine: 200, MaxOps: 2, MaxFileSize: 4}
	tests := []struct {
		name    string
		body    string
		lim     commitreq.Limits
		code    string
		message string
	}{
		{"empty body", "", commitreq.DefaultLimits, haven.EInvalid, "missing header"},
		{"blank body", "\n\n", commitreq.DefaultLimits, haven.EInvalid, "missing header"},
		{"first line not header", file("a"), commitreq.DefaultLimits, haven.EInvalid, "header"},
		{"malformed json", pyHeader + `{"key": "file", "value": {` + "\n", commitreq.DefaultLimits, haven.EInvalid, "line 2"},
		{"value not an object", pyHeader + `{"key": "file", "value": "x"}` + "\n", commitreq.DefaultLimits, haven.EInvalid, "line 2"},
		{"missing value", pyHeader + `{"key": "deletedFile"}` + "\n", commitreq.DefaultLimits, haven.EInvalid, "no value"},
		{"unknown key", pyHeader + `{"key": "copyFile", "value": {"path": "a"}}` + "\n", commitreq.DefaultLimits, haven.EInvalid, "copyFile"},
		{"second header", pyHeader + pyHeader, commitreq.DefaultLimits, haven.EInvalid, "header"},
		{"bad base64", pyHeader + `{"key": "file", "value": {"content": "!!!", "path": "a", "encoding": "base64"}}` + "\n", commitreq.DefaultLimits, haven.EInvalid, "base64"},
		{"unknown encoding", pyHeader + `{"key": "file", "value": {"content": "x", "path": "a", "encoding": "latin1"}}` + "\n", commitreq.DefaultLimits, haven.EInvalid, "encoding"},
		{"file too large", pyHeader + `{"key": "file", "value": {"content": "aGVsbG8=", "path": "a", "encoding": "base64"}}` + "\n", small, haven.EInvalid, "use LFS"},
		{"bad oid", pyHeader + `{"key": "lfsFile", "value": {"path": "a", "algo": "sha256", "oid": "abc", "size": 1}}` + "\n", commitreq.DefaultLimits, haven.EInvalid, "oid"},
		{"bad algo", pyHeader + `{"key": "lfsFile", "value": {"path": "a", "algo": "sha1", "oid": "` + oid + `", "size": 1}}` + "\n", commitreq.DefaultLimits, haven.EInvalid, "algo"},
		{"negative size", pyHeader + `{"key": "lfsFile", "value": {"path": "a", "oid": "` + oid + `", "size": -1}}` + "\n", commitreq.DefaultLimits, haven.EInvalid, "size"},
		{"fractional size", pyHeader + `{"key": "lfsFile", "value": {"path": "a", "oid": "` + oid + `", "size": 1.5}}` + "\n", commitreq.DefaultLimits, haven.EInvalid, "line 2"},
		{"too many ops", pyHeader + file("a") + file("b") + file("c"), small, haven.EInvalid, "more than 2"},
		{"line too long", pyHeader + `{"key": "file", "value": {"content": "` + strings.Repeat("A", 300) + `", "path": "a"}}` + "\n", small, haven.EInvalid, "too long"},
		{"last line too long", pyHeader + strings.Repeat(" ", 300), small, haven.EInvalid, "too long"},
		{"same path twice", pyHeader + file("a") + `{"key": "deletedFile", "value": {"path": "a"}}` + "\n", commitreq.DefaultLimits, haven.EInvalid, `"a"`},
		{"deleted folder and file on same path", pyHeader + `{"key": "deletedFolder", "value": {"path": "d/"}}` + "\n" + `{"key": "deletedFile", "value": {"path": "d"}}` + "\n", commitreq.DefaultLimits, haven.EInvalid, `"d"`},
		{"dotdot path", pyHeader + file("../etc/passwd"), commitreq.DefaultLimits, haven.EUnprocessable, "../etc/passwd"},
		{"backslash path", pyHeader + file(`..\\ddd`), commitreq.DefaultLimits, haven.EUnprocessable, `ddd`},
		{"git dir path", pyHeader + file(".git/config"), commitreq.DefaultLimits, haven.EUnprocessable, ".git/config"},
		{"missing path", pyHeader + `{"key": "deletedFile", "value": {}}` + "\n", commitreq.DefaultLimits, haven.EUnprocessable, "empty"},
		{"bad old path", pyHeader + `{"key": "file", "value": {"content": "", "path": "a", "oldPath": "/abs"}}` + "\n", commitreq.DefaultLimits, haven.EUnprocessable, "/abs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := commitreq.Parse(strings.NewReader(tt.body), tt.lim)
			if err == nil {
				t.Fatalf("accepted: %+v", req)
			}
			if got := haven.ErrorCode(err); got != tt.code {
				t.Errorf("code = %q, want %q (%v)", got, tt.code, err)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("message %q does not mention %q", err.Error(), tt.message)
			}
		})
	}
}

func TestParseDefaultLimitsForZeroFields(t *testing.T) {
	content := base64.StdEncoding.EncodeToString(make([]byte, 10<<20+1))
	body := pyHeader + `{"key": "file", "value": {"content": "` + content + `", "path": "big", "encoding": "base64"}}` + "\n"
	_, err := commitreq.Parse(strings.NewReader(body), commitreq.Limits{})
	if !haven.IsCode(err, haven.EInvalid) || !strings.Contains(err.Error(), "10 MiB") {
		t.Fatalf("err = %v, want the 10 MiB limit", err)
	}
}

// TestParseLargeFileMemory checks that a 10 MiB regular file, one ~14 MiB
// line, is parsed without holding many copies of the body.
func TestParseLargeFileMemory(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), (10<<20)/16)
	body := []byte(pyHeader + `{"key": "file", "value": {"content": "` + base64.StdEncoding.EncodeToString(data) +
		`", "path": "big.txt", "encoding": "base64"}}` + "\n")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	req, err := commitreq.Parse(bytes.NewReader(body), commitreq.DefaultLimits)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(req.Ops[0].Content, data) {
		t.Fatal("content differs")
	}
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 5*uint64(len(body)) {
		t.Errorf("allocated %d bytes for a %d-byte body", allocated, len(body))
	}
}

func TestCleanPath(t *testing.T) {
	tests := []struct {
		path string
		ok   bool
	}{
		{"README.md", true},
		{"a/b/c.txt", true},
		{".gitattributes", true},
		{"dir/.gitignore", true},
		{"with space/ünïcode.txt", true},
		{"", false},
		{"/abs", false},
		{"a//b", false},
		{"a/", false},
		{".", false},
		{"./a", false},
		{"a/./b", false},
		{"..", false},
		{"a/../b", false},
		{`..\ddd`, false},
		{`a\b`, true},
		{`folder/..\..\..\file`, true},
		{`\abs`, false},
		{`.\x`, false},
		{`.git\config`, false},
		{`sub/.GIT\hooks`, false},
		{".git", false},
		{"sub/.GIT/config", false},
		{"a\x00b", false},
		{"a\nb", false},
		{"a\x7fb", false},
		{"a\u0085b", false},
		{"\xff\xfe", false},
		{strings.Repeat("a", 4096), true},
		{strings.Repeat("a", 4097), false},
	}
	for _, tt := range tests {
		got, err := commitreq.CleanPath(tt.path)
		if tt.ok && (err != nil || got != tt.path) {
			t.Errorf("CleanPath(%q) = %q, %v; want it accepted", tt.path, got, err)
		}
		if !tt.ok && !haven.IsCode(err, haven.EUnprocessable) {
			t.Errorf("CleanPath(%q) = %q, %v; want an unprocessable error", tt.path, got, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(pyHeader + `{"key": "file", "value": {"content": "aGVsbG8=", "path": "a", "encoding": "base64"}}` + "\n"))
	f.Add([]byte(pyHeader + `{"key": "lfsFile", "value": {"path": "b/c", "algo": "sha256", "oid": "` + oid + `"}}`))
	f.Add([]byte(pyHeader + `{"key": "deletedFolder", "value": {"path": "x/"}}` + "\r\n"))
	f.Add([]byte(pyHeader + `{"key":"file","value":{"path":"n","content":"x","oldPath":"o"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := commitreq.Parse(bytes.NewReader(body), commitreq.Limits{MaxLine: 4096, MaxOps: 50, MaxFileSize: 1024})
		if err != nil {
			if code := haven.ErrorCode(err); code != haven.EInvalid && code != haven.EUnprocessable {
				t.Fatalf("error code %q: %v", code, err)
			}
			return
		}
		seen := map[string]bool{}
		for _, op := range req.Ops {
			if p, err := commitreq.CleanPath(op.Path); err != nil || p != op.Path {
				t.Fatalf("accepted invalid path %q", op.Path)
			}
			if op.OldPath != "" {
				if _, err := commitreq.CleanPath(op.OldPath); err != nil {
					t.Fatalf("accepted invalid old path %q", op.OldPath)
				}
			}
			if seen[op.Path] {
				t.Fatalf("path %q twice", op.Path)
			}
			seen[op.Path] = true
			if len(op.Content) > 1024 {
				t.Fatalf("content of %d bytes over the limit", len(op.Content))
			}
		}
	})
}
