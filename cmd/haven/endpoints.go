package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"

	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/endpoints"
	"github.com/havenhub/haven/inference"
	"github.com/havenhub/haven/runner"
)

// newEndpoints builds the dedicated inference endpoints: their
// engines are launched from checkouts under data/endpoints/models, their
// logs are kept in data/endpoints/logs. server gives the API server (made
// later) that opens LFS objects and authenticates data plane callers.
func newEndpoints(st *stores, run runner.Runner, gpus *runner.GPUPool, server func() *api.Server, data, publicURL string, secret []byte, log *slog.Logger) (*endpoints.Service, error) {
	dir := filepath.Join(data, "endpoints")
	l, err := inference.NewLauncher(inference.LauncherConfig{
		Git: st.git, Runner: run, GPUs: gpus, Dir: filepath.Join(dir, "models"), Logger: log,
		Open: func(ctx context.Context, oid string) (io.ReadSeekCloser, int64, error) {
			return server().OpenObject(ctx, oid)
		},
	})
	if err != nil {
		return nil, err
	}
	svc, err := endpoints.New(endpoints.Config{
		Meta: st.meta, Git: st.git, Launcher: endpoints.InferenceLauncher(l), Flavors: runner.JobFlavors(gpus),
		Dir: dir, PublicURL: publicURL, Secret: secret, Logger: log,
		Authenticate: func(r *http.Request) (*auth.Actor, error) { return server().Authenticate(r) },
	})
	if err != nil {
		return nil, err
	}
	return svc, nil
}
