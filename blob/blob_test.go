package blob_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/blob/fs"
)

func TestValidKey(t *testing.T) {
	tests := []struct {
		key  string
		want bool
	}{
		{"a", true},
		{"lfs/ab/cd/abcdef", true},
		{"A-Z_a.z/0-9", true},
		{"file.name.ext", true},
		{"a..b", true}, // dots inside a segment are harmless
		{"-leading-dash", true},
		{strings.Repeat("a", 255), true},
		{strings.Repeat("a/", 511) + "aa", true}, // exactly 1024 bytes
		{"", false},
		{"/", false},
		{"/abs", false},
		{"trailing/", false},
		{"a//b", false},
		{".", false},
		{"..", false},
		{"../x", false},
		{"a/../b", false},
		{"a/./b", false},
		{".hidden", false},
		{"a/.hidden", false},
		{"back\\slash", false},
		{"sp ace", false},
		{"tab\t", false},
		{"nul\x00", false},
		{"é", false},
		{"a:b", false},
		{"a*b", false},
		{strings.Repeat("a", 256), false},
		{strings.Repeat("a/", 512) + "a", false}, // 1025 bytes
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := blob.ValidKey(tt.key); got != tt.want {
				t.Errorf("ValidKey(%q) = %v; want %v", tt.key, got, tt.want)
			}
			err := blob.CheckKey(tt.key)
			if tt.want != (err == nil) || (err != nil && !errors.Is(err, blob.ErrInvalidKey)) {
				t.Errorf("CheckKey(%q) = %v", tt.key, err)
			}
		})
	}
}

func TestValidPrefix(t *testing.T) {
	tests := []struct {
		prefix string
		want   bool
	}{
		{"", true},
		{"lfs/", true},
		{"lfs/a", true},
		{"a", true},
		{"/", false},
		{"a//", false},
		{"../", false},
		{".x", false},
		{"a/b c", false},
	}
	for _, tt := range tests {
		if got := blob.ValidPrefix(tt.prefix); got != tt.want {
			t.Errorf("ValidPrefix(%q) = %v; want %v", tt.prefix, got, tt.want)
		}
	}
}

func TestValidOID(t *testing.T) {
	good := "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	tests := []struct {
		oid  string
		want bool
	}{
		{good, true},
		{strings.ToUpper(good), false},
		{good[:63], false},
		{good + "0", false},
		{good[:63] + "g", false},
		{"", false},
		{"../../../../etc/passwd" + good[:42], false},
	}
	for _, tt := range tests {
		if got := blob.ValidOID(tt.oid); got != tt.want {
			t.Errorf("ValidOID(%q) = %v; want %v", tt.oid, got, tt.want)
		}
	}
}

func TestLFSKey(t *testing.T) {
	oid := "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	want := "lfs/e3/b0/" + oid
	if got := blob.LFSKey(oid); got != want {
		t.Errorf("LFSKey = %q; want %q", got, want)
	}
	if !blob.ValidKey(blob.LFSKey(oid)) {
		t.Errorf("LFSKey gives an invalid key")
	}
}

func TestGuardReader(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	boom := errors.New("boom")
	tests := []struct {
		name    string
		ctx     context.Context
		r       io.Reader
		size    int64
		want    string
		wantErr error // nil: success; errInvalid: a haven EInvalid error
	}{
		{"UnknownSize", context.Background(), strings.NewReader("hello"), -1, "hello", nil},
		{"ExactSize", context.Background(), strings.NewReader("hello"), 5, "hello", nil},
		{"OneByteAtATime", context.Background(), iotest.OneByteReader(strings.NewReader("hello")), 5, "hello", nil},
		{"EOFWithData", context.Background(), iotest.DataErrReader(strings.NewReader("hello")), 5, "hello", nil},
		{"Short", context.Background(), strings.NewReader("hell"), 5, "hell", errInvalid},
		{"Long", context.Background(), strings.NewReader("hello!"), 5, "hello", errInvalid},
		{"Empty", context.Background(), strings.NewReader(""), 0, "", nil},
		{"EmptyExpected", context.Background(), strings.NewReader("x"), 0, "", errInvalid},
		{"ReaderError", context.Background(), iotest.ErrReader(boom), -1, "", boom},
		{"Cancelled", cancelled, strings.NewReader("hello"), -1, "", context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := io.ReadAll(blob.GuardReader(tt.ctx, tt.r, tt.size))
			if string(got) != tt.want {
				t.Errorf("read %q; want %q", got, tt.want)
			}
			checkErr(t, err, tt.wantErr)
		})
	}
}

// errInvalid stands for "a *haven.Error with code EInvalid" in test tables.
var errInvalid = errors.New("invalid")

func checkErr(t *testing.T, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Errorf("error %v; want none", err)
	case want == errInvalid && !haven.IsCode(err, haven.EInvalid):
		t.Errorf("error %v; want a %s error", err, haven.EInvalid)
	case want != nil && want != errInvalid && !errors.Is(err, want):
		t.Errorf("error %v; want %v", err, want)
	}
}

func TestPutVerified(t *testing.T) {
	const content = "hello"
	const sha = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
	tests := []struct {
		name    string
		body    string
		sha     string
		size    int64
		wantErr string
	}{
		{"OK", content, sha, 5, ""},
		{"WrongHash", "hellO", sha, 5, "Hash mismatch"},
		{"Short", "hell", sha, 5, "Size mismatch"},
		{"Long", "hello world", sha, 5, "Size mismatch"},
		{"NegativeSize", content, sha, -1, "Invalid size"},
		{"BadSHA", content, strings.ToUpper(sha), 5, "Invalid SHA-256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := fs.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			err = blob.PutVerified(ctx, d, "k", strings.NewReader(tt.body), tt.sha, tt.size)
			info, statErr := d.Stat(ctx, "k")
			if tt.wantErr == "" {
				if err != nil || statErr != nil || info.Size != int64(len(tt.body)) {
					t.Fatalf("PutVerified = %v, then Stat = %+v, %v; want the object stored", err, info, statErr)
				}
				return
			}
			if !haven.IsCode(err, haven.EInvalid) || !strings.Contains(haven.ErrorMessage(err), tt.wantErr) {
				t.Errorf("PutVerified = %v; want an %s error saying %q", err, haven.EInvalid, tt.wantErr)
			}
			if !errors.Is(statErr, blob.ErrNotFound) {
				t.Errorf("PutVerified stored an object despite the mismatch (Stat: %v)", statErr)
			}
		})
	}
}
