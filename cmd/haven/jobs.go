package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/jobs"
	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/replica"
	"github.com/havenhub/haven/runner"
	"github.com/havenhub/haven/spaces"
)

// jobsOptions are the flags of the jobs service.
type jobsOptions struct {
	concurrency int // jobs run at once; 0: one per CPU
}

func addJobsFlags(cmd *cobra.Command, o *jobsOptions) {
	n, _ := strconv.Atoi(os.Getenv("HAVEN_JOBS_CONCURRENCY"))
	cmd.Flags().IntVar(&o.concurrency, "jobs-concurrency", n, "how many jobs run at once; the others wait their turn (default: one per CPU)")
}

// newJobs builds the jobs service on the runner of Spaces.
func newJobs(o *jobsOptions, m *meta.Store, run runner.Runner, gpus *runner.GPUPool, bk jobs.Buckets, sp *spaces.Service, logs blob.Driver, data, publicURL string, secret []byte, self *replica.Self, log *slog.Logger) (*jobs.Service, error) {
	return jobs.New(jobs.Config{
		Meta:        m,
		Runner:      run,
		GPUs:        gpus,
		Buckets:     bk,
		SpaceRecipe: sp.JobEnvironment,
		Dir:         filepath.Join(data, "jobs"),
		PublicURL:   publicURL,
		Secret:      secret,
		Replica:     self,
		Logs:        logs,
		Concurrency: o.concurrency,
		Logger:      log,
	})
}
