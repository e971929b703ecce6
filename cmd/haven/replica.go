package main

import (
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/replica"
)

// replicaOptions name this server among the replicas sharing a database.
type replicaOptions struct {
	id           string
	advertiseURL string
}

func addReplicaFlags(cmd *cobra.Command, o *replicaOptions) {
	cmd.Flags().StringVar(&o.id, "replica-id", os.Getenv("HAVEN_REPLICA_ID"),
		"this server's name among the replicas sharing the database; keep it across restarts (default: made on first start and kept in DATA/replica-id)")
	cmd.Flags().StringVar(&o.advertiseURL, "advertise-url", os.Getenv("HAVEN_ADVERTISE_URL"),
		"address at which the other replicas reach this one directly, to pass it requests for the Space apps, jobs and endpoints it runs (default: http://ADDR, with the host name for a wildcard address)")
}

// startReplica records this server among the replicas and starts its
// heartbeat; addr is the address it listens on.
func startReplica(o *replicaOptions, data string, m *meta.Store, addr string, log *slog.Logger) (*replica.Self, error) {
	id := o.id
	if id == "" {
		var err error
		if id, err = replica.LoadID(data); err != nil {
			return nil, err
		}
	}
	u := o.advertiseURL
	if u == "" {
		u = replica.AdvertiseURL(addr)
	}
	self := replica.New(replica.Config{Meta: m, ID: id, URL: u, Logger: log})
	if err := self.Start(); err != nil {
		return nil, err
	}
	log.Info("replica", "id", id, "advertise_url", u)
	return self, nil
}
