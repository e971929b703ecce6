package main

import (
	"log/slog"
	"net/http"
	"path/filepath"

	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/endpoints"
	"github.com/havenhub/haven/inference"
	"github.com/havenhub/haven/replica"
	"github.com/havenhub/haven/runner"
)

// newEndpoints builds the dedicated inference endpoints, whose replicas
// the serverless models' launcher starts (one checkout per model and
// commit for both) and hold requests in line as o says; their logs are kept in data/endpoints/logs. server
// gives the API server (made later) that authenticates data plane callers.
func newEndpoints(o *inferenceOptions, st *stores, l *inference.Launcher, gpus *runner.GPUPool, server func() *api.Server, data, publicURL string, secret []byte, self *replica.Self, log *slog.Logger) (*endpoints.Service, error) {
	dir := filepath.Join(data, "endpoints")
	svc, err := endpoints.New(endpoints.Config{
		Meta: st.meta, Git: st.git, Launcher: endpoints.InferenceLauncher(l), Flavors: runner.JobFlavors(gpus),
		Dir: dir, PublicURL: publicURL, Secret: secret, Logger: log, Replica: self,
		MaxQueued: o.queue, QueueWait: o.queueWait, Images: l.RunsImages(),
		Authenticate: func(r *http.Request) (*auth.Actor, error) { return server().Authenticate(r) },
	})
	if err != nil {
		return nil, err
	}
	return svc, nil
}
