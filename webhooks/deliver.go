package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/meta"
)

// deliveryJob is one payload for one webhook. Offset counts the attempts
// made before the job was queued (by a replay), so that the log numbers
// attempts on and the retries stop at the same total.
type deliveryJob struct {
	WebhookID string          `json:"webhookId"`
	Event     string          `json:"event"`
	Payload   json.RawMessage `json:"payload"`
	Offset    int             `json:"offset,omitempty"`
}

// maxExcerpt is how much of a receiver's answer the log keeps.
const maxExcerpt = 2048

// idlePoll is how often an idle worker looks for due jobs (retries become
// due without anyone telling it).
const idlePoll = 250 * time.Millisecond

func (s *Service) work(i int) {
	defer s.wg.Done()
	w := meta.Waiting{Kinds: []string{JobEvent, JobDelivery}, Worker: fmt.Sprintf("%s/%d", meta.WorkerName("webhooks"), i),
		Lease: 2*s.cfg.Timeout + 30*time.Second, Wake: s.wake, Poll: idlePoll,
		OnError: func(err error) { s.cfg.Logger.Error("leasing a webhook job", "err", err) }}
	for {
		job := s.cfg.Meta.NextJob(s.ctx, w)
		if job == nil {
			return
		}
		var err error
		switch job.Kind {
		case JobEvent:
			err = s.fanOut(s.ctx, job)
		case JobDelivery:
			err = s.deliverJob(s.ctx, job)
		}
		switch {
		case err != nil && s.ctx.Err() != nil:
			s.cfg.Meta.Release(context.WithoutCancel(s.ctx), job.ID)
			return
		case err != nil:
			s.cfg.Logger.Error("webhook job", "job", job.ID, "kind", job.Kind, "err", err)
			s.cfg.Meta.Fail(context.WithoutCancel(s.ctx), job.ID, err.Error(), time.Now().Add(s.cfg.Backoff[0]), len(s.cfg.Backoff)+1)
		}
	}
}

// fanOut turns an event into one delivery job per webhook that watched its
// repository when it happened, in the event's domain, and whose owner may
// read it.
func (s *Service) fanOut(ctx context.Context, job *meta.Job) error {
	var ev eventJob
	if err := json.Unmarshal(job.Payload, &ev); err != nil {
		s.cfg.Logger.Error("dropping a malformed webhook event", "job", job.ID, "err", err)
		return s.cfg.Meta.Complete(ctx, job.ID)
	}
	domain := haven.DomainRepo
	if strings.HasPrefix(ev.Scope, haven.ScopeDiscussion) {
		domain = haven.DomainDiscussion
	}
	repo := ev.Repo.repo()
	names := []string{repo.FullName()}
	if ev.MovedTo != "" {
		names = append(names, ev.MovedTo)
	}
	seen := map[string]bool{}
	var hooks []*haven.Webhook
	for _, n := range names {
		ws, err := s.cfg.Meta.WatchingWebhooks(ctx, repo.Type, n, domain)
		if err != nil {
			return err
		}
		for _, w := range ws {
			if !seen[w.ID] {
				seen[w.ID] = true
				hooks = append(hooks, w)
			}
		}
	}
	ids := s.userIDs(ctx)
	event := ev.Scope + "." + ev.Action
	enqueued := false
	for _, w := range hooks {
		// A webhook made after the event happened did not watch it then.
		if w.CreatedAt.After(job.CreatedAt) {
			continue
		}
		if repo.Private && !s.ownerCanRead(ctx, w, repo) {
			continue
		}
		body, err := marshal(buildPayload(s.base, &ev, w.ID, ids))
		if err != nil {
			return err
		}
		dj, _ := json.Marshal(deliveryJob{WebhookID: w.ID, Event: event, Payload: body})
		if _, err := s.cfg.Meta.Enqueue(ctx, JobDelivery, dj, time.Time{}); err != nil {
			return err
		}
		enqueued = true
	}
	if enqueued {
		s.poke()
	}
	return s.cfg.Meta.Complete(ctx, job.ID)
}

