package endpoints

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/hubhttp"
	"github.com/havenhub/haven/meta"
	hubreplica "github.com/havenhub/haven/replica"
)

// Among replicas sharing a database, one runs every dedicated endpoint:
// the holder of holdName, for as long as its heartbeat lasts. An endpoint
// lives in the memory of the process that runs it (its replicas, traffic,
// autoscaler and statistics), so the others pass the control plane, the
// data plane and the endpoint pages to the holder, and one of them takes
// the endpoints over when the holder's heartbeat expired.

// holdName names the hold of the endpoints.
const holdName = "endpoints"

// holderTTL is how long a replica trusts what it read of the holder.
const holderTTL = time.Second

// holding reports whether this process runs the endpoints.
func (s *Service) holding() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.local
}

// holder tries to take the endpoints and returns the live replica that
// runs them, nil when this one does (it then restores them, once).
func (s *Service) holder(ctx context.Context) (*meta.Replica, error) {
	s.mu.Lock()
	peer, at := s.peer, s.peerAt
	s.mu.Unlock()
	if !at.IsZero() && time.Since(at) < holderTTL {
		return peer, nil
	}
	id, err := s.meta.Hold(ctx, holdName, s.self.ID(), s.self.LiveSince())
	if err != nil {
		return nil, err
	}
	peer = nil
	if id != s.self.ID() {
		if peer, err = s.self.Peer(ctx, id); err != nil {
			return nil, err
		}
		if peer == nil {
			// It died since the hold was tried: try again next time.
			return nil, haven.Errorf(haven.EUnavailable, "The replica %s that ran the endpoints stopped; try again shortly", id)
		}
	}
	s.mu.Lock()
	s.peer, s.peerAt = peer, time.Now()
	s.mu.Unlock()
	if peer == nil {
		return nil, s.startLocal()
	}
	s.dropLocal(id)
	return peer, nil
}

// holdLoop takes the endpoints over when their holder stopped, and lets
// them go when another replica took them, once per heartbeat.
func (s *Service) holdLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.self.Beat())
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		s.peerAt = time.Time{}
		s.mu.Unlock()
		if _, err := s.holder(s.ctx); err != nil && s.ctx.Err() == nil {
			s.log.Warn("endpoints: holding the endpoints", "err", err)
		}
	}
}

// dropLocal stops the endpoints this process ran once another replica
// holds them (this one's heartbeat lapsed): their records are the
// holder's to change now.
func (s *Service) dropLocal(holder string) {
	s.mu.Lock()
	if !s.local {
		s.mu.Unlock()
		return
	}
	s.local = false
	list := make([]*endpoint, 0, len(s.eps))
	for _, e := range s.eps {
		list = append(list, e)
	}
	s.eps = map[string]*endpoint{}
	s.mu.Unlock()
	s.log.Warn("endpoints: another replica runs the endpoints now; stopping them here", "holder", holder)
	for _, e := range list {
		e.mu.Lock()
		e.deleted = true // no more writes to its record, and launches under way stop
		reps := e.takeAllReplicas()
		e.broadcast()
		e.mu.Unlock()
		for _, p := range reps {
			go p.r.Stop(context.Background(), 5*time.Second)
		}
	}
}

// atHolder passes a request of the endpoints' API, data plane or pages to
// the replica that runs them, and reports whether it did (or answered that
// it cannot). A request another replica passed on is answered here.
func (s *Service) atHolder(w http.ResponseWriter, r *http.Request) bool {
	if s.self == nil || hubreplica.Forwarded(r) || s.holding() {
		return false
	}
	peer, err := s.holder(r.Context())
	if err != nil {
		hubhttp.WriteError(s.log, w, r, err)
		return true
	}
	if peer == nil {
		return false
	}
	s.self.Forward(w, r, peer)
	return true
}

// endpointPath reports whether a path is the endpoints': the data plane
// and the pages.
func endpointPath(p string) bool {
	return strings.HasPrefix(p, "/e/") || strings.HasPrefix(p, "/endpoints/")
}
