package main

import (
	"context"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/upstream"
)

// upstreamOptions are the flags of the pull-through cache.
type upstreamOptions struct {
	url, token   string
	offline      bool
	allow, deny  string
	allowPrivate bool
}

func addUpstreamFlags(cmd *cobra.Command, o *upstreamOptions) {
	f := cmd.Flags()
	f.StringVar(&o.url, "upstream", os.Getenv("HAVEN_UPSTREAM"),
		"answer repositories this hub does not have from this Hugging Face-compatible hub (e.g. https://huggingface.co), caching what was fetched")
	f.StringVar(&o.token, "upstream-token", os.Getenv("HAVEN_UPSTREAM_TOKEN"),
		"this hub's token at the upstream; it fetches public repositories only (callers' own upstream tokens open private and gated ones, uncached)")
	f.BoolVar(&o.offline, "upstream-offline", envBool("HAVEN_UPSTREAM_OFFLINE", false),
		"never ask the upstream: serve only what is cached")
	f.StringVar(&o.allow, "upstream-allow", os.Getenv("HAVEN_UPSTREAM_ALLOW"),
		"comma-separated namespaces that are the only ones fetched from the upstream (default: all)")
	f.StringVar(&o.deny, "upstream-deny", os.Getenv("HAVEN_UPSTREAM_DENY"),
		"comma-separated namespaces never fetched from the upstream")
	f.BoolVar(&o.allowPrivate, "upstream-allow-private", envBool("HAVEN_UPSTREAM_ALLOW_PRIVATE", false),
		"let the upstream be on a loopback, private or link-local address (refused by default)")
}

// newUpstream returns the pull-through cache as the API's fallback, or nil
// without --upstream.
func newUpstream(ctx context.Context, o *upstreamOptions, blobs blob.Driver, publicURL string, log *slog.Logger) (api.Fallback, error) {
	if o.url == "" {
		return nil, nil
	}
	c, err := upstream.New(ctx, upstream.Config{
		URL:          o.url,
		Token:        o.token,
		Offline:      o.offline,
		Allow:        strings.Split(o.allow, ","),
		Deny:         strings.Split(o.deny, ","),
		AllowPrivate: o.allowPrivate,
		Blobs:        blobs,
		PublicURL:    publicURL,
		Logger:       log,
	})
	if err != nil {
		return nil, err
	}
	log.Info("pull-through cache", "upstream", c.Host(), "offline", o.offline)
	return c, nil
}
