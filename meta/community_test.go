package meta_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
)

func TestCommunitySQLite(t *testing.T)   { testCommunity(t, openSQLite(t)) }
func TestCommunityPostgres(t *testing.T) { testCommunity(t, postgresOpener(t)(t)) }

// testCommunity covers pins, locks, reactions and the orders of the
// discussion listing.
func testCommunity(t *testing.T, s *meta.Store) {
	mustUser(t, s, "alice", false)
	repo := mustRepo(t, s, &haven.Repo{Type: haven.Model, Namespace: "alice", Name: "busy"})
	var ds []*haven.Discussion
	var firsts []*haven.DiscussionEvent
	for _, title := range []string{"First", "Second", "Third"} {
		d := &haven.Discussion{RepoID: repo.ID, Title: title, Author: "alice", Status: haven.StatusOpen}
		first := &haven.DiscussionEvent{Type: haven.EventComment, Author: "alice", Body: "about " + title}
		mustNil(t, s.CreateDiscussion(ctx, d, first, 0))
		ds, firsts = append(ds, d), append(firsts, first)
	}
	// #1 gets a second comment, which reactions to do not count for its
	// listing; #2 gets three users' reactions to its opening comment.
	reply := &haven.DiscussionEvent{Type: haven.EventComment, Author: "bob", Body: "me too"}
	mustNil(t, s.AddDiscussionEvent(ctx, ds[0], reply, haven.DiscussionChange{}))
	for _, r := range []struct {
		d          int
		ev         *haven.DiscussionEvent
		user, what string
	}{
		{1, firsts[1], "bob", "🔥"}, {1, firsts[1], "carol", "🔥"}, {1, firsts[1], "carol", "🚀"}, {1, firsts[1], "dave", "👍"},
		{0, reply, "bob", "🔥"}, {0, reply, "carol", "🔥"}, {0, reply, "dave", "🔥"}, {0, reply, "erin", "🔥"},
	} {
		mustNil(t, s.SetReaction(ctx, ds[r.d], r.ev, r.user, r.what, true))
	}
	// Adding again and removing what is not there change nothing.
	mustNil(t, s.SetReaction(ctx, ds[1], firsts[1], "bob", "🔥", true))
	mustNil(t, s.SetReaction(ctx, ds[1], firsts[1], "bob", "🤯", false))
	wantCode(t, s.SetReaction(ctx, ds[1], firsts[1], "bob", "hello", true), haven.EInvalid)
	if ds[1].ReactionUsers != 3 || ds[0].ReactionUsers != 0 {
		t.Fatalf("reaction users %d %d, want 3 0", ds[1].ReactionUsers, ds[0].ReactionUsers)
	}
	want := []haven.Reaction{{Reaction: "🔥", Users: []string{"bob", "carol"}}, {Reaction: "🚀", Users: []string{"carol"}}, {Reaction: "👍", Users: []string{"dave"}}}
	if !reflect.DeepEqual(firsts[1].Reactions, want) {
		t.Fatalf("reactions = %+v, want %+v", firsts[1].Reactions, want)
	}
	evs, err := s.DiscussionEvents(ctx, ds[1].ID)
	mustNil(t, err)
	if !reflect.DeepEqual(evs[0].Reactions, want) {
		t.Fatalf("reactions in the thread = %+v, want %+v", evs[0].Reactions, want)
	}
	// Taking one back.
	mustNil(t, s.SetReaction(ctx, ds[1], firsts[1], "dave", "👍", false))
	if ds[1].ReactionUsers != 2 {
		t.Fatalf("reaction users after removal = %d, want 2", ds[1].ReactionUsers)
	}

	list := func(f haven.DiscussionFilter) []*haven.Discussion {
		t.Helper()
		got, _, _, err := s.ListDiscussions(ctx, repo.ID, f)
		mustNil(t, err)
		return got
	}
	sorts := []struct {
		sort string
		want []int
	}{
		{"", []int{3, 2, 1}},
		{haven.SortRecentlyCreated, []int{3, 2, 1}},
		{haven.SortReactions, []int{2, 3, 1}},
		// #1: two comments and four reactions this week; #2: one comment,
		// two reactions; #3: one comment.
		{haven.SortTrending, []int{1, 2, 3}},
	}
	for _, tc := range sorts {
		if got := nums(list(haven.DiscussionFilter{Sort: tc.sort})); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("sort %q = %v, want %v", tc.sort, got, tc.want)
		}
	}
	_, _, _, err = s.ListDiscussions(ctx, repo.ID, haven.DiscussionFilter{Sort: "random"})
	wantCode(t, err, haven.EInvalid)
	top := list(haven.DiscussionFilter{Sort: haven.SortReactions})[0]
	if wantTop := []haven.Reaction{{Reaction: "🔥", Users: []string{"bob", "carol"}}, {Reaction: "🚀", Users: []string{"carol"}}}; !reflect.DeepEqual(top.TopReactions, wantTop) {
		t.Errorf("top reactions = %+v, want %+v", top.TopReactions, wantTop)
	}

	// Pinned discussions come first in every order; locks are kept.
	yes, no := true, false
	mustNil(t, s.AddDiscussionEvent(ctx, ds[0], &haven.DiscussionEvent{Type: haven.EventPinning, Author: "alice", Data: `{"pinned":true}`},
		haven.DiscussionChange{Pinned: &yes}))
	mustNil(t, s.AddDiscussionEvent(ctx, ds[1], &haven.DiscussionEvent{Type: haven.EventLocking, Author: "alice", Data: `{"locked":true}`},
		haven.DiscussionChange{Locked: &yes}))
	for _, tc := range []struct {
		sort string
		want []int
	}{{"", []int{1, 3, 2}}, {haven.SortReactions, []int{1, 2, 3}}} {
		if got := nums(list(haven.DiscussionFilter{Sort: tc.sort})); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("pinned first, sort %q = %v, want %v", tc.sort, got, tc.want)
		}
	}
	d1, err := s.Discussion(ctx, repo.ID, 1)
	mustNil(t, err)
	d2, err := s.Discussion(ctx, repo.ID, 2)
	mustNil(t, err)
	if !d1.Pinned || d1.Locked || !d2.Locked || d2.Pinned || d2.ReactionUsers != 2 {
		t.Fatalf("flags: #1 %+v #2 %+v", d1, d2)
	}
	mustNil(t, s.AddDiscussionEvent(ctx, d1, nil, haven.DiscussionChange{Pinned: &no}))
	if got := nums(list(haven.DiscussionFilter{})); !reflect.DeepEqual(got, []int{3, 2, 1}) {
		t.Errorf("after unpinning: %v", got)
	}
}

