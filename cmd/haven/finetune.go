package main

import (
	"log/slog"
	"path/filepath"

	"github.com/havenhub/haven/finetune"
	"github.com/havenhub/haven/jobs"
	"github.com/havenhub/haven/runner"
)

// newFinetune builds the fine-tuning service on the jobs service.
func newFinetune(st *stores, j *jobs.Service, gpus *runner.GPUPool, data, publicURL string, log *slog.Logger) (*finetune.Service, error) {
	return finetune.New(finetune.Config{
		Meta: st.meta, Git: st.git, Blobs: st.blobs, Jobs: j, GPUs: gpus,
		Dir: filepath.Join(data, "finetune"), PublicURL: publicURL, Logger: log,
	})
}
