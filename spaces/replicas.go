package spaces

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/replica"
)

// One replica runs each Space's app: the holder recorded in the database,
// for as long as its heartbeat lasts. Every way of starting an app —
// restoring it at start, deploying a push, waking it, restarting it — goes
// through the holder, and the other replicas pass the app's requests and
// the Space's API calls to the holder's advertised address. A replica that
// finds a Space held by no live replica takes it.

// holderTTL is how long a replica trusts what it read of a Space's holder
// before it asks the database again.
const holderTTL = time.Second

// runningStages are the stages of a Space whose app should be running.
var runningStages = []string{StageRunning, StageAppStarting, StageBuilding, StageRunningBuilding, StageRunningAppStarting}

// errHeldElsewhere is the error of a push whose Space another replica runs.
var errHeldElsewhere = errors.New("spaces: the Space is run by another replica")

// holders caches the holder of each Space.
type holders struct {
	mu sync.Mutex
	m  map[int64]heldBy
}

type heldBy struct {
	peer *meta.Replica // nil: this replica
	at   time.Time
}

// holder returns the live replica other than this one that runs repo's
// app, or nil when this one does: it takes the Space when no live replica
// holds it.
func (s *Service) holder(ctx context.Context, repo *haven.Repo) (*meta.Replica, error) {
	s.held.mu.Lock()
	h, ok := s.held.m[repo.ID]
	s.held.mu.Unlock()
	if ok && time.Since(h.at) < holderTTL {
		return h.peer, nil
	}
	var peer *meta.Replica
	for try := 0; ; try++ {
		id, err := s.cfg.Meta.HoldSpace(ctx, repo.ID, s.self.ID(), s.self.LiveSince())
		if err != nil {
			return nil, err
		}
		if id == s.self.ID() {
			s.adopt(repo)
			break
		}
		if peer, err = s.self.Peer(ctx, id); err != nil {
			return nil, err
		}
		if peer != nil {
			break
		}
		// The holder died since the hold was tried: try again.
		if try == 2 {
			return nil, haven.Errorf(haven.EUnavailable, "This Space is moving from the stopped replica %s; try again shortly", id)
		}
	}
	s.held.mu.Lock()
	if s.held.m == nil {
		s.held.m = map[int64]heldBy{}
	}
	s.held.m[repo.ID] = heldBy{peer: peer, at: time.Now()}
	s.held.mu.Unlock()
	return peer, nil
}

// adopt makes the record of a Space this replica holds: one it has just
// taken (from a dead replica, or never held by any) is brought to its
// recorded stage, its app started when it should run.
func (s *Service) adopt(repo *haven.Repo) {
	a, created := s.appOf(repo)
	if !created {
		return
	}
	a.mu.Lock()
	st := a.st
	a.mu.Unlock()
	if slices.Contains(runningStages, st.Stage) {
		s.log.Info("spaces: running a Space taken over from a stopped replica, or not run yet", "space", repo.FullName(), "stage", st.Stage)
		a.restore(st)
	}
}

// atHolder passes a request for repo's app or API to the replica that runs
// the app, and reports whether it did (or answered that it cannot). A
// request passed on by another replica is answered here when this replica
// holds the Space; otherwise it gets a 503 naming the holder, so that a
// request never travels twice.
func (s *Service) atHolder(w http.ResponseWriter, r *http.Request, repo *haven.Repo) bool {
	if repo.SDK == SDKStatic {
		return false
	}
	peer, err := s.holder(r.Context(), repo)
	if err != nil {
		s.appError(w, r, err)
		return true
	}
	if peer == nil {
		return false
	}
	if replica.Forwarded(r) {
		s.appError(w, r, haven.Errorf(haven.EUnavailable, "This Space runs on the replica %s; try again shortly", peer.ID))
		return true
	}
	s.self.Forward(w, r, peer)
	return true
}

// atHolderAction wraps a handler of the Spaces API so that it runs on the
// replica that runs the app, whose state and logs it reads or changes.
func (s *Service) atHolderAction(h api.RepoHandler) api.RepoHandler {
	return func(w http.ResponseWriter, r *http.Request, repo *haven.Repo, rest []string) {
		if s.atHolder(w, r, repo) {
			return
		}
		h(w, r, repo, rest)
	}
}

// holdLoop takes over the Spaces whose holder died, and stops the apps of
// Spaces another replica took from this one (its heartbeat lapsed), once
// per heartbeat.
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
		if err := s.takeOver(); err != nil && s.ctx.Err() == nil {
			s.log.Warn("spaces: taking over the Spaces of stopped replicas", "err", err)
		}
		s.dropLost()
	}
}

// takeOver starts the apps that should run and that no live replica holds.
func (s *Service) takeOver() error {
	ids, err := s.cfg.Meta.UnheldSpaces(s.ctx, runningStages, s.self.LiveSince())
	if err != nil {
		return err
	}
	for _, id := range ids {
		repo, err := s.cfg.Meta.RepoByID(s.ctx, id)
		if err != nil {
			continue
		}
		if repo.SDK == SDKStatic {
			continue
		}
		s.forgetHolder(id)
		s.holder(s.ctx, repo) // holding it restores it
	}
	return nil
}

// dropLost stops and forgets the apps of Spaces this replica no longer
// holds.
func (s *Service) dropLost() {
	s.mu.Lock()
	apps := make(map[int64]*app, len(s.apps))
	for id, a := range s.apps {
		apps[id] = a
	}
	s.mu.Unlock()
	for id, a := range apps {
		h, err := s.cfg.Meta.SpaceHolder(s.ctx, id)
		if err != nil || h == s.self.ID() || h == "" {
			continue
		}
		s.forgetHolder(id)
		s.mu.Lock()
		if s.apps[id] == a {
			delete(s.apps, id)
		}
		s.mu.Unlock()
		a.mu.Lock()
		running := a.serving != nil || a.cancel != nil
		a.mu.Unlock()
		if running {
			s.log.Warn("spaces: another replica runs this Space now; stopping it here", "space", a.currentRepo().FullName(), "holder", h)
		}
		a.shutdown()
	}
}

func (s *Service) forgetHolder(id int64) {
	s.held.mu.Lock()
	delete(s.held.m, id)
	s.held.mu.Unlock()
}
