package s3

import (
	"errors"
	"sync"
	"syscall"
	"unsafe"
)

// mapped holds the first byte of every buffer from mapBuffer. Buffers are
// never unmapped (see partBuffers), so it only grows, by one entry for each
// buffer a Driver ever made.
var mapped sync.Map

// mapBuffer maps n bytes of anonymous memory outside the Go heap; its pages
// are taken from the system as they are first written.
func mapBuffer(n int) ([]byte, error) {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, err
	}
	mapped.Store(unsafe.SliceData(b), struct{}{})
	return b, nil
}

// dropPages hands the pages of a buffer from mapBuffer back to the system;
// the buffer stays mapped and usable, and reads as zeros until written
// again. It refuses any other buffer.
func dropPages(b []byte) error {
	if _, ok := mapped.Load(unsafe.SliceData(b)); !ok {
		return errors.New("not a mapped buffer")
	}
	return syscall.Madvise(b, syscall.MADV_DONTNEED)
}
