package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/havenhub/haven/runner"
	"github.com/havenhub/haven/runner/oci"
)

// spacesOptions are the flags of the Spaces runtime.
type spacesOptions struct {
	runner string // "process" (default), "oci", "kubernetes" or "none"
	engine string // the container engine of the oci runner; "" finds one
	domain string // serve apps at {subdomain}.{domain}
	envs   string // the process runner's Python environments, if shared
	kube   kubeOptions
}

func addSpacesFlags(cmd *cobra.Command, o *spacesOptions) {
	cmd.Flags().StringVar(&o.runner, "runner", envOr("HAVEN_RUNNER", "process"), "how Spaces run: process (local processes), oci (containers, through podman or docker), kubernetes (pods on a cluster) or none (static Spaces only)")
	cmd.Flags().StringVar(&o.engine, "oci-engine", os.Getenv("HAVEN_OCI_ENGINE"), "the container engine of --runner oci: a path or command name (default: podman, else docker)")
	cmd.Flags().StringVar(&o.envs, "runner-envs", os.Getenv("HAVEN_RUNNER_ENVS"), "keep the Python environments of Spaces and jobs in this folder, which Havens on one machine may share (default: under the data folder)")
	addKubeFlags(cmd, &o.kube)
	cmd.Flags().StringVar(&o.domain, "spaces-domain", os.Getenv("HAVEN_SPACES_DOMAIN"), "serve each Space's app at {owner}-{name}.DOMAIN (wildcard DNS) instead of under /-/spaces/ on the public URL")
}

// newRunner builds the runner the flags name.
func newRunner(o *spacesOptions, data string, log *slog.Logger) (runner.Runner, error) {
	switch o.runner {
	case "none", "":
		return nil, nil
	case "process":
		return newProcessRunner(filepath.Join(data, "runner"), o.envs, data, log)
	case "oci":
		r, err := oci.New(oci.Config{Engine: o.engine, Dir: filepath.Join(data, "runner", "oci"), Log: log})
		if err != nil {
			return nil, err
		}
		log.Info("spaces: running apps in containers", "engine", r.Engine())
		return r, nil
	case "kubernetes":
		return newKubeRunner(&o.kube, data, log)
	}
	return nil, fmt.Errorf("unknown --runner %q: expected process, oci, kubernetes or none", o.runner)
}
