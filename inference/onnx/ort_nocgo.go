//go:build !cgo

package onnx

import "errors"

var errNoCgo = errors.New("this build of Haven has no ONNX Runtime support (built without cgo)")

// ORTVersion says ONNX Runtime cannot be loaded: the build has no cgo.
func ORTVersion(string) (string, error) { return "", errNoCgo }

func newORT(string, string, int) (graph, error) { return nil, errNoCgo }