func TestAuditInTransactionSQLite(t *testing.T) { testAuditInTransaction(t, openSQLite(t)) }
func TestAuditInTransactionPostgres(t *testing.T) {
	testAuditInTransaction(t, postgresOpener(t)(t))
}

// testAuditInTransaction checks that an entry carried by the context is
// written exactly when the change it records commits, and only once.
func testAuditInTransaction(t *testing.T, s *meta.Store) {
	mustUser(t, s, "alice", false)
	repo := mustRepo(t, s, &haven.Repo{Type: haven.Model, Namespace: "alice", Name: "audited"})
	d := &haven.Discussion{RepoID: repo.ID, Title: "Doomed", Author: "alice", Status: haven.StatusOpen}
	mustNil(t, s.CreateDiscussion(ctx, d, nil, 0))
	entries := func() []*haven.AuditEntry {
		t.Helper()
		es, err := s.AuditEntries(ctx, haven.AuditFilter{Namespace: "alice", Action: "discussion"})
		mustNil(t, err)
		return es
	}
	entry := func(action string) context.Context {
		return haven.WithAudit(ctx, haven.AuditEntry{Action: action, ActorName: "alice", Namespace: "alice",
			TargetType: haven.AuditTargetDiscussion, Target: "alice/audited#1"})
	}
	// A change that fails writes nothing.
	wantCode(t, s.DeleteDiscussion(entry(haven.AuditDiscussionDelete), d.ID+1000), haven.ENotFound)
	if es := entries(); len(es) != 0 {
		t.Fatalf("entries after a failed change: %+v", es)
	}
	// A change that commits writes its entry; a second transaction with
	// the same context does not write it again.
	yes := true
	pinCtx := entry(haven.AuditDiscussionPin)
	mustNil(t, s.AddDiscussionEvent(pinCtx, d, nil, haven.DiscussionChange{Pinned: &yes}))
	mustNil(t, s.AddDiscussionEvent(pinCtx, d, nil, haven.DiscussionChange{}))
	mustNil(t, s.DeleteDiscussion(entry(haven.AuditDiscussionDelete), d.ID))
	es := entries()
	if len(es) != 2 || es[0].Action != haven.AuditDiscussionDelete || es[1].Action != haven.AuditDiscussionPin || es[0].ID == "" {
		t.Fatalf("entries = %+v, want delete then pin", es)
	}
}
