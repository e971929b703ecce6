package s3

import (
	"bytes"
	"runtime"
	"testing"
	"unsafe"
)

// TestPartBuffers: buffers are reused; on Linux they are made outside the
// Go heap, and once none is in use their pages are dropped (they read as
// zeros) while they stay usable; a buffer in use keeps the free ones intact.
func TestPartBuffers(t *testing.T) {
	const size = 8 << 20
	p := &partBuffers{size: size}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	a, b := p.get(), p.get()
	runtime.ReadMemStats(&after)
	if len(a) != size || len(b) != size || unsafe.SliceData(a) == unsafe.SliceData(b) {
		t.Fatalf("got buffers of %d and %d bytes, distinct: %v", len(a), len(b), unsafe.SliceData(a) != unsafe.SliceData(b))
	}
	linux := runtime.GOOS == "linux"
	if grew := after.HeapSys - before.HeapSys; linux && grew >= size {
		t.Errorf("the Go heap grew by %d bytes for two buffers; want them outside it", grew)
	}
	fill := bytes.Repeat([]byte{7}, size)
	copy(a, fill)
	copy(b, fill)

	tests := []struct {
		name  string
		inUse bool // b is still in use when the free buffers are dropped
		zeros bool // a reads as zeros afterwards
	}{
		{name: "a buffer in use", inUse: true, zeros: false},
		{name: "none in use", inUse: false, zeros: linux},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			copy(a, fill)
			p.put(a)
			if !tc.inUse {
				p.put(b)
			}
			p.drop()
			got := p.get()
			if linux && unsafe.SliceData(got) != unsafe.SliceData(a) && unsafe.SliceData(got) != unsafe.SliceData(b) {
				t.Fatal("a new buffer was made while one was free")
			}
			if !tc.inUse {
				// Both are free again: take the other one too.
				other := p.get()
				if unsafe.SliceData(got) != unsafe.SliceData(a) {
					got, other = other, got
				}
				b = other
			}
			if unsafe.SliceData(got) != unsafe.SliceData(a) {
				// Outside Linux the dropped buffers are let go: nothing
				// more to check.
				a = got
				return
			}
			if zeros := bytes.Count(got, []byte{0}) == size; zeros != tc.zeros {
				t.Errorf("after the drop the free buffer reads as zeros: %v, want %v", zeros, tc.zeros)
			}
			a = got
		})
	}
	p.put(a)
	p.put(b)
}
