// Package webhooks sends repository events to the URLs users subscribe
// with: the Hub's webhook settings API (/api/settings/webhooks…), the
// payloads of version 3, and their delivery through the durable queue with
// retries, a delivery log and replay.
//
// An event (a commit, a ref, a setting, a discussion) is told through
// haven.EventSink and only enqueued on the request that made it. A worker
// fans it out to the webhooks watching the repository or its namespace,
// leaving out those whose owner may not read a private repository, and
// enqueues one delivery per webhook. A delivery that fails is tried again
// with backoff; every attempt is in the webhook's log.
package webhooks

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/netguard"
)

// Queue job kinds.
const (
	JobEvent    = "webhook.event"    // payload: an event to fan out
	JobDelivery = "webhook.delivery" // payload: one webhook's delivery
)

// Config is what the service needs.
type Config struct {
	Meta      *meta.Store
	PublicURL string // base of the URLs in payloads
	// AllowPrivate lets webhooks target loopback, private and link-local
	// addresses, which are refused otherwise (they reach the server's own
	// network).
	AllowPrivate bool
	// Workers is how many jobs run at once (default 4).
	Workers int
	// Backoff is the wait after each failed attempt; its length plus one
	// is the number of attempts (default 1s, 10s, 1m, 10m: five attempts).
	Backoff []time.Duration
	// Timeout bounds one delivery (default 10s).
	Timeout  time.Duration
	Resolver netguard.Resolver // default net.DefaultResolver
	// Audit records webhooks created, changed and deleted; nil: nothing
	// is recorded.
	Audit haven.Auditor
	// Jobs starts the jobs of webhooks that run one on every event; nil
	// refuses such webhooks.
	Jobs   JobStarter
	Logger *slog.Logger
}

// JobStarter is what webhooks that run a job need of the jobs service.
type JobStarter interface {
	// JobSource checks that the actor may start copies of job id and
	// returns its spec as the Hub's JobSpec object.
	JobSource(ctx context.Context, a *auth.Actor, id string) (map[string]any, error)
	// SourceSpec is that spec for a webhook's JSON, nil when the job is gone.
	SourceSpec(ctx context.Context, id string) map[string]any
	// SealWebhookSecrets seals the secrets of webhook id's jobs.
	SealWebhookSecrets(id string, secrets map[string]string) (string, error)
	// StartWebhookJob starts a copy of w's source job with env added.
	StartWebhookJob(ctx context.Context, w *haven.Webhook, env map[string]string) (string, error)
}

// Service manages webhooks and delivers their events. Create it with New;
// Start runs its workers.
type Service struct {
	cfg    Config
	base   string
	client *http.Client
	wake   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Backoff == nil {
		cfg.Backoff = []time.Duration{time.Second, 10 * time.Second, time.Minute, 10 * time.Minute}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	dialer := &net.Dialer{Timeout: cfg.Timeout}
	if !cfg.AllowPrivate {
		dialer.Control = netguard.DialControl
	}
	client := &http.Client{
		Timeout: cfg.Timeout,
		// No proxy: the address checked must be the receiver's.
		Transport: &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute},
		// A redirect could lead anywhere; the receiver's answer is its status.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{cfg: cfg, base: strings.TrimRight(cfg.PublicURL, "/"), client: client,
		wake: make(chan struct{}, 1), ctx: ctx, cancel: cancel}
}

// Start runs the workers that fan out events and deliver them, until Close.
func (s *Service) Start() {
	for i := range s.cfg.Workers {
		s.wg.Add(1)
		go s.work(i)
	}
}

// Close stops the workers; jobs they had leased are due again when their
// lease ends.
func (s *Service) Close() {
	s.cancel()
	s.wg.Wait()
}

func (s *Service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// eventJob is an event as queued: a snapshot of what the payload needs,
// since the repository may be gone or renamed when it is fanned out.
type eventJob struct {
	Scope         string            `json:"scope"`
	Action        string            `json:"action"`
	Repo          repoSnapshot      `json:"repo"`
	UpdatedRefs   []haven.RefUpdate `json:"updatedRefs,omitempty"`
	UpdatedConfig map[string]any    `json:"updatedConfig,omitempty"`
	MovedTo       string            `json:"movedTo,omitempty"`
	Discussion    *discussionSnap   `json:"discussion,omitempty"`
	Comment       *commentSnap      `json:"comment,omitempty"`
}

type repoSnapshot struct {
	ID        int64          `json:"id"`
	Type      haven.RepoType `json:"type"`
	Namespace string         `json:"namespace"`
	Name      string         `json:"name"`
	Private   bool           `json:"private"`
	Gated     string         `json:"gated,omitempty"`
	SHA       string         `json:"sha,omitempty"`
	Tags      []string       `json:"tags,omitempty"`
}

func (r *repoSnapshot) repo() *haven.Repo {
	return &haven.Repo{ID: r.ID, Type: r.Type, Namespace: r.Namespace, Name: r.Name, Private: r.Private, Gated: r.Gated,
		SHA: r.SHA, Tags: r.Tags}
}

type discussionSnap struct {
	ObjectID      string `json:"objectId"`
	Num           int    `json:"num"`
	Title         string `json:"title"`
	Status        string `json:"status"`
	Author        string `json:"author"`
	IsPullRequest bool   `json:"isPullRequest"`
	TargetRef     string `json:"targetRef,omitempty"`
	MergeCommit   string `json:"mergeCommit,omitempty"`
}

type commentSnap struct {
	ObjectID string `json:"objectId"`
	Author   string `json:"author"`
	Body     string `json:"body"`
	Hidden   bool   `json:"hidden"`
}

// RepoEvent queues ev for the webhooks that watch its repository. It
// implements haven.EventSink; a failure is logged, never returned, since
// the change itself is stored.
func (s *Service) RepoEvent(ctx context.Context, ev *haven.RepoEvent) {
	if ev == nil || ev.Repo == nil {
		return
	}
	r := ev.Repo
	job := eventJob{Scope: ev.Scope, Action: ev.Action, UpdatedRefs: ev.UpdatedRefs, UpdatedConfig: ev.UpdatedConfig, MovedTo: ev.MovedTo,
		Repo: repoSnapshot{ID: r.ID, Type: r.Type, Namespace: r.Namespace, Name: r.Name, Private: r.Private, Gated: r.Gated,
			SHA: r.SHA, Tags: r.Tags}}
	if d := ev.Discussion; d != nil {
		job.Discussion = &discussionSnap{ObjectID: d.ObjectID, Num: d.Num, Title: d.Title, Status: d.Status, Author: d.Author,
			IsPullRequest: d.IsPullRequest, TargetRef: d.TargetRef, MergeCommit: d.MergeCommit}
	}
	if c := ev.Comment; c != nil {
		job.Comment = &commentSnap{ObjectID: c.ObjectID, Author: c.Author, Body: c.Body, Hidden: c.Hidden}
	}
	payload, err := json.Marshal(job)
	if err == nil {
		_, err = s.cfg.Meta.Enqueue(context.WithoutCancel(ctx), JobEvent, payload, time.Time{})
	}
	if err != nil {
		s.cfg.Logger.Error("queueing a webhook event", "repo", r.FullName(), "scope", ev.Scope, "err", err)
		return
	}
	s.poke()
}

var _ haven.EventSink = (*Service)(nil)
