// Package notify tells users of what concerns them: access requests to
// their gated repositories, decisions on their own requests, mentions in
// discussions. Every notification is kept on the recipient's page
// (/notifications, GET /api/notifications); when the hub has a mail server
// (haven serve --smtp-url) it is also sent by email, one queued job per
// email, so that a mail server that is down delays mail rather than losing
// it or slowing the request that made it.
package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
)

// JobEmail is the queue job kind of one email; its payload is an email.
const JobEmail = "notify.email"

// Config is what the service needs.
type Config struct {
	Meta *meta.Store
	// SMTP is the mail server, smtp://user:pass@host:port?from=addr
	// (port 587 when left out); "" keeps notifications on the page only.
	SMTP   string
	Logger *slog.Logger
	// Backoff is the wait after each failed attempt to send; its length
	// plus one is the number of attempts (default 10s, 1m, 10m, 1h).
	Backoff []time.Duration
	// Timeout bounds one delivery to the mail server (default 30s).
	Timeout time.Duration
}

// Service stores notifications and sends their emails. It implements
// haven.Notifier and api.Routes. Create it with New; Start runs the
// sender when there is a mail server.
type Service struct {
	cfg    Config
	smtp   *server // nil: no email
	wake   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

var _ haven.Notifier = (*Service)(nil)

// server is a parsed --smtp-url.
type server struct {
	host, port string
	user, pass string
	from       string
}

func parseSMTP(raw string) (*server, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("invalid SMTP URL: %w", err)
	}
	if u.Scheme != "smtp" || u.Hostname() == "" {
		return nil, fmt.Errorf("invalid SMTP URL %q: want smtp://user:pass@host:port?from=address", u.Redacted())
	}
	s := &server{host: u.Hostname(), port: u.Port(), from: u.Query().Get("from")}
	if s.port == "" {
		s.port = "587"
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
	}
	if s.from == "" {
		return nil, fmt.Errorf("invalid SMTP URL %q: from=address is missing", u.Redacted())
	}
	if strings.ContainsAny(s.from, "\r\n<>") || !strings.Contains(s.from, "@") {
		return nil, fmt.Errorf("invalid sender address %q", s.from)
	}
	return s, nil
}

// New returns the service, or an error when cfg.SMTP is not a valid URL.
func New(cfg Config) (*Service, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if len(cfg.Backoff) == 0 {
		cfg.Backoff = []time.Duration{10 * time.Second, time.Minute, 10 * time.Minute, time.Hour}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	s := &Service{cfg: cfg, wake: make(chan struct{}, 1)}
	if cfg.SMTP != "" {
		srv, err := parseSMTP(cfg.SMTP)
		if err != nil {
			return nil, err
		}
		s.smtp = srv
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// email is one message as queued.
type email struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
	Body    string `json:"body"`
}

// Notify stores n for to and, when there is a mail server and to has an
// address, queues its email. The action it tells of has happened, so a
// failure is logged rather than returned.
func (s *Service) Notify(ctx context.Context, to *haven.User, n haven.Notification) {
	ctx = context.WithoutCancel(ctx)
	n.UserID = to.ID
	if err := s.cfg.Meta.AddNotification(ctx, &n); err != nil {
		s.cfg.Logger.Error("notify: cannot store", "user", to.Name, "kind", n.Kind, "err", err)
		return
	}
	if s.smtp == nil || to.Email == "" || strings.ContainsAny(to.Email, "\r\n<>") {
		return
	}
	body := n.Body
	if n.URL != "" {
		body = strings.TrimRight(body, "\n") + "\n\n" + n.URL + "\n"
	}
	payload, _ := json.Marshal(email{To: to.Email, Subject: n.Subject, Body: body})
	if _, err := s.cfg.Meta.Enqueue(ctx, JobEmail, payload, time.Time{}); err != nil {
		s.cfg.Logger.Error("notify: cannot queue an email", "user", to.Name, "kind", n.Kind, "err", err)
		return
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Mail queues an email to an address that belongs to no user (an
// invitation to join); it reports false, and sends nothing, without a mail
// server or for an address that would break the message.
func (s *Service) Mail(ctx context.Context, to, subject, body string) bool {
	if s.smtp == nil || to == "" || strings.ContainsAny(to, "\r\n<>") {
		return false
	}
	payload, _ := json.Marshal(email{To: to, Subject: subject, Body: body})
	if _, err := s.cfg.Meta.Enqueue(context.WithoutCancel(ctx), JobEmail, payload, time.Time{}); err != nil {
		s.cfg.Logger.Error("notify: cannot queue an email", "kind", "mail", "err", err)
		return false
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return true
}

// idlePoll is how often an idle sender looks for due emails (retries
// become due without anyone telling it).
const idlePoll = time.Second

// Start runs the sender until Close; without a mail server there is
// nothing to run.
func (s *Service) Start() {
	if s.smtp == nil {
		return
	}
	s.wg.Add(1)
	go s.work()
}

// Close stops the sender; an email it had leased is due again when its
// lease ends.
func (s *Service) Close() {
	s.cancel()
	s.wg.Wait()
}

func (s *Service) work() {
	defer s.wg.Done()
	w := meta.Waiting{Kinds: []string{JobEmail}, Worker: meta.WorkerName("notify"), Lease: 2*s.cfg.Timeout + 30*time.Second,
		Wake: s.wake, Poll: idlePoll, OnError: func(err error) { s.cfg.Logger.Error("notify: leasing an email", "err", err) }}
	for {
		job := s.cfg.Meta.NextJob(s.ctx, w)
		if job == nil {
			return
		}
		var m email
		err := json.Unmarshal(job.Payload, &m)
		if err == nil {
			err = s.send(s.ctx, m)
		}
		bg := context.WithoutCancel(s.ctx)
		switch {
		case err == nil:
			if err := s.cfg.Meta.Complete(bg, job.ID); err != nil {
				s.cfg.Logger.Error("notify: completing an email", "job", job.ID, "err", err)
			}
		case s.ctx.Err() != nil:
			s.cfg.Meta.Release(bg, job.ID)
			return
		default:
			s.cfg.Logger.Warn("notify: sending an email", "job", job.ID, "attempt", job.Attempts, "err", err)
			s.cfg.Meta.Retry(bg, job, err.Error(), s.cfg.Backoff)
		}
	}
}
