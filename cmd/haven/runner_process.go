package main

import (
	"log/slog"

	"github.com/havenhub/haven/runner"
	"github.com/havenhub/haven/runner/process"
)

// newProcessRunner runs workloads as local processes under dir.
func newProcessRunner(dir string, log *slog.Logger) (runner.Runner, error) {
	r, err := process.New(process.Config{Dir: dir, Log: log})
	if err != nil {
		return nil, err
	}
	return r, nil
}
