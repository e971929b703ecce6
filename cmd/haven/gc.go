package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/havenhub/haven/gc"
	"github.com/havenhub/haven/metrics"
	"github.com/havenhub/haven/xet/casapi"
	"github.com/havenhub/haven/xet/casstore"
)

// storageOptions are the serve flags about large-file storage: the Xet
// protocol and the periodic garbage collection.
type storageOptions struct {
	xet        bool
	xetUploads int
	xetConvert bool
	redirect   bool
	gcInterval time.Duration
	gcGrace    time.Duration
}

func addStorageFlags(cmd *cobra.Command, o *storageOptions) {
	cmd.Flags().BoolVar(&o.xet, "xet", envBool("HAVEN_XET", true), "serve the Xet protocol (chunk-deduplicated uploads and downloads); false hides every Xet signal")
	xetUploads, _ := strconv.Atoi(os.Getenv("HAVEN_XET_MAX_UPLOADS"))
	cmd.Flags().IntVar(&o.xetUploads, "xet-max-uploads", cmp.Or(xetUploads, casapi.DefaultMaxUploads),
		"xorb uploads that run at once; past it the server answers 503 with Retry-After, which Xet clients retry")
	cmd.Flags().BoolVar(&o.xetConvert, "xet-convert", envBool("HAVEN_XET_CONVERT", true),
		"store objects uploaded through the LFS API through Xet too, in the background, so that Xet clients download them chunk by chunk")
	cmd.Flags().BoolVar(&o.redirect, "blob-redirect", envBool("HAVEN_BLOB_REDIRECT", false),
		"answer downloads of large files with a redirect to a short-lived URL of the S3 store, as the Hub redirects to its CDN (clients must reach the S3 server)")
	cmd.Flags().DurationVar(&o.gcInterval, "gc-interval", envDuration("HAVEN_GC_INTERVAL", 6*time.Hour), "how often to remove large objects no ref reaches (0 disables)")
	cmd.Flags().DurationVar(&o.gcGrace, "gc-grace", envDuration("HAVEN_GC_GRACE", gc.DefaultGrace), "age below which unreferenced objects are kept (uploads in progress)")
}

func envBool(key string, def bool) bool {
	if v, err := strconv.ParseBool(os.Getenv(key)); err == nil {
		return v
	}
	return def
}

func envDuration(key string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(key)); err == nil {
		return v
	}
	return def
}

func gcCmd(opts *options) *cobra.Command {
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Remove LFS objects and Xet data that no ref reaches any more",
		Long: "Walks every ref of every repository, then deletes the large objects none of them reaches.\n" +
			"Objects younger than --grace are kept, so it is safe to run while the server accepts uploads.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openStores(cmd.Context(), opts)
			if err != nil {
				return err
			}
			defer st.meta.Close()
			c := &gc.Collector{Meta: st.meta, Git: st.git, Blobs: st.blobs, CAS: casstore.New(st.blobs), Grace: grace}
			res, err := c.Run(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), res)
			return nil
		},
	}
	cmd.Flags().DurationVar(&grace, "grace", envDuration("HAVEN_GC_GRACE", gc.DefaultGrace), "keep unreferenced objects younger than this")
	return cmd
}

// runGC collects garbage every interval until ctx ends.
func runGC(ctx context.Context, st *stores, o *storageOptions, m *metrics.Metrics, log *slog.Logger) {
	if o.gcInterval <= 0 {
		return
	}
	c := &gc.Collector{Meta: st.meta, Git: st.git, Blobs: st.blobs, CAS: casstore.New(st.blobs), Grace: o.gcGrace}
	t := time.NewTicker(o.gcInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		start := time.Now()
		res, err := c.Run(ctx)
		m.ObserveGC(time.Since(start), res.BytesRemoved, err)
		if err != nil {
			log.Error("garbage collection failed", "err", err)
			continue
		}
		log.Info("garbage collection", "result", res.String())
	}
}

func envInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil {
		return v
	}
	return def
}
