package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/havenhub/haven/runner"
)

// spacesOptions are the flags of the Spaces runtime.
type spacesOptions struct {
	runner string // "process" (default) or "none"
	domain string // serve apps at {subdomain}.{domain}
}

func addSpacesFlags(cmd *cobra.Command, o *spacesOptions) {
	cmd.Flags().StringVar(&o.runner, "runner", envOr("HAVEN_RUNNER", "process"), "how Spaces run: process (local processes) or none (static Spaces only)")
	cmd.Flags().StringVar(&o.domain, "spaces-domain", os.Getenv("HAVEN_SPACES_DOMAIN"), "serve each Space's app at {owner}-{name}.DOMAIN (wildcard DNS) instead of under /-/spaces/ on the public URL")
}

// newRunner builds the runner the flags name.
func newRunner(o *spacesOptions, data string, log *slog.Logger) (runner.Runner, error) {
	switch o.runner {
	case "none", "":
		return nil, nil
	case "process":
		return newProcessRunner(filepath.Join(data, "runner"), log)
	}
	return nil, fmt.Errorf("unknown --runner %q: expected process or none", o.runner)
}
