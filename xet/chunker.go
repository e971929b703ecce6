package xet

import (
	"errors"
	"io"
)

// Chunking parameters fixed by the protocol: boundaries fall where the gear
// hash has its 16 top bits clear, with chunks of 8 KiB to 128 KiB.
const (
	MinChunkSize = 8 << 10
	MaxChunkSize = 128 << 10
	chunkMask    = 0xFFFF000000000000
	// gearWindow is how many trailing bytes the gear hash depends on: each
	// step shifts the hash left by one bit.
	gearWindow = 64
)

// NextBoundary returns the length of the first chunk of data, or 0 if data
// holds no boundary yet (more bytes are needed unless data is the end of
// the stream).
func NextBoundary(data []byte) int {
	if len(data) < MinChunkSize {
		return 0
	}
	// The hash at any position depends only on the last 64 bytes, so the
	// bytes before MinChunkSize-64 cannot influence the first test.
	start := MinChunkSize - gearWindow - 1
	limit := min(len(data), MaxChunkSize)
	var h uint64
	for i := start; i < limit; i++ {
		h = h<<1 + gearTable[data[i]]
		if i+1 >= MinChunkSize && h&chunkMask == 0 {
			return i + 1
		}
	}
	if limit == MaxChunkSize {
		return MaxChunkSize
	}
	return 0
}

// Chunker cuts a stream into content-defined chunks.
type Chunker struct {
	r     io.Reader
	buf   []byte
	eof   bool
	reuse bool
	base  []byte // the whole buffer, when reused
}

// NewChunker returns a chunker that reads r.
func NewChunker(r io.Reader) *Chunker {
	return &Chunker{r: r, buf: make([]byte, 0, 4*MaxChunkSize)}
}

// Reuse makes c read into one buffer for good rather than into a fresh one
// whenever it fills up: each chunk Next returns is then overwritten by a
// later call, so a caller that keeps chunks must not use it.
func (c *Chunker) Reuse() {
	c.reuse = true
	c.base = c.buf[:cap(c.buf)]
}

// Next returns the next chunk, or io.EOF after the last one. The returned
// slice is valid until the next call.
func (c *Chunker) Next() ([]byte, error) {
	for {
		if n := NextBoundary(c.buf); n > 0 {
			return c.take(n), nil
		}
		if c.eof {
			if len(c.buf) == 0 {
				return nil, io.EOF
			}
			return c.take(len(c.buf)), nil
		}
		if err := c.fill(); err != nil {
			return nil, err
		}
	}
}

// take hands out the first n buffered bytes as a chunk.
func (c *Chunker) take(n int) []byte {
	out := c.buf[:n:n]
	c.buf = c.buf[n:]
	return out
}

func (c *Chunker) fill() error {
	if cap(c.buf)-len(c.buf) < MaxChunkSize && c.reuse {
		c.buf = c.base[:copy(c.base, c.buf)]
	} else if cap(c.buf)-len(c.buf) < MaxChunkSize {
		// Move the unread bytes to a fresh buffer: the old one may still
		// back the chunk returned last.
		nb := make([]byte, len(c.buf), 4*MaxChunkSize)
		copy(nb, c.buf)
		c.buf = nb
	}
	n, err := io.ReadFull(c.r, c.buf[len(c.buf):cap(c.buf)])
	c.buf = c.buf[:len(c.buf)+n]
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		c.eof = true
		return nil
	}
	return err
}

// Chunks cuts data into chunks and returns their lengths.
func Chunks(data []byte) []int {
	var out []int
	for len(data) > 0 {
		n := NextBoundary(data)
		if n == 0 {
			n = len(data)
		}
		out = append(out, n)
		data = data[n:]
	}
	return out
}
