// Package lfs implements the Git LFS formats the hub reads and writes: pointer
// files, the LFS rules of .gitattributes, and the JSON of the batch API.
package lfs

import (
	"bytes"
	"strconv"
	"strings"
)

// Pointer is the content of a Git LFS pointer file: the SHA-256 and size of
// the object it stands for.
type Pointer struct {
	OID  string // 64 lower-case hex digits of the object's SHA-256
	Size int64
}

// MaxPointerSize is the largest file git-lfs considers a pointer candidate.
const MaxPointerSize = 1024

const (
	specURL       = "https://git-lfs.github.com/spec/v1"
	legacySpecURL = "https://hawser.github.com/spec/v1"
)

// Parse reads an LFS pointer file (spec v1). Keys after "version" must be in
// sorted order and may include ext-* extension keys, which are dropped. A
// missing final newline and the legacy hawser version URL are tolerated.
// ok is false for anything that is not a pointer.
func Parse(b []byte) (p Pointer, ok bool) {
	if len(b) == 0 || len(b) > MaxPointerSize {
		return Pointer{}, false
	}
	text := strings.TrimSuffix(string(b), "\n")
	var haveOID, haveSize bool
	prevKey := ""
	for i, line := range strings.Split(text, "\n") {
		key, value, found := strings.Cut(line, " ")
		if !found || !validKey(key) || value == "" {
			return Pointer{}, false
		}
		if i == 0 {
			if key != "version" || (value != specURL && value != legacySpecURL) {
				return Pointer{}, false
			}
			continue
		}
		if key <= prevKey {
			return Pointer{}, false // keys must be sorted and unique
		}
		prevKey = key
		switch {
		case key == "oid":
			hex, isSHA := strings.CutPrefix(value, "sha256:")
			if !isSHA || !ValidOID(hex) {
				return Pointer{}, false
			}
			p.OID, haveOID = hex, true
		case key == "size":
			n, err := parseSize(value)
			if err != nil {
				return Pointer{}, false
			}
			p.Size, haveSize = n, true
		case strings.HasPrefix(key, "ext-"):
			// Extensions describe filters applied before hashing; the
			// object is still addressed by oid and size.
		default:
			return Pointer{}, false
		}
	}
	if !haveOID || !haveSize {
		return Pointer{}, false
	}
	return p, true
}

// parseSize accepts only unsigned decimal digits, unlike strconv.ParseInt,
// which also takes a sign.
func parseSize(s string) (int64, error) {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, strconv.ErrSyntax
		}
	}
	return strconv.ParseInt(s, 10, 64)
}

func validKey(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range []byte(k) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// Bytes is the canonical, newline-terminated pointer text for p.
func (p Pointer) Bytes() []byte {
	var b bytes.Buffer
	b.WriteString("version " + specURL + "\n")
	b.WriteString("oid sha256:" + p.OID + "\n")
	b.WriteString("size " + strconv.FormatInt(p.Size, 10) + "\n")
	return b.Bytes()
}

// ValidOID reports whether s is 64 lower-case hex digits, the form of a
// SHA-256 object id.
func ValidOID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
