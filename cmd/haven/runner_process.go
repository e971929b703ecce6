package main

import (
	"log/slog"
	"os"

	"github.com/havenhub/haven/runner"
	"github.com/havenhub/haven/runner/process"
)

// newProcessRunner runs workloads as local processes under dir, none of
// which may read Haven's data folder.
func newProcessRunner(dir, envs, data string, log *slog.Logger) (runner.Runner, error) {
	// UV_CACHE_DIR names a uv cache to share, as uv itself reads it.
	r, err := process.New(process.Config{Dir: dir, Envs: envs, UVCache: os.Getenv("UV_CACHE_DIR"), Hide: []string{data}, Log: log})
	if err != nil {
		return nil, err
	}
	return r, nil
}
