package xet

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/pierrec/lz4/v4"
)

// Compression schemes of a chunk inside a xorb.
const (
	CompressionNone = 0
	CompressionLZ4  = 1
	// CompressionBG4LZ4 regroups the bytes by their position modulo 4
	// before LZ4, which suits arrays of floats.
	CompressionBG4LZ4 = 2
)

const (
	chunkHeaderSize = 8
	// MaxXorbSize bounds a serialized xorb, as on the Hub.
	MaxXorbSize = 64 << 20
	// MaxXorbChunks bounds the chunks of one xorb.
	MaxXorbChunks = 8192
)

// xorbFooterIdent starts the optional footer a client may append to a xorb
// (chunk hashes and offsets, which the server recomputes anyway).
var xorbFooterIdent = []byte("XETBLOB")

// XorbChunk describes one chunk of a parsed xorb.
type XorbChunk struct {
	Hash Hash
	// Start and End delimit the serialized chunk (header included) in the
	// xorb; chunks follow each other, so End is the next chunk's Start.
	Start, End uint32
	// Size is the uncompressed length.
	Size uint32
}

// Xorb is a validated xorb: its hash and its chunks in order.
type Xorb struct {
	Hash   Hash
	Chunks []XorbChunk
	// DataLen is the length of the chunk section, without any footer.
	DataLen int
}

// Refs returns the chunks as merkle leaves.
func (x *Xorb) Refs() []ChunkRef {
	out := make([]ChunkRef, len(x.Chunks))
	for i, c := range x.Chunks {
		out[i] = ChunkRef{Hash: c.Hash, Size: uint64(c.Size)}
	}
	return out
}

// FormatError is a malformed or inconsistent xorb or shard; its message is
// meant for the client.
type FormatError struct{ Msg string }

func (e *FormatError) Error() string { return e.Msg }

func formatErr(format string, args ...any) error {
	return &FormatError{Msg: fmt.Sprintf(format, args...)}
}

// ParseXorb checks a serialized xorb completely: every chunk header, every
// chunk's decompressed length, and that the merkle root of the chunk hashes
// is want. A footer, if present, must agree with the chunks.
func ParseXorb(data []byte, want Hash) (*Xorb, error) {
	if len(data) > maxXorbUpload {
		return nil, formatErr("xorb is larger than %d bytes", MaxXorbSize)
	}
	v := NewXorbVerifier(bytes.NewReader(data), want)
	if _, err := io.Copy(io.Discard, v); err != nil {
		return nil, err
	}
	return v.Xorb(), nil
}

// maxXorbUpload bounds an uploaded xorb, footer included.
const maxXorbUpload = MaxXorbSize + 1<<20

// maxXorbFooter bounds the optional footer: chunk hashes and offsets of at
// most MaxXorbChunks chunks.
const maxXorbFooter = 1 << 20

// maxCompressedChunk bounds the stored body of one chunk: LZ4 output of
// incompressible data is slightly larger than its input.
const maxCompressedChunk = 2 * MaxChunkSize

// XorbVerifier checks a serialized xorb while it streams. Reading from it
// yields the chunk section of the xorb (without any footer), one chunk at a
// time and only after that chunk has been decompressed and hashed; at the
// end, in place of io.EOF, it returns a *FormatError if the merkle root of
// the chunk hashes is not the expected hash or the xorb is malformed. Given
// to blob.Driver.Put, it therefore stores a xorb only once it checks out,
// holding no more than one chunk in memory.
type XorbVerifier struct {
	r       *bufio.Reader
	want    Hash
	x       Xorb
	pos     int    // serialized bytes consumed so far
	chunk   []byte // the current serialized chunk, header included
	pending []byte // the part of chunk not yet returned
	raw     []byte // decompression scratch
	err     error  // sticky
	done    bool
}

// NewXorbVerifier returns a verifier of the xorb read from r, which must
// hash to want.
func NewXorbVerifier(r io.Reader, want Hash) *XorbVerifier {
	return &XorbVerifier{r: bufio.NewReaderSize(r, 64<<10), want: want}
}

