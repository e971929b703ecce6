// Package convert stores LFS objects through Xet in the background, so that
// Xet clients download files uploaded as plain LFS objects chunk by chunk,
// as they do files uploaded through Xet. Each conversion is a job on the
// durable queue: it survives restarts, runs on one server at a time, and is
// retried after a failure. A conversion chunks the object with the
// content-defined chunker, stores the xorbs and registers the file under the
// object's SHA-256 (casstore.Import); only then does the file resolve by
// that SHA-256, which is what makes resolve and the tree advertise it to Xet
// clients. The LFS object itself stays, so plain downloads are unchanged.
package convert

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path"
	"sync"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/internal/uploadmem"
	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/xet/casstore"
)

// Job is the queue kind of a conversion; its payload is a Request.
const Job = "xet.convert"

// Request names the LFS object to convert.
type Request struct {
	OID  string `json:"oid"`
	Size int64  `json:"size"`
}

// Config configures a Service.
type Config struct {
	Meta   *meta.Store
	Blobs  blob.Driver
	Logger *slog.Logger
	// Backoff is the wait before each retry of a failed conversion; after
	// the last one the job fails for good. Default: 10 s, 1 min, 10 min.
	Backoff []time.Duration
}

// idlePoll is how often an idle worker looks for jobs queued by other
// servers; jobs queued through Enqueue wake it at once.
const idlePoll = 5 * time.Second

// lease is how long a conversion may take before another worker takes the
// job over: far more than chunking and storing the largest object takes.
const lease = 30 * time.Minute

// Service runs conversions. Create it with New, then Start it.
type Service struct {
	cfg    Config
	cas    *casstore.Store
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	wake   chan struct{}
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if len(cfg.Backoff) == 0 {
		cfg.Backoff = []time.Duration{10 * time.Second, time.Minute, 10 * time.Minute}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{cfg: cfg, cas: casstore.New(cfg.Blobs), ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1)}
}

// Enqueue queues the conversion of the LFS object oid.
func (s *Service) Enqueue(ctx context.Context, oid string, size int64) error {
	if !blob.ValidOID(oid) {
		return haven.Errorf(haven.EInvalid, "Invalid oid %q", oid)
	}
	payload, _ := json.Marshal(Request{OID: oid, Size: size})
	if _, err := s.cfg.Meta.Enqueue(ctx, Job, payload, time.Time{}); err != nil {
		return err
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// Backfill queues the conversion of every stored LFS object that is not
// stored through Xet yet (those uploaded before conversions existed, or
// through mirrors and imports) and returns how many it queued.
func (s *Service) Backfill(ctx context.Context) (int, error) {
	var todo []blob.Info
	err := s.cfg.Blobs.List(ctx, "lfs/", func(i blob.Info) error {
		if oid := path.Base(i.Key); blob.ValidOID(oid) && i.Size > 0 && i.Key == blob.LFSKey(oid) {
			todo = append(todo, i)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, i := range todo {
		oid := path.Base(i.Key)
		if _, err := s.cas.FileBySHA256(ctx, oid); err == nil {
			continue
		} else if !errors.Is(err, blob.ErrNotFound) {
			return n, err
		}
		if err := s.Enqueue(ctx, oid, i.Size); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Start runs one worker until Close.
func (s *Service) Start() {
	s.wg.Add(1)
	go s.work()
}

// Close stops the worker; a conversion it had leased is due again when its
// lease ends, or at once if it could record the interruption.
func (s *Service) Close() {
	s.cancel()
	s.wg.Wait()
}

// Convert stores the LFS object oid through Xet unless it is already; an
// object that is gone (collected meanwhile) is nothing to do.
func (s *Service) Convert(ctx context.Context, oid string) error {
	if _, err := s.cas.FileBySHA256(ctx, oid); err == nil {
		return nil
	}
	f, _, err := s.cfg.Blobs.Open(ctx, blob.LFSKey(oid))
	if errors.Is(err, blob.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	// A conversion follows a burst of uploads and is as much part of it:
	// the memory goes back to the system once both are over.
	defer uploadmem.Track()()
	_, err = s.cas.Import(ctx, oid, f)
	return err
}

func (s *Service) work() {
	defer s.wg.Done()
	w := meta.Waiting{Kinds: []string{Job}, Worker: meta.WorkerName("xet-convert"), Lease: lease, Wake: s.wake, Poll: idlePoll,
		OnError: func(err error) { s.cfg.Logger.Error("xet: leasing a conversion", "err", err) }}
	for job := s.cfg.Meta.NextJob(s.ctx, w); job != nil; job = s.cfg.Meta.NextJob(s.ctx, w) {
		s.run(job)
	}
}

func (s *Service) run(job *meta.Job) {
	var req Request
	err := json.Unmarshal(job.Payload, &req)
	start := time.Now()
	if err == nil {
		err = s.Convert(s.ctx, req.OID)
	}
	bg := context.WithoutCancel(s.ctx)
	switch {
	case err == nil:
		s.cfg.Logger.Info("xet: converted an LFS object", "oid", req.OID, "size", req.Size, "duration", time.Since(start).Round(time.Millisecond))
		if err := s.cfg.Meta.Complete(bg, job.ID); err != nil {
			s.cfg.Logger.Error("xet: completing a conversion", "job", job.ID, "err", err)
		}
	case s.ctx.Err() != nil:
		s.cfg.Meta.Release(bg, job.ID)
	case haven.ErrorCode(err) == haven.EInvalid:
		// The object does not hash to its oid: retrying cannot help.
		s.cfg.Logger.Error("xet: converting an LFS object", "oid", req.OID, "err", err)
		s.cfg.Meta.Fail(bg, job.ID, err.Error(), time.Time{}, job.Attempts)
	default:
		s.cfg.Logger.Warn("xet: converting an LFS object", "oid", req.OID, "attempt", job.Attempts, "err", err)
		s.cfg.Meta.Retry(bg, job, err.Error(), s.cfg.Backoff)
	}
}
