package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/mirror"
	"github.com/havenhub/haven/xet/casstore"
)

// mirrorOptions are the mirror settings of serve and the mirror commands.
type mirrorOptions struct {
	allowPrivate bool
}

func addMirrorFlags(cmd *cobra.Command, o *mirrorOptions) {
	cmd.Flags().BoolVar(&o.allowPrivate, "mirror-allow-private", envBool("HAVEN_MIRROR_ALLOW_PRIVATE", false),
		"let mirrors reach hubs on loopback, private and link-local addresses (default: refused)")
}

// newMirrors makes the mirror service. server is nil outside serve: syncs
// then tell the server through the queue.
func newMirrors(st *stores, secret []byte, o *mirrorOptions, server func() *api.Server, log *slog.Logger) (*mirror.Service, error) {
	cas := casstore.New(st.blobs)
	cfg := mirror.Config{
		Meta:  st.meta,
		Git:   st.git,
		Blobs: st.blobs,
		Has: func(ctx context.Context, oid string) (bool, error) {
			_, err := st.blobs.Stat(ctx, blob.LFSKey(oid))
			if err == nil {
				return true, nil
			}
			if !errors.Is(err, blob.ErrNotFound) {
				return false, err
			}
			if _, err := cas.FileBySHA256(ctx, oid); err == nil {
				return true, nil
			} else if !errors.Is(err, blob.ErrNotFound) && !haven.IsCode(err, haven.ENotFound) {
				return false, err
			}
			return false, nil
		},
		Open: func(ctx context.Context, oid string) (io.ReadSeekCloser, int64, error) {
			f, info, err := st.blobs.Open(ctx, blob.LFSKey(oid))
			if err == nil {
				return f, info.Size, nil
			}
			return cas.OpenSHA256(ctx, oid)
		},
		Secret:       secret,
		AllowPrivate: o.allowPrivate,
		Logger:       log,
	}
	if server != nil {
		cfg.Apply = func(ctx context.Context, repo *haven.Repo, change func() error) error {
			return server().MoveRefs(ctx, repo, change)
		}
		cfg.Changed = func(ctx context.Context, repo *haven.Repo) { server().RepoChanged(ctx, repo) }
	}
	return mirror.New(cfg)
}

