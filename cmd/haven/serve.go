package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/access"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/audit"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/blob/blobstore"
	"github.com/havenhub/haven/collections"
	"github.com/havenhub/haven/discussions"
	"github.com/havenhub/haven/evals"
	"github.com/havenhub/haven/gitstore"
	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/metrics"
	"github.com/havenhub/haven/notify"
	"github.com/havenhub/haven/profiles"
	"github.com/havenhub/haven/runner"
	"github.com/havenhub/haven/spaces"
	"github.com/havenhub/haven/web"
	"github.com/havenhub/haven/xet/casapi"
	"github.com/havenhub/haven/xet/casstore"
	"github.com/havenhub/haven/xet/convert"
)

func serveCmd(opts *options) *cobra.Command {
	var addr, publicURL string
	storage := &storageOptions{}
	sp := &spacesOptions{}
	od := &oidcOptions{}
	wh := &webhooksOptions{}
	jo := &jobsOptions{}
	inf := &inferenceOptions{}
	var smtpURL string
	var metricsPublic bool
	up := &upstreamOptions{}
	mo := &mirrorOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the hub: HTTP API, git, LFS",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serve(ctx, opts, addr, publicURL, storage, sp, od, wh, jo, inf, smtpURL, metricsPublic, up, mo)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", envOr("HAVEN_ADDR", "127.0.0.1:8080"), "address to listen on")
	cmd.Flags().StringVar(&publicURL, "public-url", os.Getenv("HAVEN_PUBLIC_URL"), "base URL clients use to reach the server (default http://ADDR)")
	addStorageFlags(cmd, storage)
	addSpacesFlags(cmd, sp)
	addJobsFlags(cmd, jo)
	addReplicaFlags(cmd, &opts.replica)
	addInferenceFlags(cmd, inf)
	addOIDCFlags(cmd, od)
	addWebhooksFlags(cmd, wh)
	addUpstreamFlags(cmd, up)
	addMirrorFlags(cmd, mo)
	cmd.Flags().StringVar(&smtpURL, "smtp-url", os.Getenv("HAVEN_SMTP_URL"),
		"send notifications by email through this server, smtp://user:pass@host:port?from=address (default: on the notifications page only)")
	cmd.Flags().StringVar(&opts.secretKeyFile, "secret-key-file", os.Getenv("HAVEN_SECRET_KEY_FILE"),
		"file holding the secret key that signs URLs, tokens and sealed secrets, the same for every replica (default: HAVEN_SECRET_KEY, else DATA/secret.key, made on first start)")
	cmd.Flags().BoolVar(&opts.logRequests, "log-requests", envBool("HAVEN_LOG_REQUESTS", true),
		"log every request at info level: method, path, route, status, bytes, duration, request id")
	cmd.Flags().StringVar(&opts.logFormat, "log-format", envOr("HAVEN_LOG_FORMAT", "text"),
		"log lines as text (key=value) or json (one object a line)")
	cmd.Flags().BoolVar(&opts.metrics, "metrics", envBool("HAVEN_METRICS", true),
		"count requests by route and serve /metrics (false: neither; /healthz and /readyz still answer)")
	cmd.Flags().BoolVar(&metricsPublic, "metrics-public", envBool("HAVEN_METRICS_PUBLIC", false),
		"serve /metrics to every caller (default: only to callers on this machine, others get 404)")
	return cmd
}

// stores opens the metadata database, the git store and the blob store.
type stores struct {
	meta  *meta.Store
	git   *gitstore.Store
	blobs blob.Driver
}

func openMeta(ctx context.Context, opts *options) (*meta.Store, error) {
	if err := os.MkdirAll(opts.data, 0o755); err != nil {
		return nil, err
	}
	dsn := opts.database
	if dsn == "" {
		dsn = filepath.Join(opts.data, "haven.db")
	}
	return meta.Open(ctx, dsn)
}

func openStores(ctx context.Context, opts *options) (*stores, error) {
	m, err := openMeta(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("opening database: %w", err)
	}
	g, err := gitstore.New(opts.repos())
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("opening git store: %w", err)
	}
	blobURL := opts.blobStore
	if blobURL == "" {
		abs, err := filepath.Abs(filepath.Join(opts.data, "blobs"))
		if err != nil {
			m.Close()
			return nil, err
		}
		blobURL = abs
	}
	b, err := blobstore.Open(ctx, blobURL)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("opening blob store: %w", err)
	}
	return &stores{meta: m, git: g, blobs: b}, nil
}

