package meta_test

import (
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
)

func TestAccessRequestsSQLite(t *testing.T)   { testAccessRequests(t, openSQLite(t)) }
func TestAccessRequestsPostgres(t *testing.T) { testAccessRequests(t, postgresOpener(t)(t)) }

func testAccessRequests(t *testing.T, s *meta.Store) {
	owner := mustUser(t, s, "alice", false)
	bob := mustUser(t, s, "bob", false)
	carol := mustUser(t, s, "carol", false)
	repo := mustRepo(t, s, &haven.Repo{Type: haven.Model, Namespace: "alice", Name: "gated", Gated: "manual"})

	_, err := s.AccessRequestOf(ctx, repo.ID, bob.ID)
	wantCode(t, err, haven.ENotFound)
	for _, st := range []haven.AccessStatus{haven.AccessPending, haven.AccessAccepted, haven.AccessRejected} {
		list, err := s.AccessRequests(ctx, repo.ID, st)
		mustNil(t, err)
		if len(list) != 0 {
			t.Fatalf("fresh repo: %s = %+v", st, list)
		}
	}

	ar, err := s.CreateAccessRequest(ctx, repo.ID, bob.ID, map[string]any{"Company": "ACME", "Agree": true}, haven.AccessPending)
	mustNil(t, err)
	if ar.Status != haven.AccessPending || ar.User.Name != "bob" || ar.Fields["Company"] != "ACME" || ar.Fields["Agree"] != true || ar.Granted || !ar.DecidedAt.IsZero() {
		t.Fatalf("created = %+v", ar)
	}
	isUTC(t, "CreatedAt", ar.CreatedAt)
	_, err = s.CreateAccessRequest(ctx, repo.ID, bob.ID, nil, haven.AccessPending)
	wantCode(t, err, haven.EConflict)
	_, err = s.CreateAccessRequest(ctx, repo.ID+100, bob.ID, nil, haven.AccessPending)
	wantCode(t, err, haven.ENotFound)
	byID, err := s.AccessRequestByID(ctx, repo.ID, ar.ID)
	mustNil(t, err)
	if byID.User.ID != bob.ID {
		t.Fatalf("by id = %+v", byID)
	}

	// The Hub's state machine: every move to another status works, a move
	// to the current one is refused.
	steps := []struct {
		to     haven.AccessStatus
		reason string
		code   string
	}{
		{haven.AccessRejected, "not now", ""},
		{haven.AccessRejected, "", haven.ENotFound},
		{haven.AccessAccepted, "", ""},
		{haven.AccessAccepted, "", haven.ENotFound},
		{haven.AccessPending, "", ""},
		{haven.AccessPending, "", haven.ENotFound},
		{haven.AccessAccepted, "ignored", ""},
	}
	for i, st := range steps {
		got, err := s.DecideAccess(ctx, repo.ID, bob.ID, st.to, st.reason, owner.ID)
		if st.code != "" {
			wantCode(t, err, st.code)
			continue
		}
		mustNil(t, err)
		wantReason := st.reason
		if st.to != haven.AccessRejected {
			wantReason = ""
		}
		if got.Status != st.to || got.Reason != wantReason || got.DecidedBy != "alice" || got.DecidedAt.IsZero() {
			t.Fatalf("step %d: %+v", i, got)
		}
	}
	_, err = s.DecideAccess(ctx, repo.ID, carol.ID, haven.AccessAccepted, "", owner.ID)
	wantCode(t, err, haven.ENotFound)

	// Granting: a new accepted request, then an error for one already in.
	g, err := s.GrantAccess(ctx, repo.ID, carol.ID, owner.ID)
	mustNil(t, err)
	if g.Status != haven.AccessAccepted || !g.Granted || g.DecidedBy != "alice" {
		t.Fatalf("granted = %+v", g)
	}
	_, err = s.GrantAccess(ctx, repo.ID, carol.ID, owner.ID)
	wantCode(t, err, haven.EInvalid)
	_, err = s.GrantAccess(ctx, repo.ID, bob.ID, owner.ID)
	wantCode(t, err, haven.EInvalid)

	accepted, err := s.AccessRequests(ctx, repo.ID, haven.AccessAccepted)
	mustNil(t, err)
	if len(accepted) != 2 || accepted[0].User.Name != "bob" || accepted[1].User.Name != "carol" {
		t.Fatalf("accepted = %+v", accepted)
	}
	sts, err := s.AccessStatuses(ctx, bob.ID)
	mustNil(t, err)
	if len(sts) != 1 || sts[repo.ID] != haven.AccessAccepted {
		t.Fatalf("statuses of bob = %v", sts)
	}

	// A withdrawn request is gone; asking again starts afresh.
	mustNil(t, s.DeleteAccessRequest(ctx, repo.ID, bob.ID))
	wantCode(t, s.DeleteAccessRequest(ctx, repo.ID, bob.ID), haven.ENotFound)
	_, err = s.CreateAccessRequest(ctx, repo.ID, bob.ID, nil, haven.AccessAccepted)
	mustNil(t, err)

	// Deleting the repository deletes its requests.
	mustNil(t, s.DeleteRepo(ctx, repo.ID))
	sts, err = s.AccessStatuses(ctx, bob.ID)
	mustNil(t, err)
	if len(sts) != 0 {
		t.Fatalf("after delete: %v", sts)
	}
}
