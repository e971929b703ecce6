package api

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/havenhub/haven"
)

// PeerChannel is the channel on which servers sharing one PostgreSQL
// database tell each other what they changed (meta.Store.Publish), so that
// each drops its cached copies at once instead of when their TTL ends.
// Messages are one line each:
//
//	repo ID TYPE/NS/NAME   a repository's row or refs changed
//	identities             tokens, memberships or access decisions changed
//	session HASH           a browser session ended
const PeerChannel = "haven_changes"

// SessionForgetter is a SessionResolver that caches sessions and can drop
// them when another server reports a change.
type SessionForgetter interface {
	// ForgetSessions drops every cached session.
	ForgetSessions()
	// ForgetSession drops the session stored under hash.
	ForgetSession(hash string)
}

// publishTimeout bounds how long a change waits to tell the other servers.
const publishTimeout = 2 * time.Second

// tellPeers sends msg to the other servers sharing the database. A failure
// is logged: they will see the change when their caches expire.
func (s *Server) tellPeers(msg string) {
	if s.meta == nil || !s.meta.Shared() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	if err := s.meta.Publish(ctx, PeerChannel, msg); err != nil {
		s.log.Warn("telling other servers of a change", "msg", msg, "err", err)
	}
}

// SessionEnded tells the other servers that the browser session stored
// under hash ended (signed out), so that they stop accepting it at once.
func (s *Server) SessionEnded(hash string) { s.tellPeers("session " + hash) }

// ListenPeers hears what the other servers sharing the database changed
// and drops the matching cached entries, until ctx ends. Whenever it
// (re)starts listening, it drops everything cached, since it may have
// missed messages. It returns at once when the database is not shared.
func (s *Server) ListenPeers(ctx context.Context) {
	s.meta.Listen(ctx, PeerChannel, s.forgetAll, s.peerMessage)
}

// forgetAll drops every cached repository row, revision and identity.
func (s *Server) forgetAll() {
	s.cache.forgetRepos()
	s.tokens.Clear()
	if f, ok := s.sessions.(SessionForgetter); ok {
		f.ForgetSessions()
	}
}

// peerMessage applies one message of PeerChannel.
func (s *Server) peerMessage(msg string) {
	kind, rest, _ := strings.Cut(msg, " ")
	switch kind {
	case "repo":
		idText, key, _ := strings.Cut(rest, " ")
		id, err := strconv.ParseInt(idText, 10, 64)
		if err != nil {
			s.forgetAll()
			return
		}
		s.cache.forgetKey(id, key)
	case "identities":
		s.tokens.Clear()
		if f, ok := s.sessions.(SessionForgetter); ok {
			f.ForgetSessions()
		}
	case "session":
		if f, ok := s.sessions.(SessionForgetter); ok {
			f.ForgetSession(rest)
		}
	default:
		// A newer server's message: drop everything rather than guess.
		s.forgetAll()
	}
}

// repoMessage is the message of a change to repo.
func repoMessage(repo *haven.Repo) string {
	return "repo " + strconv.FormatInt(repo.ID, 10) + " " + repoCacheKey(repo.Type, repo.Namespace, repo.Name)
}

// forgetKey drops a repository's cached row (by key) and revisions (by id).
func (c *readCache) forgetKey(id int64, key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.repos, key)
	delete(c.revs, id)
}

// forgetRepos drops every cached row and revision. Tree listings and
// rendered answers stay: they are keyed by commit and by the row's fields.
func (c *readCache) forgetRepos() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.repos, c.revs = nil, nil
}