// Read implements io.Reader; see XorbVerifier.
func (v *XorbVerifier) Read(p []byte) (int, error) {
	for len(v.pending) == 0 {
		if v.err != nil {
			return 0, v.err
		}
		if v.done {
			return 0, io.EOF
		}
		v.err = v.next()
	}
	n := copy(p, v.pending)
	v.pending = v.pending[n:]
	return n, nil
}

// Err returns the error that stopped the verifier: a *FormatError for a
// malformed xorb or a wrong hash, or the error of the underlying reader.
func (v *XorbVerifier) Err() error { return v.err }

// Xorb returns the verified xorb once Read has returned io.EOF, else nil.
// It is a copy: callers cache it, and it must not keep the verifier's
// buffers alive.
func (v *XorbVerifier) Xorb() *Xorb {
	if !v.done || v.err != nil {
		return nil
	}
	x := v.x
	x.Chunks = slices.Clone(x.Chunks)
	return &x
}

// next reads, checks and queues the next chunk, or checks the footer and the
// hash at the end.
func (v *XorbVerifier) next() error {
	hdr, err := v.r.Peek(chunkHeaderSize)
	if len(hdr) == 0 && err == io.EOF {
		return v.finish()
	}
	if len(hdr) > 0 && hdr[0] == xorbFooterIdent[0] {
		if id, _ := v.r.Peek(len(xorbFooterIdent)); bytes.Equal(id, xorbFooterIdent) {
			footer, err := io.ReadAll(io.LimitReader(v.r, maxXorbFooter+1))
			if err != nil {
				return err
			}
			if len(footer) > maxXorbFooter || v.pos+len(footer) > maxXorbUpload {
				return formatErr("xorb is larger than %d bytes", MaxXorbSize)
			}
			if err := checkXorbFooter(footer, &v.x); err != nil {
				return err
			}
			return v.finish()
		}
	}
	n, at := len(v.x.Chunks), v.pos
	if err != nil {
		if err == io.EOF {
			return formatErr("chunk %d at offset %d: truncated chunk header", n, at)
		}
		return err
	}
	if n >= MaxXorbChunks {
		return formatErr("xorb has more than %d chunks", MaxXorbChunks)
	}
	h, err := parseChunkHeader(hdr)
	if err != nil {
		return formatErr("chunk %d at offset %d: %v", n, at, err)
	}
	if h.compressed > maxCompressedChunk {
		return formatErr("chunk %d at offset %d: stored body of %d bytes is too large", n, at, h.compressed)
	}
	size := chunkHeaderSize + h.compressed
	if at+size > maxXorbUpload {
		return formatErr("xorb is larger than %d bytes", MaxXorbSize)
	}
	if cap(v.chunk) < size {
		v.chunk = make([]byte, size, max(size, 2*cap(v.chunk)))
	}
	v.chunk = v.chunk[:size]
	if _, err := io.ReadFull(v.r, v.chunk); err != nil {
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return formatErr("chunk %d at offset %d is truncated", n, at)
		}
		return err
	}
	raw, err := decompress(h.scheme, v.chunk[chunkHeaderSize:], h.size, v.raw[:0])
	if err != nil {
		return formatErr("chunk %d at offset %d: %v", n, at, err)
	}
	v.raw = raw
	v.x.Chunks = append(v.x.Chunks, XorbChunk{Hash: ChunkHash(raw), Start: uint32(at), End: uint32(at + size), Size: uint32(h.size)})
	v.pos += size
	v.pending = v.chunk
	return nil
}

// finish checks the whole xorb once its chunks have been read.
func (v *XorbVerifier) finish() error {
	if len(v.x.Chunks) == 0 {
		return formatErr("xorb has no chunks")
	}
	v.x.DataLen = int(v.x.Chunks[len(v.x.Chunks)-1].End)
	v.x.Hash = XorbHash(v.x.Refs())
	if v.x.Hash != v.want {
		return formatErr("xorb hash mismatch: the chunks hash to %s, not %s", v.x.Hash, v.want)
	}
	v.done = true
	return nil
}

type chunkHeader struct {
	compressed, size int
	scheme           byte
}

