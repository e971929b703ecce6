package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"

	"github.com/havenhub/haven"
)

// PutVerified stores r under key only if its bytes have the given SHA-256
// (lower-case hex) and size. On a mismatch it returns a *haven.Error with code
// haven.EInvalid that says whether the size or the hash is wrong, and stores
// nothing: the check runs as the bytes stream, and the driver sees an error
// instead of io.EOF, which aborts the Put.
func PutVerified(ctx context.Context, d Driver, key string, r io.Reader, sha256hex string, size int64) error {
	if size < 0 {
		return haven.Errorf(haven.EInvalid, "Invalid size %d for %s", size, key)
	}
	if !ValidOID(sha256hex) {
		return haven.Errorf(haven.EInvalid, "Invalid SHA-256 %q: expected 64 lower-case hex digits", sha256hex)
	}
	v := &verifyingReader{r: r, hash: sha256.New(), wantHash: sha256hex, wantSize: size}
	err := d.Put(ctx, key, v, size)
	if v.mismatch != nil {
		// The driver may have wrapped the reader's error, or reported its own
		// size check first; the caller wants to know what was wrong.
		return v.mismatch
	}
	return err
}

// verifyingReader hashes and counts what passes through it and replaces the
// final io.EOF with an error if the content is not what was announced.
type verifyingReader struct {
	r        io.Reader
	hash     hash.Hash
	n        int64
	wantHash string
	wantSize int64
	mismatch error
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.mismatch != nil {
		return 0, v.mismatch
	}
	// Never read more than one byte past the announced size: enough to know
	// it is too long without pulling an unbounded stream.
	if limit := v.wantSize - v.n + 1; int64(len(p)) > limit {
		p = p[:limit]
	}
	n, err := v.r.Read(p)
	v.hash.Write(p[:n])
	v.n += int64(n)
	if v.n > v.wantSize {
		v.mismatch = haven.Errorf(haven.EInvalid, "Size mismatch: received more than the expected %d bytes", v.wantSize)
		return n - int(v.n-v.wantSize), v.mismatch
	}
	if err == io.EOF {
		switch {
		case v.n != v.wantSize:
			v.mismatch = haven.Errorf(haven.EInvalid, "Size mismatch: received %d bytes, expected %d", v.n, v.wantSize)
		case hex.EncodeToString(v.hash.Sum(nil)) != v.wantHash:
			v.mismatch = haven.Errorf(haven.EInvalid, "Hash mismatch: content does not have SHA-256 %s", v.wantHash)
		}
		if v.mismatch != nil {
			return n, v.mismatch
		}
	}
	return n, err
}

// GuardReader wraps the reader given to Driver.Put so that a backend sees an
// error instead of more data once ctx is done, and an error instead of io.EOF
// when size is known (not -1) and the stream is shorter or longer than size.
// Backends use it so that every one enforces the same Put contract.
func GuardReader(ctx context.Context, r io.Reader, size int64) io.Reader {
	return &guardReader{ctx: ctx, r: r, size: size}
}

type guardReader struct {
	ctx  context.Context
	r    io.Reader
	size int64
	n    int64
	err  error
}

func (g *guardReader) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	if err := g.ctx.Err(); err != nil {
		g.err = err
		return 0, err
	}
	if g.size >= 0 {
		if limit := g.size - g.n + 1; int64(len(p)) > limit {
			p = p[:limit]
		}
	}
	n, err := g.r.Read(p)
	g.n += int64(n)
	switch {
	case g.size >= 0 && g.n > g.size:
		g.err = haven.Errorf(haven.EInvalid, "Size mismatch: received more than the expected %d bytes", g.size)
		return n - int(g.n-g.size), g.err
	case err == io.EOF && g.size >= 0 && g.n != g.size:
		g.err = haven.Errorf(haven.EInvalid, "Size mismatch: received %d bytes, expected %d", g.n, g.size)
		return n, g.err
	case err != nil && err != io.EOF:
		g.err = err
	}
	return n, err
}
