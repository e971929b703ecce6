package lfs_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/havenhub/haven/lfs"
)

const oid = "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393"

func TestParse(t *testing.T) {
	canonical := "version https://git-lfs.github.com/spec/v1\noid sha256:" + oid + "\nsize 12345\n"
	tests := []struct {
		name   string
		in     string
		want   lfs.Pointer
		wantOK bool
	}{
		{"canonical", canonical, lfs.Pointer{OID: oid, Size: 12345}, true},
		{"no final newline", strings.TrimSuffix(canonical, "\n"), lfs.Pointer{OID: oid, Size: 12345}, true},
		{"legacy version", strings.Replace(canonical, "git-lfs.github.com", "hawser.github.com", 1), lfs.Pointer{OID: oid, Size: 12345}, true},
		{"zero size", "version https://git-lfs.github.com/spec/v1\noid sha256:" + oid + "\nsize 0\n", lfs.Pointer{OID: oid}, true},
		{"extension keys", "version https://git-lfs.github.com/spec/v1\next-0-foo sha256:" + oid + "\noid sha256:" + oid + "\nsize 3\n", lfs.Pointer{OID: oid, Size: 3}, true},
		{"empty", "", lfs.Pointer{}, false},
		{"plain text", "hello world\n", lfs.Pointer{}, false},
		{"unknown version", strings.Replace(canonical, "spec/v1", "spec/v2", 1), lfs.Pointer{}, false},
		{"version not first", "oid sha256:" + oid + "\nversion https://git-lfs.github.com/spec/v1\nsize 1\n", lfs.Pointer{}, false},
		{"keys unsorted", "version https://git-lfs.github.com/spec/v1\nsize 1\noid sha256:" + oid + "\n", lfs.Pointer{}, false},
		{"duplicate key", "version https://git-lfs.github.com/spec/v1\noid sha256:" + oid + "\noid sha256:" + oid + "\nsize 1\n", lfs.Pointer{}, false},
		{"missing size", "version https://git-lfs.github.com/spec/v1\noid sha256:" + oid + "\n", lfs.Pointer{}, false},
		{"missing oid", "version https://git-lfs.github.com/spec/v1\nsize 1\n", lfs.Pointer{}, false},
		{"negative size", strings.Replace(canonical, "12345", "-1", 1), lfs.Pointer{}, false},
		{"signed size", strings.Replace(canonical, "12345", "+1", 1), lfs.Pointer{}, false},
		{"huge size", strings.Replace(canonical, "12345", "99999999999999999999", 1), lfs.Pointer{}, false},
		{"upper-case oid", strings.Replace(canonical, oid, strings.ToUpper(oid), 1), lfs.Pointer{}, false},
		{"short oid", strings.Replace(canonical, oid, oid[:63], 1), lfs.Pointer{}, false},
		{"other hash", strings.Replace(canonical, "sha256:", "sha1:", 1), lfs.Pointer{}, false},
		{"unknown key", "version https://git-lfs.github.com/spec/v1\nfoo bar\noid sha256:" + oid + "\nsize 1\n", lfs.Pointer{}, false},
		{"blank line", "version https://git-lfs.github.com/spec/v1\n\noid sha256:" + oid + "\nsize 1\n", lfs.Pointer{}, false},
		{"crlf", strings.ReplaceAll(canonical, "\n", "\r\n"), lfs.Pointer{}, false},
		{"too long", canonical + strings.Repeat("x", 1024), lfs.Pointer{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := lfs.Parse([]byte(tt.in))
			if ok != tt.wantOK || got != tt.want {
				t.Errorf("Parse = %+v, %v; want %+v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestPointerBytes(t *testing.T) {
	p := lfs.Pointer{OID: oid, Size: 7}
	want := "version https://git-lfs.github.com/spec/v1\noid sha256:" + oid + "\nsize 7\n"
	if got := string(p.Bytes()); got != want {
		t.Fatalf("Bytes = %q, want %q", got, want)
	}
}

func TestValidOID(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{oid, true},
		{strings.Repeat("0", 64), true},
		{strings.ToUpper(oid), false},
		{oid[:63], false},
		{oid + "0", false},
		{strings.Repeat("g", 64), false},
		{"", false},
	}
	for _, tt := range tests {
		if got := lfs.ValidOID(tt.in); got != tt.want {
			t.Errorf("ValidOID(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestActionNeverSendsNullHeader(t *testing.T) {
	res := lfs.BatchResponse{Transfer: "basic", Objects: []lfs.ObjectResult{{
		OID: oid, Size: 1, Actions: map[string]*lfs.Action{"upload": {Href: "http://x/u"}},
	}}}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("header")) || bytes.Contains(b, []byte("null")) {
		t.Errorf("response JSON %s carries a header or null", b)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back["transfer"] != "basic" {
		t.Errorf("transfer = %v", back["transfer"])
	}
}

func TestBatchRequestDecodesClientBodies(t *testing.T) {
	body := `{"operation":"upload","transfers":["basic","multipart","xet"],"objects":[{"oid":"` + oid + `","size":7}],"hash_algo":"sha_256","ref":{"name":"refs/pr/1"}}`
	var req lfs.BatchRequest
	if err := json.Unmarshal([]byte(body), &req); err != nil {
		t.Fatal(err)
	}
	if req.Operation != "upload" || len(req.Transfers) != 3 || req.Ref == nil || req.Ref.Name != "refs/pr/1" ||
		len(req.Objects) != 1 || req.Objects[0] != (lfs.ObjectSpec{OID: oid, Size: 7}) || req.HashAlgo != "sha_256" {
		t.Errorf("decoded %+v", req)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(lfs.Pointer{OID: oid, Size: 42}.Bytes())
	f.Add([]byte("version https://hawser.github.com/spec/v1\noid sha256:" + oid + "\nsize 1"))
	f.Add([]byte("version https://git-lfs.github.com/spec/v1\next-0-x sha256:" + oid + "\noid sha256:" + oid + "\nsize 0\n"))
	f.Add([]byte("hello"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, ok := lfs.Parse(b)
		if !ok {
			return
		}
		if !lfs.ValidOID(p.OID) || p.Size < 0 {
			t.Fatalf("accepted invalid pointer %+v", p)
		}
		q, ok := lfs.Parse(p.Bytes())
		if !ok || q != p {
			t.Fatalf("round trip of %+v gave %+v, %v", p, q, ok)
		}
	})
}
