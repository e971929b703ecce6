//go:build !linux

package s3

import "errors"

var errNoMapping = errors.New("buffers outside the Go heap are made on Linux only")

// mapBuffer makes no buffer outside the Go heap on this system.
func mapBuffer(int) ([]byte, error) { return nil, errNoMapping }

// dropPages refuses: every buffer is in the Go heap.
func dropPages([]byte) error { return errNoMapping }