func parseChunkHeader(b []byte) (chunkHeader, error) {
	if len(b) < chunkHeaderSize {
		return chunkHeader{}, errors.New("truncated chunk header")
	}
	if b[0] != 0 {
		return chunkHeader{}, fmt.Errorf("unknown chunk header version %d", b[0])
	}
	h := chunkHeader{
		compressed: int(b[1]) | int(b[2])<<8 | int(b[3])<<16,
		scheme:     b[4],
		size:       int(b[5]) | int(b[6])<<8 | int(b[7])<<16,
	}
	if h.size > MaxChunkSize {
		return h, fmt.Errorf("chunk of %d bytes exceeds the %d-byte maximum", h.size, MaxChunkSize)
	}
	if h.scheme > CompressionBG4LZ4 {
		return h, fmt.Errorf("unknown compression scheme %d", h.scheme)
	}
	return h, nil
}

// checkXorbFooter validates the optional footer against the parsed chunks:
// same hash list, and the trailing length field covering exactly the footer.
func checkXorbFooter(f []byte, x *Xorb) error {
	if len(f) < 4+len(xorbFooterIdent) {
		return formatErr("xorb footer is truncated")
	}
	infoLen := binary.LittleEndian.Uint32(f[len(f)-4:])
	if int(infoLen) != len(f)-4 {
		return formatErr("xorb footer length field %d does not match its %d bytes", infoLen, len(f)-4)
	}
	// ident(7) version(1) hash(32) ident(7) version(1) count(4) hashes…
	const hashesAt = 7 + 1 + 32 + 7 + 1 + 4
	if len(f) < hashesAt || f[7] != 1 {
		return formatErr("unsupported xorb footer version")
	}
	n := int(binary.LittleEndian.Uint32(f[hashesAt-4:]))
	if n != len(x.Chunks) || len(f) < hashesAt+32*n {
		return formatErr("xorb footer lists %d chunks, the xorb has %d", n, len(x.Chunks))
	}
	for i, c := range x.Chunks {
		if !bytes.Equal(f[hashesAt+32*i:hashesAt+32*i+32], c.Hash[:]) {
			return formatErr("xorb footer chunk hash %d does not match the chunk", i)
		}
	}
	return nil
}

var lz4Readers = sync.Pool{New: func() any { return lz4.NewReader(nil) }}

// decompress returns the size uncompressed bytes of one chunk body,
// appending to dst.
func decompress(scheme byte, body []byte, size int, dst []byte) ([]byte, error) {
	switch scheme {
	case CompressionNone:
		if len(body) != size {
			return nil, fmt.Errorf("uncompressed chunk has %d bytes, header says %d", len(body), size)
		}
		return append(dst, body...), nil
	case CompressionLZ4, CompressionBG4LZ4:
		zr := lz4Readers.Get().(*lz4.Reader)
		defer func() {
			// A pooled reader must not keep the chunk it read alive.
			zr.Reset(nil)
			lz4Readers.Put(zr)
		}()
		zr.Reset(bytes.NewReader(body))
		start := len(dst)
		if cap(dst)-start < size+1 {
			nd := make([]byte, start, start+size+1)
			copy(nd, dst)
			dst = nd
		}
		buf := dst[start : start+size+1]
		n, err := io.ReadFull(zr, buf)
		switch {
		case err == nil:
			return nil, fmt.Errorf("chunk decompresses to more than %d bytes", size)
		case err != io.ErrUnexpectedEOF && err != io.EOF:
			return nil, fmt.Errorf("corrupt LZ4 data: %v", err)
		case n != size:
			return nil, fmt.Errorf("chunk decompresses to %d bytes, header says %d", n, size)
		}
		out := dst[:start+size]
		if scheme == CompressionBG4LZ4 {
			ungroup4(out[start:])
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown compression scheme %d", scheme)
}

// group4 reorders b so that bytes at positions 0,4,8… come first, then
// 1,5,9…, and so on; ungroup4 undoes it.
func group4(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for g := 0; g < 4; g++ {
		for i := g; i < len(b); i += 4 {
			out = append(out, b[i])
		}
	}
	return out
}

func ungroup4(b []byte) {
	grouped := append([]byte(nil), b...)
	pos := 0
	for g := 0; g < 4; g++ {
		for i := g; i < len(b); i += 4 {
			b[i] = grouped[pos]
			pos++
		}
	}
}

// AppendChunk serializes one chunk (header and body) onto dst, compressing
// with LZ4 when that makes it smaller.
func AppendChunk(dst, data []byte) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, chunkHeaderSize)...)
	out := appender{dst}
	zw := lz4Writers.Get().(*lz4.Writer)
	zw.Reset(&out)
	_, err := zw.Write(data)
	if err == nil {
		err = zw.Close()
	}
	// A pooled writer must not keep dst alive.
	zw.Reset(nil)
	lz4Writers.Put(zw)
	if n := len(out.b) - start - chunkHeaderSize; err == nil && n < len(data) {
		// The header goes over the 8 bytes reserved before the body.
		return appendChunkHeader(out.b[:start], CompressionLZ4, n, len(data))[:start+chunkHeaderSize+n]
	}
	return appendChunkRaw(out.b[:start], CompressionNone, data, len(data))
}

