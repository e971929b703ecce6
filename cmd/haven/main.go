// Command haven runs the Haven hub and administers its data folder.
//
//	haven serve [--addr 127.0.0.1:8080] [--data ./data] [--public-url URL] [--database DSN] [--blob-store URL]
//	haven user create NAME [--admin] [--fullname F] [--email E] [--password P]
//	haven token create NAME --role read|write [--name DISPLAY]
//	haven org create NAME --owner USER
//	haven backup DIR | haven restore DIR | haven doctor
//	haven export NS/NAME DIR | haven import DIR [--as NS/NAME]
//	haven mirror add SRC_URL/NS/NAME [--as NS/NAME] [--interval 1h] | haven mirror add NS/NAME --push-to URL/NS/NAME
//	haven mirror sync NS/NAME | haven mirror list | haven mirror remove ID
//
// The admin commands work on the same data folder (or database) as a running
// server.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/havenhub/haven/runner/process"
)

func main() {
	// Workloads of the process runner start as this binary re-executed.
	process.Main()
	if err := rootCmd().Execute(); err != nil {
		if !errors.As(err, new(loggedError)) {
			fmt.Fprintln(os.Stderr, "haven:", err)
		}
		os.Exit(1)
	}
}

// loggedError is an error that ended a command and was already written to
// its log, in the log's format.
type loggedError struct{ error }

func (e loggedError) Unwrap() error { return e.error }

// options are the settings shared by every command. Flags win over HAVEN_*
// environment variables, which win over the defaults.
type options struct {
	data      string
	database  string
	blobStore string
	// reposDir holds the bare git repositories; empty means data/repos.
	reposDir string
	// secretKeyFile names the file of the deployment's secret key (serve).
	secretKeyFile string
	// replica names this server among the replicas (serve).
	replica replicaOptions
	// logRequests logs every request at info level (serve).
	logRequests bool
	// logFormat is text or json (serve).
	logFormat string
	// metrics counts requests and serves /metrics (serve).
	metrics bool
}

// repos is the folder of the git repositories.
func (o *options) repos() string {
	if o.reposDir != "" {
		return o.reposDir
	}
	return filepath.Join(o.data, "repos")
}

func rootCmd() *cobra.Command {
	opts := &options{}
	root := &cobra.Command{
		Use:           "haven",
		Short:         "A self-hosted hub for machine learning models, datasets and Spaces",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&opts.data, "data", envOr("HAVEN_DATA", "./data"), "data folder (SQLite database, git repositories, large files)")
	pf.StringVar(&opts.database, "database", os.Getenv("HAVEN_DATABASE"), "metadata database: a postgres:// URL, or empty for SQLite in the data folder")
	pf.StringVar(&opts.blobStore, "blob-store", os.Getenv("HAVEN_BLOB_STORE"), "large-file store: an s3://KEY:SECRET@host:port/bucket URL, or empty for the data folder")
	pf.StringVar(&opts.reposDir, "repos-dir", os.Getenv("HAVEN_REPOS_DIR"), "folder of the bare git repositories, shared by every replica (default DATA/repos)")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		// Every path handed on (to workloads above all, which run in
		// folders of their own) must not depend on where Haven started.
		abs, err := filepath.Abs(opts.data)
		opts.data = abs
		if err == nil && opts.reposDir != "" {
			opts.reposDir, err = filepath.Abs(opts.reposDir)
		}
		return err
	}
	root.AddCommand(serveCmd(opts), userCmd(opts), tokenCmd(opts), orgCmd(opts), gcCmd(opts),
		backupCmd(opts), restoreCmd(opts), doctorCmd(opts), exportCmd(opts), importCmd(opts), mirrorCmd(opts),
		xetConvertCmd(opts))
	return root
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
