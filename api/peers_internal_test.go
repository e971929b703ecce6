package api

import (
	"net/http"
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
)

type fakeSessions struct{ all, one []string }

func (f *fakeSessions) Actor(*http.Request) (*auth.Actor, error) { return &auth.Actor{}, nil }
func (f *fakeSessions) ForgetSessions()                          { f.all = append(f.all, "all") }
func (f *fakeSessions) ForgetSession(hash string)                { f.one = append(f.one, hash) }

// TestPeerMessages checks what each message from another server drops.
func TestPeerMessages(t *testing.T) {
	sess := &fakeSessions{}
	s := &Server{sessions: sess}
	a := &haven.Repo{ID: 1, Type: haven.Model, Namespace: "Alice", Name: "One"}
	b := &haven.Repo{ID: 2, Type: haven.Dataset, Namespace: "bob", Name: "two"}
	fill := func() {
		for _, r := range []*haven.Repo{a, b} {
			s.cache.putRepo(r)
			s.cache.putRev(r.ID, "main", "abc")
		}
		s.tokens.Store("t", actorEntry{})
	}
	cached := func(r *haven.Repo) (row, rev bool) {
		_, row = s.cache.repo(r.Type, r.Namespace, r.Name)
		_, rev = s.cache.rev(r.ID, "main")
		return
	}

	fill()
	s.peerMessage(repoMessage(a))
	if row, rev := cached(a); row || rev {
		t.Errorf("after a's message a is still cached: row %v, rev %v", row, rev)
	}
	if row, rev := cached(b); !row || !rev {
		t.Errorf("a's message dropped b: row %v, rev %v", row, rev)
	}
	if _, ok := s.tokens.Load("t"); !ok {
		t.Error("a repository message dropped tokens")
	}

	s.peerMessage("identities")
	if _, ok := s.tokens.Load("t"); ok {
		t.Error("identities kept tokens")
	}
	if len(sess.all) != 1 {
		t.Errorf("identities: sessions forgotten %d times", len(sess.all))
	}

	s.peerMessage("session deadbeef")
	if len(sess.one) != 1 || sess.one[0] != "deadbeef" {
		t.Errorf("session message: %v", sess.one)
	}

	fill()
	s.peerMessage("something new")
	if row, _ := cached(b); row {
		t.Error("an unknown message kept repository rows")
	}
	if _, ok := s.tokens.Load("t"); ok {
		t.Error("an unknown message kept tokens")
	}
}