// lz4Writers keeps the compressors of AppendChunk, whose buffers would
// otherwise be allocated for every chunk. Blocks of 256 KiB hold the
// largest chunk in one block, where the default 4 MiB would cost a buffer
// sixteen times the size for every writer and every reader.
var lz4Writers = sync.Pool{New: func() any {
	zw := lz4.NewWriter(nil)
	_ = zw.Apply(lz4.BlockSizeOption(lz4.Block256Kb))
	return zw
}}

// appender is an io.Writer that appends to b.
type appender struct{ b []byte }

func (a *appender) Write(p []byte) (int, error) {
	a.b = append(a.b, p...)
	return len(p), nil
}

// appendChunkHeader appends the header of a chunk of size bytes whose body
// of n bytes is stored with scheme.
func appendChunkHeader(dst []byte, scheme byte, n, size int) []byte {
	return append(dst, 0, byte(n), byte(n>>8), byte(n>>16), scheme, byte(size), byte(size>>8), byte(size>>16))
}

func appendChunkRaw(dst []byte, scheme byte, body []byte, size int) []byte {
	return append(appendChunkHeader(dst, scheme, len(body), size), body...)
}

// DecodeChunks decompresses consecutive serialized chunks (a byte range of
// a xorb that starts and ends on chunk boundaries) and appends their bytes.
func DecodeChunks(dst, data []byte) ([]byte, error) {
	for pos := 0; pos < len(data); {
		hdr, err := parseChunkHeader(data[pos:])
		if err != nil {
			return dst, err
		}
		end := pos + chunkHeaderSize + hdr.compressed
		if end > len(data) {
			return dst, errors.New("truncated chunk")
		}
		if dst, err = decompress(hdr.scheme, data[pos+chunkHeaderSize:end], hdr.size, dst); err != nil {
			return dst, err
		}
		pos = end
	}
	return dst, nil
}

// errCompressed tells ChunkBody's caller to decompress the chunk instead.
var errCompressed = errors.New("chunk is compressed")

// ChunkBody returns the bytes of one serialized chunk stored without
// compression, without copying them; for a compressed chunk it returns an
// error and the caller decodes it with DecodeChunks.
func ChunkBody(chunk []byte) ([]byte, error) {
	hdr, err := parseChunkHeader(chunk)
	if err != nil {
		return nil, err
	}
	if hdr.scheme != CompressionNone {
		return nil, errCompressed
	}
	if len(chunk) != chunkHeaderSize+hdr.compressed || hdr.compressed != hdr.size {
		return nil, errors.New("malformed uncompressed chunk")
	}
	return chunk[chunkHeaderSize:], nil
}

// EncodeXorb serializes chunks into a xorb (without footer) and returns it
// with its hash.
func EncodeXorb(chunks [][]byte) ([]byte, Hash) {
	var data []byte
	refs := make([]ChunkRef, len(chunks))
	for i, c := range chunks {
		data = AppendChunk(data, c)
		refs[i] = ChunkRef{Hash: ChunkHash(c), Size: uint64(len(c))}
	}
	return data, XorbHash(refs)
}