func serve(ctx context.Context, opts *options, addr, publicURL string, storage *storageOptions, spo *spacesOptions, od *oidcOptions, wh *webhooksOptions, jo *jobsOptions, inf *inferenceOptions, smtpURL string, metricsPublic bool, up *upstreamOptions, mo *mirrorOptions) (err error) {
	logOut := newLogWriter(os.Stderr, 200*time.Millisecond)
	defer logOut.Close()
	log, err := newLogger(logOut, opts.logFormat)
	if err != nil {
		return err
	}
	if opts.logFormat == "json" {
		// A log collector reads one JSON object per line: the reason the
		// server stops is one of them, not a line of plain text.
		defer func() {
			if err != nil {
				log.Error("haven stopped", "err", err)
				err = loggedError{err}
			}
		}()
	}
	// Libraries that log through the log package, or slog's default, write
	// in the same format.
	slog.SetDefault(log)
	st, err := openStores(ctx, opts)
	if err != nil {
		return err
	}
	defer st.meta.Close()
	mc := metrics.Config{Store: st.meta, Blobs: st.blobs, Public: metricsPublic, SpacesDomain: spo.domain,
		ViewerKind: api.JobDatasetUpdated, Logger: log, Off: !opts.metrics}
	if opts.logRequests {
		mc.Done = newRequestLog(log, logOut, opts.logFormat).done
	}
	ops := metrics.New(mc)
	secret, err := loadSecret(opts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if publicURL == "" {
		publicURL = "http://" + ln.Addr().String()
	}
	self, err := startReplica(&opts.replica, opts.data, st.meta, ln.Addr().String(), log)
	if err != nil {
		return err
	}
	defer self.Close()
	vw, err := startViewer(ctx, opts, st, publicURL, log)
	if err != nil {
		return err
	}
	defer vw.Close()
	auditLog := audit.New(audit.Config{Meta: st.meta, PublicURL: publicURL, Logger: log})
	notes, err := notify.New(notify.Config{Meta: st.meta, SMTP: smtpURL, Logger: log})
	if err != nil {
		return err
	}
	notes.Start()
	defer notes.Close()
	pages, err := web.New(web.Config{Meta: st.meta, Git: st.git, PublicURL: publicURL, Logger: log, Audit: auditLog})
	if err != nil {
		return err
	}
	run, err := newRunner(spo, opts.data, log)
	if err != nil {
		return err
	}
	var gpus *runner.GPUPool
	if run != nil {
		gpus = runner.NewGPUPool(runner.DetectGPUs(ctx))
		if gpus.Len() > 0 {
			log.Info("GPUs for Spaces", "count", gpus.Len(), "model", gpus.GPUs()[0].Name)
		}
	}
	var srv *api.Server
	people := profiles.New(profiles.Config{Meta: st.meta, Blobs: st.blobs, PublicURL: publicURL, Logger: log, Audit: auditLog, Notify: notes, Mail: notes,
		Changed: func() {
			srv.ForgetTokens()
			pages.ForgetSessions()
		}})
	gates := access.New(access.Config{Meta: st.meta, PublicURL: publicURL, Logger: log, Audit: auditLog, Notify: notes, Changed: func() {
		srv.ForgetTokens()
		pages.ForgetSessions()
	}})
	spaceApps, err := spaces.New(spaces.Config{
		Meta: st.meta,
		Git:  st.git,
		Open: func(ctx context.Context, oid string) (io.ReadSeekCloser, int64, error) {
			return srv.OpenObject(ctx, oid)
		},
		Runner:        run,
		GPUs:          gpus,
		Dir:           filepath.Join(opts.data, "spaces"),
		PublicURL:     publicURL,
		Domain:        spo.domain,
		Secret:        secret,
		Authenticate:  func(r *http.Request) (*auth.Actor, error) { return srv.Authenticate(r) },
		SessionCookie: web.SessionCookie,
		Replica:       self,
		Logger:        log,
	})
	if err != nil {
		return err
	}
	colls := collections.New(collections.Config{Meta: st.meta, PublicURL: publicURL, Markdown: web.RenderNote, Logger: log})
	evalsSvc := evals.New(evals.Config{Meta: st.meta, Logger: log})
	bk := newBuckets(st, publicURL, secret, storage.xet, log)
	jobRuns, err := newJobs(jo, st.meta, run, gpus, bk, spaceApps, st.blobs, opts.data, publicURL, secret, self, log)
	if err != nil {
		return err
	}
	hooks := startWebhooks(wh, st.meta, publicURL, auditLog, jobRuns, log)
	defer hooks.Close()
	mirrors, err := newMirrors(st, secret, mo, func() *api.Server { return srv }, log)
	if err != nil {
		return err
	}
	discs := discussions.New(discussions.Config{Meta: st.meta, Git: st.git, PublicURL: publicURL, Render: web.RenderComment, Logger: log, Events: hooks, Notify: notes,
		Changed: func(ctx context.Context, repo *haven.Repo) { srv.RepoChanged(ctx, repo) }})
	tunes, err := newFinetune(st, jobRuns, gpus, opts.data, publicURL, log)
	if err != nil {
		return err
	}
	engines, models, err := newInference(inf, st, run, gpus, func(ctx context.Context, oid string) (io.ReadSeekCloser, int64, error) {
		return srv.OpenObject(ctx, oid)
	}, opts.data, publicURL, log)
	if err != nil {
		return err
	}
	defer models.Close()
	eps, err := newEndpoints(inf, st, engines, gpus, func() *api.Server { return srv }, opts.data, publicURL, secret, self, log)
	if err != nil {
		return err
	}
	fallback, err := newUpstream(ctx, up, st.blobs, publicURL, log)
	if err != nil {
		return err
	}
	var xetConvert api.XetConverter
	if storage.xet && storage.xetConvert {
		conv := convert.New(convert.Config{Meta: st.meta, Blobs: st.blobs, Logger: log})
		conv.Start()
		defer conv.Close()
		xetConvert = conv
	}
	var cas *casapi.Server
	if storage.xet {
		cas, err = casapi.New(casapi.Config{Store: casstore.New(st.blobs), Secret: secret, PublicURL: publicURL, MaxUploads: storage.xetUploads, Logger: log})
		if err != nil {
			return err
		}
	}
	srv, err = api.New(api.Config{
		Web:          models.Handler(bk.Files(pages)),
		Sessions:     pages,
		Viewer:       vw,
		Meta:         st.meta,
		Git:          st.git,
		Blobs:        st.blobs,
		PublicURL:    publicURL,
		Secret:       secret,
		Logger:       log,
		CAS:          cas,
		XetConvert:   xetConvert,
		Redirect:     storage.redirect,
		Spaces:       spaceApps,
		Inference:    models,
		Routes:       []api.Routes{spaceApps, gates, colls, discs, hooks, auditLog, notes, bk, jobRuns, tunes, models, eps, evalsSvc, mirrors},
		PullRequests: discs,
		Events:       haven.EventSinks{hooks, mirrors},
		Audit:        auditLog,
		Fallback:     fallback,
		Profiles:     people,
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	if err := spaceApps.Start(); err != nil {
		return err
	}
	defer spaceApps.Close()
	if err := eps.Start(); err != nil {
		return err
	}
	defer eps.Close()
	mirrors.Start()
	defer mirrors.Close()
	jobRuns.TokensChanged(srv.ForgetTokens)
	if err := jobRuns.Start(); err != nil {
		return err
	}
	defer jobRuns.Close()
	pages.TokensChanged = srv.ForgetTokens
	pages.SessionEnded = srv.SessionEnded
	go srv.ListenPeers(ctx)
	pages.Spaces = spaceApps
	pages.Collections = colls
	pages.Webhooks = hooks
	pages.Jobs = jobRuns
	pages.Finetune = tunes
	pages.Endpoints = eps
	pages.Evals = evalsSvc
	pages.Profiles = people
	if pages.External, err = newOIDC(od, st.meta, publicURL, log); err != nil {
		return err
	}
	go srv.RefreshTrending(ctx, time.Hour)
	vw.Authenticate = srv.Authenticate
	handler := withRequestIDs(ops.Handler(eps.Handler(spaceApps.Handler(srv))))
	hs := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("haven listening", "addr", ln.Addr().String(), "public_url", publicURL, "data", opts.data)
	if has, err := st.meta.HasUsers(ctx); err == nil && !has {
		if opts.logFormat == "json" {
			log.Info("no users yet", "help", firstStartHelp(publicURL))
		} else {
			fmt.Fprintln(logOut, firstStartHelp(publicURL))
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	go runGC(ctx, st, storage, ops, log)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("haven shutting down: finishing requests in flight (up to 10s)")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("haven stopped")
	return nil
}

// minSecretLen is the shortest secret key accepted from configuration: the
// 64 hex digits of 32 random bytes, or any text at least as long.
const minSecretLen = 32

// loadSecret returns the deployment's secret key: the file named by
// --secret-key-file (HAVEN_SECRET_KEY_FILE), else HAVEN_SECRET_KEY, else
// DATA/secret.key, created on first start. Replicas must share it, so that
// each accepts the URLs, tokens and sealed values the others made.
func loadSecret(opts *options) ([]byte, error) {
	if opts.secretKeyFile != "" {
		b, err := os.ReadFile(opts.secretKeyFile)
		if err != nil {
			return nil, fmt.Errorf("reading the secret key: %w", err)
		}
		return checkSecret(strings.TrimSpace(string(b)), opts.secretKeyFile)
	}
	if v := os.Getenv("HAVEN_SECRET_KEY"); v != "" {
		return checkSecret(strings.TrimSpace(v), "HAVEN_SECRET_KEY")
	}
	return loadSecretFile(opts.data)
}

func checkSecret(key, from string) ([]byte, error) {
	if len(key) < minSecretLen {
		return nil, fmt.Errorf("the secret key in %s is %d characters long; it needs at least %d (openssl rand -hex 32 makes one)",
			from, len(key), minSecretLen)
	}
	return []byte(key), nil
}

// loadSecretFile reads DATA/secret.key, creating it on first start.
func loadSecretFile(data string) ([]byte, error) {
	p := filepath.Join(data, "secret.key")
	b, err := os.ReadFile(p)
	if err == nil && len(strings.TrimSpace(string(b))) >= minSecretLen {
		return []byte(strings.TrimSpace(string(b))), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	key := make([]byte, 32)
	rand.Read(key)
	text := fmt.Sprintf("%x", key)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(text+"\n"), 0o600); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, p); err != nil {
		return nil, err
	}
	return []byte(text), nil
}
