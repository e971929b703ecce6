package main

import (
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/webhooks"
)

// webhooksOptions are the flags of webhook delivery.
type webhooksOptions struct {
	allowPrivate bool // deliver to loopback, private and link-local addresses
}

func addWebhooksFlags(cmd *cobra.Command, o *webhooksOptions) {
	cmd.Flags().BoolVar(&o.allowPrivate, "webhooks-allow-private", envBool("HAVEN_WEBHOOKS_ALLOW_PRIVATE", false),
		"let webhooks target loopback, private and link-local addresses (refused by default: they reach this server's own network)")
}

// startWebhooks returns the webhook service with its delivery workers
// running; Close stops them.
func startWebhooks(o *webhooksOptions, m *meta.Store, publicURL string, aud haven.Auditor, j webhooks.JobStarter, log *slog.Logger) *webhooks.Service {
	s := webhooks.New(webhooks.Config{Meta: m, PublicURL: publicURL, AllowPrivate: o.allowPrivate, Audit: aud, Jobs: j, Logger: log})
	s.Start()
	return s
}
