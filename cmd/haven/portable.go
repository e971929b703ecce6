package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/evals"
	"github.com/havenhub/haven/portable"
)

func exportCmd(opts *options) *cobra.Command {
	var typ string
	cmd := &cobra.Command{
		Use:   "export NAMESPACE/NAME DIR",
		Short: "Write a repository as a plain bare git repository with its LFS objects into DIR, while the server runs",
		Long: "Writes the repository into DIR (new or empty) as a bare git repository with every ref (branches, tags,\n" +
			"refs/pr/*, refs/convert/*) and its LFS objects in lfs/objects/, where git-lfs finds them: `git clone DIR` and\n" +
			"`git lfs pull` work without Haven. Files stored through Xet are written as plain bytes. " + portable.ManifestName + "\n" +
			"describes the repository (type, id, visibility, default branch, card metadata, every ref and LFS object).",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := haven.ParseRepoType(typ)
			if err != nil {
				return err
			}
			id, err := haven.ParseRepoID(args[0])
			if err != nil {
				return err
			}
			st, err := openStores(cmd.Context(), opts)
			if err != nil {
				return err
			}
			defer st.meta.Close()
			man, err := portable.Export(cmd.Context(), portable.Stores{Meta: st.meta, Git: st.git, Blobs: st.blobs},
				portable.ExportOptions{Type: t, ID: id, Dir: args[1], Version: havenVersion()})
			if err != nil {
				return err
			}
			var bytes int64
			for _, o := range man.LFSObjects {
				bytes += o.Size
			}
			fmt.Fprintf(cmd.OutOrStdout(), "exported %s %s into %s: %d refs, %d LFS objects (%d bytes)\n",
				man.Type, man.ID, args[1], len(man.Refs), len(man.LFSObjects), bytes)
			return nil
		},
	}
	cmd.Flags().StringVar(&typ, "type", "model", "repository type: model, dataset or space")
	return cmd
}

func importCmd(opts *options) *cobra.Command {
	var (
		typ, as string
		private bool
	)
	cmd := &cobra.Command{
		Use:   "import DIR",
		Short: "Create a repository from an export, a local git repository with its LFS objects, or a huggingface_hub cache folder",
		Long: "Creates a new repository from DIR: a haven export, a git clone or bare repository (LFS objects from\n" +
			".git/lfs/objects or lfs/objects), or a huggingface_hub cache folder (models--NS--NAME), whose snapshots\n" +
			"become one commit each. Every LFS object is checked against its SHA-256 before any ref appears. The\n" +
			"namespace must exist; an existing repository is refused. Safe to run while the server runs.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := portable.ImportOptions{Dir: args[0], Private: private}
			if cmd.Flags().Changed("type") {
				t, err := haven.ParseRepoType(typ)
				if err != nil {
					return err
				}
				o.Type = t
			}
			if as != "" {
				id, err := haven.ParseRepoID(as)
				if err != nil {
					return err
				}
				o.ID = id
			}
			st, err := openStores(cmd.Context(), opts)
			if err != nil {
				return err
			}
			defer st.meta.Close()
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			// The metadata a push would derive: head, card, tags, links,
			// evaluation results, the viewer's or a Space's queued work.
			rf := api.Refresher{Meta: st.meta, Git: st.git, Logger: log,
				Indexers: []api.CardIndexer{evals.New(evals.Config{Meta: st.meta, Logger: log})},
				// Import stores LFS objects whole in the blob store: the
				// safetensors headers for the parameter count are there.
				OpenLFS: func(ctx context.Context, oid string) (io.ReadSeekCloser, int64, error) {
					f, info, err := st.blobs.Open(ctx, blob.LFSKey(oid))
					return f, info.Size, err
				}}
			o.Refresh = func(ctx context.Context, repo *haven.Repo) error { return rf.Refresh(ctx, repo) }
			res, err := portable.Import(cmd.Context(), portable.Stores{Meta: st.meta, Git: st.git, Blobs: st.blobs}, o)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "imported %s %s from a %s: %d refs, %d LFS objects (%d stored, the others were in Haven already)\n",
				res.Repo.Type, res.Repo.FullName(), res.Source, res.Refs, res.LFSObjects, res.Stored)
			return nil
		},
	}
	cmd.Flags().StringVar(&typ, "type", "", "repository type: model, dataset or space (default: what DIR says, else model)")
	cmd.Flags().StringVar(&as, "as", "", "NAMESPACE/NAME of the new repository (default: what DIR says)")
	cmd.Flags().BoolVar(&private, "private", false, "make the repository private")
	return cmd
}

// havenVersion is the module version and VCS revision this binary was
// built from, as far as the build recorded them.
func havenVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			v += " " + s.Value
		}
	}
	return v
}
