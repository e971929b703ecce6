//go:build kubernetes

package main

import (
	"log/slog"

	"github.com/havenhub/haven/runner"
	"github.com/havenhub/haven/runner/kubernetes"
)

// newKubeRunner runs workloads on the cluster the flags name.
func newKubeRunner(o *kubeOptions, data string, log *slog.Logger) (runner.Runner, error) {
	client, ns, err := kubernetes.NewClient(o.kubeconfig)
	if err != nil {
		return nil, err
	}
	if o.namespace != "" {
		ns = o.namespace
	}
	r, err := kubernetes.New(kubernetes.Config{Client: client, Namespace: ns, Claim: o.claim, DataRoot: data, PythonImage: o.pythonImage, Log: log})
	if err != nil {
		return nil, err
	}
	log.Info("spaces: running workloads on Kubernetes", "namespace", r.Namespace(), "claim", o.claim)
	return r, nil
}
