//go:build !kubernetes

package main

import (
	"errors"
	"log/slog"

	"github.com/havenhub/haven/runner"
)

// newKubeRunner refuses: the Kubernetes client is large, and only builds
// tagged kubernetes (the container image's) carry it.
func newKubeRunner(*kubeOptions, string, *slog.Logger) (runner.Runner, error) {
	return nil, errors.New("this haven was built without the Kubernetes runner: build it with -tags kubernetes, as the container image is")
}
