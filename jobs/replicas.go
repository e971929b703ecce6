package jobs

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/replica"
	"github.com/havenhub/haven/runner"
)

// watchInterval is how often the jobs running here are checked for cancels
// asked on other replicas.
const watchInterval = time.Second

// watchLoop stops the jobs running here that were canceled through another
// replica, or that are no longer recorded as running here (another replica
// took this one for dead and settled them), and settles the jobs of dead
// replicas once per heartbeat.
func (s *Service) watchLoop() {
	defer s.wg.Done()
	t := time.NewTicker(watchInterval)
	defer t.Stop()
	lastSweep := time.Now()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		s.watchRuns()
		if time.Since(lastSweep) >= s.self.Beat() {
			lastSweep = time.Now()
			if err := s.settle(""); err != nil && s.ctx.Err() == nil {
				s.log.Warn("jobs: settling the jobs of stopped replicas", "err", err)
			}
		}
	}
}

// watchRuns applies the cancels recorded for the jobs running here.
func (s *Service) watchRuns() {
	// Only runs that started before the query count: a job started since
	// is not in its answer.
	s.mu.Lock()
	before := make(map[string]*run, len(s.runs))
	for id, r := range s.runs {
		before[id] = r
	}
	s.mu.Unlock()
	if len(before) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	running, err := s.cfg.Meta.RunningJobsOn(ctx, s.self.ID())
	if err != nil {
		if s.ctx.Err() == nil {
			s.log.Warn("jobs: reading cancels", "err", err)
		}
		return
	}
	for id, r := range before {
		canceled, ok := running[id]
		switch {
		case canceled:
			s.stopLocal(id)
		case !ok:
			s.mu.Lock()
			h, still := r.h, s.runs[id] == r
			s.mu.Unlock()
			if !still || h == nil || isDone(h) {
				continue // it has just ended
			}
			// Settled by another replica, which took this one for dead
			// (its heartbeat lapsed): the job may not go on unseen.
			s.log.Warn("jobs: a job running here was settled by another replica; stopping it", "job", id)
			r.cancel()
			go h.Stop(context.Background(), 5*time.Second)
		}
	}
}

func isDone(h runner.Handle) bool {
	select {
	case <-h.Done():
		return true
	default:
		return false
	}
}

// remote passes a request about job j to the replica that runs it (or ran
// it: its log is in that replica's data folder), and reports whether it
// did, or answered that it cannot. Requests already passed on by a replica
// are answered here.
func (s *Service) remote(w http.ResponseWriter, r *http.Request, j *haven.Job) bool {
	if j.Replica == "" || j.Replica == s.self.ID() || replica.Forwarded(r) {
		return false
	}
	p, err := s.self.Peer(r.Context(), j.Replica)
	if err != nil {
		s.writeError(w, r, err)
		return true
	}
	if p == nil && haven.JobTerminal(j.Stage) && s.restoreLog(r.Context(), j.ID) == nil {
		return false // its log is here now
	}
	if p == nil {
		s.writeError(w, r, haven.Errorf(haven.EUnavailable,
			"Job %s ran on the replica %s, which is not running: its log and metrics are there", j.ID, j.Replica))
		return true
	}
	s.self.Forward(w, r, p)
	return true
}

// runningHandle returns the handle of a job running here (nil for none).
func (s *Service) runningHandle(id string) runner.Handle {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rn := s.runs[id]; rn != nil {
		return rn.h
	}
	return nil
}

// logKey is where a finished job's log is kept in the blob store.
func logKey(id string) string { return "jobs/logs/" + id + ".jsonl" }

// archiveLog copies the finished log of job id to the blob store, where
// every replica finds it once the job is settled.
func (s *Service) archiveLog(id string) {
	if s.cfg.Logs == nil {
		return
	}
	f, err := os.Open(s.logPath(id))
	if err != nil {
		return
	}
	defer f.Close()
	size := int64(-1)
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.cfg.Logs.Put(ctx, logKey(id), f, size); err != nil {
		s.log.Warn("jobs: keeping a finished log in the blob store", "job", id, "err", err)
	}
}

// restoreLog copies the kept log of job id from the blob store into this
// replica's log folder, unless a log is there already.
func (s *Service) restoreLog(ctx context.Context, id string) error {
	if s.cfg.Logs == nil {
		return haven.Errorf(haven.ENotFound, "no blob store for logs")
	}
	path := s.logPath(id)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	rc, _, err := s.cfg.Logs.Open(ctx, logKey(id))
	if err != nil {
		return err
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(filepath.Dir(path), id+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, rc); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
