package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/havenhub/haven/backup"
	"github.com/havenhub/haven/xet/casstore"
)

// errNotEmbedded explains why backup and restore refuse external stores.
var errNotEmbedded = errors.New("haven backup and restore cover the embedded defaults (SQLite, git repositories and large files in the data folder); " +
	"with PostgreSQL, S3 or --repos-dir back up each store with its own tools instead, see docs/OPERATIONS.md")

func backupCmd(opts *options) *cobra.Command {
	return &cobra.Command{
		Use:   "backup DIR",
		Short: "Copy the data folder (database, git repositories, large files, secret.key) into DIR, while the server runs",
		Long: "Writes a consistent backup of the data folder into DIR, which must not exist or be empty: a snapshot of the\n" +
			"SQLite database, the git repositories, the blob store folder (hard links where DIR is on the same file system)\n" +
			"and secret.key, with manifest.json (sizes and hashes) written last. Safe to run while the server runs.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.database != "" || opts.blobStore != "" || opts.repos() != filepath.Join(opts.data, "repos") {
				return errNotEmbedded
			}
			dest, err := filepath.Abs(args[0])
			if err != nil {
				return err
			}
			m, err := openMeta(cmd.Context(), opts)
			if err != nil {
				return fmt.Errorf("opening database: %w", err)
			}
			defer m.Close()
			man, err := backup.Backup(cmd.Context(), backup.Options{Data: opts.data, Meta: m, Log: cmd.ErrOrStderr()}, dest)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "backup of %s in %s: %d repositories, %d files, %d bytes (%d hard-linked)\n",
				opts.data, dest, man.Repos, len(man.Files), man.Bytes, man.Linked)
			return nil
		},
	}
}

func restoreCmd(opts *options) *cobra.Command {
	return &cobra.Command{
		Use:   "restore DIR",
		Short: "Restore the backup in DIR into an empty data folder (--data)",
		Long: "Verifies the backup in DIR against its manifest and puts its files into the data folder, which must not\n" +
			"exist or be empty. Start the server on it afterwards; run haven doctor to check it.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.database != "" || opts.blobStore != "" || opts.repos() != filepath.Join(opts.data, "repos") {
				return errNotEmbedded
			}
			src, err := filepath.Abs(args[0])
			if err != nil {
				return err
			}
			man, err := backup.Restore(cmd.Context(), src, opts.data, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "restored %d repositories, %d files (%d bytes) from %s into %s\n",
				man.Repos, len(man.Files), man.Bytes, src, opts.data)
			return nil
		},
	}
}

func doctorCmd(opts *options) *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Check the data: database and git repositories agree, refs and LFS objects are complete",
		Long: "Checks that every repository in the database has its git repository and the other way round, that every ref\n" +
			"points at a commit whose history is complete, and that every LFS object a ref reaches is stored (as an LFS\n" +
			"object or through Xet). Counts orphaned large objects without deleting them. Exits non-zero on a problem.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openStores(cmd.Context(), opts)
			if err != nil {
				return err
			}
			defer st.meta.Close()
			rep, err := backup.Doctor(cmd.Context(), backup.Check{
				Meta: st.meta, Git: st.git, ReposDir: opts.repos(), Blobs: st.blobs, CAS: casstore.New(st.blobs),
			})
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), rep.String())
			if !rep.OK() {
				return fmt.Errorf("doctor found %d problems", len(rep.Problems))
			}
			return nil
		},
	}
}
