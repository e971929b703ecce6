// Package deploy holds what runs Haven elsewhere than from a checkout: the
// container image's Dockerfile and the Helm chart (helm/). No container
// engine builds the image in the tests (none can pull a base image here);
// this test checks what the chart and the docs count on.
package deploy

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for what, re := range map[string]string{
		"a build stage and a runtime stage": `(?m)^FROM golang:\S+ AS build$[\s\S]*^FROM debian:\S+-slim$`,
		"cgo on, for DuckDB":                `CGO_ENABLED=1 go build`,
		"the Kubernetes runner built in":    `-tags kubernetes`,
		"git and git-lfs":                   `\bgit git-lfs\b`,
		"a user of its own":                 `(?m)^USER 1000:1000$`,
		"port 8080 on every address":        `HAVEN_ADDR=0\.0\.0\.0:8080`,
		"the health check on /healthz":      `(?m)^HEALTHCHECK [\s\S]*127\.0\.0\.1:8080/healthz`,
		"haven serve by default":            `(?m)^CMD \["serve"\]$`,
		"the data folder the chart mounts":  `HAVEN_DATA=/var/lib/haven`,
	} {
		if !regexp.MustCompile(re).MatchString(df) {
			t.Errorf("the Dockerfile lacks %s (%s)", what, re)
		}
	}
	// A bare download would fetch DuckDB's libraries for every platform.
	if regexp.MustCompile(`(?m)^RUN[^\n]*go mod download`).MatchString(df) {
		t.Error("the Dockerfile runs go mod download")
	}
	// The build tag of the Kubernetes runner's wiring is the one built.
	on, err := os.ReadFile("../cmd/haven/runner_kube_on.go")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(on), "//go:build kubernetes\n") {
		t.Error("cmd/haven/runner_kube_on.go is not built by -tags kubernetes")
	}
}