// ownerCanRead decides, when the event is delivered rather than when it
// happened, whether the webhook's owner may read a private repository: a
// member who left no longer hears of it.
func (s *Service) ownerCanRead(ctx context.Context, w *haven.Webhook, repo *haven.Repo) bool {
	owner, err := s.cfg.Meta.UserByID(ctx, w.OwnerID)
	if err != nil {
		return false
	}
	a, err := auth.ForUser(ctx, s.cfg.Meta, owner, nil)
	if err != nil {
		return false
	}
	return auth.Can(a, auth.Read, repo) == nil
}

// mayReceive checks again, before each attempt, that the webhook's owner
// may read the repository of a payload, when it is private: a retry or a
// replay may come after the owner lost access.
func (s *Service) mayReceive(ctx context.Context, w *haven.Webhook, payload []byte) bool {
	var p struct {
		Repo struct {
			Type    haven.RepoType `json:"type"`
			Name    string         `json:"name"`
			Private bool           `json:"private"`
		} `json:"repo"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return false
	}
	if !p.Repo.Private {
		return true
	}
	id, err := haven.ParseRepoID(p.Repo.Name)
	if err != nil {
		return false
	}
	repo, err := s.cfg.Meta.RepoByName(ctx, p.Repo.Type, id.Namespace, id.Name)
	if err != nil {
		// Deleted since: decide on the namespace, as the event did.
		repo = &haven.Repo{Type: p.Repo.Type, Namespace: id.Namespace, Name: id.Name, Private: true}
	}
	return s.ownerCanRead(ctx, w, repo)
}

// userIDs returns a lookup of user and organisation ids by name, caching
// answers for one event; an unknown name is 0.
func (s *Service) userIDs(ctx context.Context) func(string) int64 {
	cache := map[string]int64{}
	return func(name string) int64 {
		k := strings.ToLower(name)
		if id, ok := cache[k]; ok {
			return id
		}
		var id int64
		if u, err := s.cfg.Meta.UserByName(ctx, name); err == nil {
			id = u.ID
		}
		cache[k] = id
		return id
	}
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// deliverJob makes one attempt of a delivery job and schedules the next
// one when it fails and may be retried.
func (s *Service) deliverJob(ctx context.Context, job *meta.Job) error {
	var dj deliveryJob
	if err := json.Unmarshal(job.Payload, &dj); err != nil {
		s.cfg.Logger.Error("dropping a malformed webhook delivery", "job", job.ID, "err", err)
		return s.cfg.Meta.Complete(ctx, job.ID)
	}
	w, err := s.cfg.Meta.WebhookByID(ctx, dj.WebhookID)
	if haven.IsCode(err, haven.ENotFound) {
		return s.cfg.Meta.Complete(ctx, job.ID)
	}
	if err != nil {
		return err
	}
	if w.Disabled || !s.mayReceive(ctx, w, dj.Payload) {
		return s.cfg.Meta.Complete(ctx, job.ID)
	}
	attempt := dj.Offset + job.Attempts
	var d *haven.WebhookDelivery
	var retry bool
	if w.JobSourceID != "" {
		d, retry = s.startJob(ctx, w, dj.Event, dj.Payload, attempt)
	} else {
		d, retry = s.send(ctx, w, dj.Event, dj.Payload, attempt)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if d.OK() || !retry {
		return s.cfg.Meta.Complete(ctx, job.ID)
	}
	max := len(s.cfg.Backoff) + 1 - dj.Offset
	wait := s.cfg.Backoff[min(attempt, len(s.cfg.Backoff))-1]
	return s.cfg.Meta.Fail(ctx, job.ID, d.Error, time.Now().Add(wait), max)
}

// send posts a payload to a webhook's current URL with its current secret
// and records the attempt in its log. retry reports whether a failure is
// worth trying again: no answer, a timeout, 429 or a 5xx.
func (s *Service) send(ctx context.Context, w *haven.Webhook, event string, payload []byte, attempt int) (d *haven.WebhookDelivery, retry bool) {
	d = &haven.WebhookDelivery{WebhookID: w.ID, Event: event, Payload: payload, Attempt: attempt}
	defer func() {
		if ctx.Err() != nil {
			return // cut short by a shutdown: the attempt is made again
		}
		if err := s.cfg.Meta.AddWebhookDelivery(context.WithoutCancel(ctx), d); err != nil {
			s.cfg.Logger.Error("recording a webhook delivery", "webhook", w.ID, "err", err)
		}
	}()
	if err := CheckURL(ctx, s.cfg.Resolver, w.URL, s.cfg.AllowPrivate); err != nil {
		d.Error = err.Error()
		return d, false
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(payload))
	if err != nil {
		d.Error = err.Error()
		return d, false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Haven-Webhooks/1")
	if w.Secret != "" {
		req.Header.Set("X-Webhook-Secret", w.Secret)
	}
	start := time.Now()
	resp, err := s.client.Do(req)
	d.Duration = time.Since(start)
	if err != nil {
		d.Error = err.Error()
		return d, true
	}
	defer resp.Body.Close()
	d.Status = resp.StatusCode
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxExcerpt))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	d.Response = excerpt(b)
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		d.Error = fmt.Sprintf("the receiver answered %s", resp.Status)
		return d, resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500
	}
	return d, false
}

// startJob runs a job webhook's source job again for one event, with the
// payload in WEBHOOK_PAYLOAD and its repository in WEBHOOK_REPO_ID and
// WEBHOOK_REPO_TYPE, and records the attempt in its log. A failure is
// retried unless the hub refused the job (its source gone, rights lost).
func (s *Service) startJob(ctx context.Context, w *haven.Webhook, event string, payload []byte, attempt int) (d *haven.WebhookDelivery, retry bool) {
	d = &haven.WebhookDelivery{WebhookID: w.ID, Event: event, Payload: payload, Attempt: attempt}
	defer func() {
		if ctx.Err() != nil {
			return
		}
		if err := s.cfg.Meta.AddWebhookDelivery(context.WithoutCancel(ctx), d); err != nil {
			s.cfg.Logger.Error("recording a webhook delivery", "webhook", w.ID, "err", err)
		}
	}()
	if s.cfg.Jobs == nil {
		d.Error = "this hub runs no jobs"
		return d, false
	}
	var p struct {
		Repo struct {
			Type string `json:"type"`
			Name string `json:"name"`
		} `json:"repo"`
	}
	json.Unmarshal(payload, &p)
	env := map[string]string{"WEBHOOK_PAYLOAD": string(payload), "WEBHOOK_REPO_ID": p.Repo.Name, "WEBHOOK_REPO_TYPE": p.Repo.Type}
	start := time.Now()
	id, err := s.cfg.Jobs.StartWebhookJob(ctx, w, env)
	d.Duration = time.Since(start)
	if err != nil {
		d.Error = haven.ErrorMessage(err)
		var he *haven.Error
		return d, !errors.As(err, &he)
	}
	d.Status = http.StatusOK
	d.Response = "Job " + id + " started"
	return d, false
}

// excerpt keeps the valid UTF-8 start of a body, for the log.
func excerpt(b []byte) string {
	for len(b) > 0 && !utf8.Valid(b) {
		b = b[:len(b)-1]
	}
	return string(b)
}

// Replay sends the payload of an entry of a webhook's log again, now, to
// the webhook's current URL and secret, and returns the receiver's status
// (0 when none came). A failure that may pass is retried through the
// queue as a new delivery would be.
func (s *Service) Replay(ctx context.Context, w *haven.Webhook, deliveryID string) (int, error) {
	old, err := s.cfg.Meta.WebhookDelivery(ctx, w.ID, deliveryID)
	if err != nil {
		return 0, err
	}
	if !s.mayReceive(ctx, w, old.Payload) {
		return 0, haven.Errorf(haven.EForbidden, "You may no longer read the repository of this delivery")
	}
	d, retry := s.send(ctx, w, old.Event, old.Payload, 1)
	if !d.OK() && retry && len(s.cfg.Backoff) > 0 {
		dj, _ := json.Marshal(deliveryJob{WebhookID: w.ID, Event: old.Event, Payload: old.Payload, Offset: 1})
		if _, err := s.cfg.Meta.Enqueue(ctx, JobDelivery, dj, time.Now().Add(s.cfg.Backoff[0])); err != nil {
			return d.Status, err
		}
	}
	return d.Status, nil
}
