package casstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/havenhub/haven/xet"
)

// Open returns the content of a stored file, reconstructed from its xorbs,
// for reading with seeking (HTTP Range).
func (s *Store) Open(ctx context.Context, hash xet.Hash) (io.ReadSeekCloser, int64, error) {
	f, err := s.File(ctx, hash)
	if err != nil {
		return nil, 0, err
	}
	return s.open(ctx, f), f.Size, nil
}

// OpenSHA256 is Open for the Xet file with the given SHA-256.
func (s *Store) OpenSHA256(ctx context.Context, oid string) (io.ReadSeekCloser, int64, error) {
	f, err := s.FileBySHA256(ctx, oid)
	if err != nil {
		return nil, 0, err
	}
	return s.open(ctx, f), f.Size, nil
}

func (s *Store) open(ctx context.Context, f *File) *fileReader {
	r := &fileReader{ctx: ctx, s: s, f: f, starts: make([]int64, len(f.Terms)), window: readWindow}
	var off int64
	for i, t := range f.Terms {
		r.starts[i] = off
		off += int64(t.Size)
	}
	return r
}

// readWindow bounds the serialized bytes fetched from a xorb at once.
const readWindow = 16 << 20

// verifyWindow is readWindow for the SHA-256 check of an uploaded shard:
// uploads run many at once, and their reads are sequential anyway.
const verifyWindow = 1 << 20

// fileReader reconstructs a file on demand. It keeps one decoded window of
// consecutive chunks (from one term) and refills it when a read leaves it.
type fileReader struct {
	ctx    context.Context
	s      *Store
	f      *File
	starts []int64 // file offset of each term
	pos    int64
	window uint32 // bound of the serialized bytes of one fill

	// The decoded window: its file offset and its pieces, which are
	// sub-slices of raw (uncompressed chunks) or decompressed copies.
	winStart int64
	winLen   int64
	pieces   [][]byte
	raw      []byte
	dec      []byte
}

func (r *fileReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.pos
	case io.SeekEnd:
		offset += r.f.Size
	default:
		return 0, errors.New("casstore: invalid whence")
	}
	if offset < 0 {
		return 0, errors.New("casstore: negative position")
	}
	r.pos = offset
	return offset, nil
}

func (r *fileReader) Close() error { return nil }

func (r *fileReader) Read(p []byte) (int, error) {
	if r.pos >= r.f.Size {
		return 0, io.EOF
	}
	if r.pos < r.winStart || r.pos >= r.winStart+r.winLen {
		if err := r.fill(); err != nil {
			return 0, err
		}
	}
	// Copy from the pieces that cover pos.
	n := 0
	off := r.pos - r.winStart
	for _, pc := range r.pieces {
		if off >= int64(len(pc)) {
			off -= int64(len(pc))
			continue
		}
		k := copy(p[n:], pc[off:])
		n += k
		off = 0
		if n == len(p) {
			break
		}
	}
	r.pos += int64(n)
	return n, nil
}

// fill decodes the chunks around pos: from the chunk that contains it, as
// many chunks of the same term as fit in readWindow.
func (r *fileReader) fill() error {
	ti := sort.Search(len(r.starts), func(i int) bool { return r.starts[i] > r.pos }) - 1
	if ti < 0 {
		return fmt.Errorf("casstore: position %d outside file %s", r.pos, r.f.Hash)
	}
	t := r.f.Terms[ti]
	x, err := r.s.Xorb(r.ctx, t.Xorb)
	if err != nil {
		return fmt.Errorf("casstore: xorb %s of file %s: %w", t.Xorb, r.f.Hash, err)
	}
	if int(t.End) > len(x.Chunks) {
		return fmt.Errorf("casstore: file %s refers past the end of xorb %s", r.f.Hash, t.Xorb)
	}
	// Skip whole chunks before pos.
	off := r.starts[ti]
	first := int(t.Start)
	for first < int(t.End)-1 && off+int64(x.Chunks[first].Size) <= r.pos {
		off += int64(x.Chunks[first].Size)
		first++
	}
	last := first + 1
	for last < int(t.End) && x.Chunks[last].End-x.Chunks[first].Start <= r.window {
		last++
	}
	start, end := x.Chunks[first].Start, x.Chunks[last-1].End
	rc, _, err := r.s.OpenXorb(r.ctx, t.Xorb)
	if err != nil {
		return fmt.Errorf("casstore: xorb %s of file %s: %w", t.Xorb, r.f.Hash, err)
	}
	defer rc.Close()
	if _, err := rc.Seek(int64(start), io.SeekStart); err != nil {
		return err
	}
	if cap(r.raw) < int(end-start) {
		r.raw = make([]byte, end-start)
	}
	r.raw = r.raw[:end-start]
	if _, err := io.ReadFull(rc, r.raw); err != nil {
		return fmt.Errorf("casstore: reading xorb %s: %w", t.Xorb, err)
	}
	r.pieces = r.pieces[:0]
	r.dec = r.dec[:0]
	var total int64
	for i := first; i < last; i++ {
		c := x.Chunks[i]
		body := r.raw[c.Start-start : c.End-start]
		piece, err := xet.ChunkBody(body)
		if err != nil {
			// Decompress into the shared buffer; remember where.
			at := len(r.dec)
			if r.dec, err = xet.DecodeChunks(r.dec, body); err != nil {
				return fmt.Errorf("casstore: chunk %d of xorb %s: %w", i, t.Xorb, err)
			}
			piece = r.dec[at:len(r.dec):len(r.dec)]
		}
		if len(piece) != int(c.Size) {
			return fmt.Errorf("casstore: chunk %d of xorb %s has %d bytes, expected %d", i, t.Xorb, len(piece), c.Size)
		}
		r.pieces = append(r.pieces, piece)
		total += int64(len(piece))
	}
	// Pieces decoded into dec may have moved when dec grew: recompute them.
	if len(r.dec) > 0 {
		r.pieces = r.pieces[:0]
		at := 0
		for i := first; i < last; i++ {
			c := x.Chunks[i]
			body := r.raw[c.Start-start : c.End-start]
			if piece, err := xet.ChunkBody(body); err == nil {
				r.pieces = append(r.pieces, piece)
				continue
			}
			r.pieces = append(r.pieces, r.dec[at:at+int(c.Size)])
			at += int(c.Size)
		}
	}
	r.winStart, r.winLen = off, total
	return nil
}
