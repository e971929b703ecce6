package main

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/havenhub/haven/inference"
	"github.com/havenhub/haven/runner"
)

// inferenceOptions are the flags of serverless inference (/inference).
type inferenceOptions struct {
	idle        time.Duration
	onnxRuntime string
	queue       int
	queueWait   time.Duration
}

func addInferenceFlags(cmd *cobra.Command, o *inferenceOptions) {
	cmd.Flags().DurationVar(&o.idle, "inference-idle", envDuration("HAVEN_INFERENCE_IDLE", inference.DefaultIdle),
		"unload a model served under /inference after this long without requests")
	cmd.Flags().StringVar(&o.onnxRuntime, "onnxruntime-lib", envOr("HAVEN_ONNXRUNTIME_LIB", ""),
		"path of libonnxruntime.so: the Go engine runs ONNX encoder models on it (default: its pure-Go backend)")
	cmd.Flags().IntVar(&o.queue, "inference-queue", envInt("HAVEN_INFERENCE_QUEUE", 0),
		"requests a serverless model or an endpoint holds in line past its concurrency before answering 429 (default 8 × the model's cap; 1024 an endpoint)")
	cmd.Flags().DurationVar(&o.queueWait, "inference-queue-wait", envDuration("HAVEN_INFERENCE_QUEUE_WAIT", 0),
		"how long a request waits in that line before a 429 (default 30s a serverless model, 60s an endpoint)")
}

// newInference builds the engine launcher (models checked out under
// data/inference/models) and the serverless service on it (engine output in
// data/inference/logs).
func newInference(o *inferenceOptions, st *stores, run runner.Runner, gpus *runner.GPUPool,
	open func(ctx context.Context, oid string) (io.ReadSeekCloser, int64, error), data, publicURL string, log *slog.Logger) (*inference.Launcher, *inference.Service, error) {
	dir := filepath.Join(data, "inference")
	l, err := inference.NewLauncher(inference.LauncherConfig{
		Git: st.git, Open: open, Runner: run, GPUs: gpus, Dir: filepath.Join(dir, "models"),
		ONNXRuntime: o.onnxRuntime, Logger: log,
	})
	if err != nil {
		return nil, nil, err
	}
	svc := inference.New(inference.Config{
		Meta: st.meta, Git: st.git, Launcher: l, PublicURL: publicURL,
		Idle: o.idle, MaxQueued: o.queue, QueueWait: o.queueWait, LogDir: filepath.Join(dir, "logs"), Logger: log,
	})
	return l, svc, nil
}
