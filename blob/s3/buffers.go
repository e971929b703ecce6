package s3

import (
	"sync"
	"time"
)

// bufferIdle is how long the part buffers stay unused before their memory
// goes back to the operating system.
const bufferIdle = 5 * time.Second

// partBuffers holds the part buffers of all Puts of a Driver, of size bytes
// each and no more than the Driver has slots, made when first needed and
// kept for reuse.
//
// The buffers live outside the Go heap where the system allows it
// (mapBuffer). In the heap, the full pool (64 MiB by default) is live
// memory while uploads run, and the Go collector lets the heap grow to
// twice what is live before it collects: with the buffers in the heap, the
// garbage of everything else (requests, the Xet conversion) could fill
// another 64 MiB before a collection. Outside it, they are counted once.
// Once no buffer has been in use for bufferIdle, their pages go back to the
// system (dropPages) while the buffers stay mapped: a reader that outlives
// its part, such as an HTTP transport still sending a request body after an
// error, then reads zeros rather than unmapped memory.
type partBuffers struct {
	size int64

	mu    sync.Mutex
	free  [][]byte
	inUse int
	idle  *time.Timer
}

// heapBuffer is a buffer made in the Go heap because mapping one failed; it
// is not kept once idle.
func heapBuffer(n int) []byte { return make([]byte, n) }

// get returns a buffer of p.size bytes; the caller holds a slot of the
// Driver.
func (p *partBuffers) get() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inUse++
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free = p.free[:n-1]
		return b
	}
	if b, err := mapBuffer(int(p.size)); err == nil {
		return b
	}
	return heapBuffer(int(p.size))
}

// put gives back a buffer from get.
func (p *partBuffers) put(b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.free = append(p.free, b[:cap(b)])
	p.inUse--
	if p.inUse > 0 {
		return
	}
	if p.idle == nil {
		p.idle = time.AfterFunc(bufferIdle, p.drop)
	} else {
		p.idle.Reset(bufferIdle)
	}
}

// drop hands the pages of the free buffers back to the system, unless a
// buffer is in use again.
func (p *partBuffers) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.inUse > 0 {
		return
	}
	kept := p.free[:0]
	for _, b := range p.free {
		// A buffer whose pages cannot be dropped (one from the heap) is
		// let go for the collector.
		if dropPages(b) == nil {
			kept = append(kept, b)
		}
	}
	clear(p.free[len(kept):])
	p.free = kept
}