func mirrorCmd(opts *options) *cobra.Command {
	o := &mirrorOptions{}
	cmd := &cobra.Command{
		Use:   "mirror",
		Short: "Mirror repositories from and to other Hugging Face-compatible hubs",
		Long: "A pull mirror copies a repository of another hub (every branch, tag and pull request ref, the full history,\n" +
			"every large file verified by its SHA-256) into a read-only repository here and follows it: the server syncs it\n" +
			"on its interval. A push mirror publishes every change of a repository here to another hub.",
	}
	cmd.PersistentFlags().BoolVar(&o.allowPrivate, "mirror-allow-private", envBool("HAVEN_MIRROR_ALLOW_PRIVATE", false),
		"let mirrors reach hubs on loopback, private and link-local addresses")
	cmd.PersistentFlags().StringVar(&opts.secretKeyFile, "secret-key-file", os.Getenv("HAVEN_SECRET_KEY_FILE"),
		"file of the deployment's secret key, which seals mirror tokens (as given to haven serve)")

	open := func(ctx context.Context) (*stores, *mirror.Service, error) {
		st, err := openStores(ctx, opts)
		if err != nil {
			return nil, nil, err
		}
		secret, err := loadSecret(opts)
		if err != nil {
			st.meta.Close()
			return nil, nil, err
		}
		svc, err := newMirrors(st, secret, o, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			st.meta.Close()
			return nil, nil, err
		}
		return st, svc, nil
	}

	var typ, as, token, pushTo string
	var interval time.Duration
	var private bool
	add := &cobra.Command{
		Use:   "add SRC_URL/NS/NAME | add NS/NAME --push-to URL/NS/NAME",
		Short: "Mirror a repository of another hub here (and sync it now), or publish one of this hub's to another",
		Example: "  haven mirror add https://huggingface.co/openai-community/gpt2\n" +
			"  haven mirror add https://huggingface.co/datasets/stanfordnlp/imdb --as team/imdb --interval 6h\n" +
			"  haven mirror add team/model --push-to https://huggingface.co/team/model --token hf_…",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if token == "" {
				token = os.Getenv("HAVEN_MIRROR_TOKEN")
			}
			ctx := cmd.Context()
			st, svc, err := open(ctx)
			if err != nil {
				return err
			}
			defer st.meta.Close()
			out := cmd.OutOrStdout()
			if pushTo != "" {
				repo, err := localRepo(ctx, st, args[0], typ)
				if err != nil {
					return err
				}
				target, err := mirror.ParseRemote(pushTo, repo.Type)
				if err != nil {
					return err
				}
				m, err := svc.AddPush(ctx, repo, target, token, interval)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "%s now publishes to %s (mirror %d)\n", repo.FullName(), m.RemoteURL(), m.ID)
				return syncOne(ctx, svc, m, cmd.ErrOrStderr(), out)
			}
			spec, err := mirror.NewPullSpec(args[0], typ, as, interval, token, private)
			if err != nil {
				return err
			}
			m, repo, err := svc.AddPull(ctx, spec)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "%s %s mirrors %s (mirror %d, synced every %s)\n", repo.Type, repo.FullName(), m.RemoteURL(), m.ID, m.Interval)
			return syncOne(ctx, svc, m, cmd.ErrOrStderr(), out)
		},
	}
	add.Flags().StringVar(&typ, "type", "", "repository type: model, dataset or space (default: from the URL, else model)")
	add.Flags().StringVar(&as, "as", "", "the local repository, NS/NAME (default: the source's)")
	add.Flags().DurationVar(&interval, "interval", mirror.DefaultInterval, "time between syncs")
	add.Flags().StringVar(&token, "token", "", "token for the other hub (default HAVEN_MIRROR_TOKEN): read access to pull, write access to push")
	add.Flags().StringVar(&pushTo, "push-to", "", "publish the local repository NS/NAME to this URL/NS/NAME instead")
	add.Flags().BoolVar(&private, "private", false, "make the mirror private (a private source always makes a private mirror)")

	var syncType string
	syncC := &cobra.Command{
		Use:   "sync NS/NAME",
		Short: "Sync a repository's mirrors now, showing progress",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, svc, err := open(ctx)
			if err != nil {
				return err
			}
			defer st.meta.Close()
			repo, err := localRepo(ctx, st, args[0], syncType)
			if err != nil {
				return err
			}
			list, err := st.meta.MirrorsOfRepo(ctx, repo.ID)
			if err != nil {
				return err
			}
			if len(list) == 0 {
				return fmt.Errorf("%s has no mirrors: add one with haven mirror add", repo.FullName())
			}
			var failed error
			for _, m := range list {
				if err := syncOne(ctx, svc, m, cmd.ErrOrStderr(), cmd.OutOrStdout()); err != nil {
					failed = err
				}
			}
			return failed
		},
	}
	syncC.Flags().StringVar(&syncType, "type", "", "repository type, when names are shared: model, dataset or space")

	list := &cobra.Command{
		Use:   "list",
		Short: "List the mirrors with their last sync",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			m, err := openMeta(ctx, opts)
			if err != nil {
				return err
			}
			defer m.Close()
			all, err := m.ListMirrors(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tDIRECTION\tREPOSITORY\tREMOTE\tLAST SYNC\tSTATUS")
			for _, mr := range all {
				name := strconv.FormatInt(mr.RepoID, 10)
				if repo, err := m.RepoByID(ctx, mr.RepoID); err == nil {
					name = string(repo.Type) + " " + repo.FullName()
				}
				last, status := "never", "waiting"
				if !mr.LastSuccessAt.IsZero() {
					last = mr.LastSuccessAt.Local().Format(time.DateTime)
					status = "ok"
				}
				if mr.LastError != "" {
					status = "failing: " + mr.LastError
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", mr.ID, mr.Direction, name, mr.RemoteURL(), last, status)
			}
			return tw.Flush()
		},
	}

	remove := &cobra.Command{
		Use:   "remove ID",
		Short: "Stop a mirror (a pull mirror's repository stays, with its content, and becomes writable)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return fmt.Errorf("invalid mirror id %q: see haven mirror list", args[0])
			}
			m, err := openMeta(cmd.Context(), opts)
			if err != nil {
				return err
			}
			defer m.Close()
			if err := m.DeleteMirror(cmd.Context(), id); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "mirror %d removed\n", id)
			return nil
		},
	}
	cmd.AddCommand(add, syncC, list, remove)
	return cmd
}

// localRepo finds NS/NAME of type typ ("" tries model, dataset, Space).
func localRepo(ctx context.Context, st *stores, name, typ string) (*haven.Repo, error) {
	id, err := haven.ParseRepoID(name)
	if err != nil {
		return nil, err
	}
	types := []haven.RepoType{haven.Model, haven.Dataset, haven.Space}
	if typ != "" {
		t, err := haven.ParseRepoType(typ)
		if err != nil {
			return nil, err
		}
		types = []haven.RepoType{t}
	}
	for _, t := range types {
		if repo, err := st.meta.RepoByName(ctx, t, id.Namespace, id.Name); err == nil {
			return repo, nil
		}
	}
	return nil, fmt.Errorf("no repository %s here", name)
}

// syncOne syncs m now with its progress on stderr.
func syncOne(ctx context.Context, svc *mirror.Service, m *haven.Mirror, progress, out io.Writer) error {
	p := &textProgress{w: progress}
	err := svc.Sync(ctx, m.ID, p)
	p.done()
	if err != nil {
		return fmt.Errorf("sync of %s failed (recorded; the server retries it): %w", m.RemoteURL(), err)
	}
	fmt.Fprintf(out, "synced %s\n", m.RemoteURL())
	return nil
}

// textProgress prints a sync's steps and a byte counter to a terminal.
// Downloads report their bytes from several goroutines.
type textProgress struct {
	mu      sync.Mutex
	w       io.Writer
	last    time.Time
	counted bool
}

func (p *textProgress) Step(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endLine()
	fmt.Fprintf(p.w, format+"\n", args...)
}

func (p *textProgress) Bytes(done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.last) < 200*time.Millisecond && done < total {
		return
	}
	p.last = time.Now()
	p.counted = true
	pct := 100.0
	if total > 0 {
		pct = float64(done) * 100 / float64(total)
	}
	fmt.Fprintf(p.w, "\r  large files: %5.1f%% (%d / %d MB)", pct, done>>20, total>>20)
}

func (p *textProgress) Git() io.Writer { return p.w }

func (p *textProgress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endLine()
}

func (p *textProgress) endLine() {
	if p.counted {
		fmt.Fprintln(p.w)
		p.counted = false
	}
}
