package meta_test

import (
	"testing"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
)

func TestMirrorsSQLite(t *testing.T)   { testMirrors(t, openSQLite(t)) }
func TestMirrorsPostgres(t *testing.T) { testMirrors(t, postgresOpener(t)(t)) }

func testMirrors(t *testing.T, s *meta.Store) {
	repo := &haven.Repo{Type: haven.Model, Namespace: "team", Name: "copy"}
	mustNil(t, s.CreateRepo(ctx, repo))
	src := haven.RepoID{Namespace: "org", Name: "model"}
	pull := &haven.Mirror{RepoID: repo.ID, Direction: haven.MirrorPull, Remote: "https://hub.example", RemoteType: haven.Model,
		RemoteID: src, Interval: time.Hour, Token: "sealed"}
	mustNil(t, s.CreateMirror(ctx, pull))
	wantCode(t, s.CreateMirror(ctx, &haven.Mirror{RepoID: repo.ID, Direction: haven.MirrorPull, Remote: "https://other.example",
		RemoteType: haven.Model, RemoteID: src, Interval: time.Hour}), haven.EConflict)
	wantCode(t, s.CreateMirror(ctx, &haven.Mirror{RepoID: repo.ID, Direction: "sideways"}), haven.EInvalid)

	got, err := s.RepoByID(ctx, repo.ID)
	mustNil(t, err)
	if got.MirrorOf != "https://hub.example/org/model" {
		t.Fatalf("MirrorOf = %q", got.MirrorOf)
	}

	push := &haven.Mirror{RepoID: repo.ID, Direction: haven.MirrorPush, Remote: "https://hub.example", RemoteType: haven.Model,
		RemoteID: haven.RepoID{Namespace: "team", Name: "published"}, Interval: time.Minute, NextSyncAt: time.Now().Add(time.Hour)}
	mustNil(t, s.CreateMirror(ctx, push))
	wantCode(t, s.CreateMirror(ctx, &haven.Mirror{RepoID: repo.ID, Direction: haven.MirrorPush, Remote: "https://hub.example",
		RemoteType: haven.Model, RemoteID: push.RemoteID, Interval: time.Minute}), haven.EConflict)

	due, err := s.DueMirrors(ctx, time.Now(), 10)
	mustNil(t, err)
	if len(due) != 1 || due[0].ID != pull.ID || due[0].RemoteID != src || due[0].Interval != time.Hour || due[0].Token != "sealed" {
		t.Fatalf("DueMirrors = %+v", due)
	}
	// Two schedulers racing for one due mirror: one moves it.
	later := time.Now().Add(time.Hour)
	ok1, err := s.DeferMirror(ctx, pull.ID, due[0].NextSyncAt, later)
	mustNil(t, err)
	ok2, err := s.DeferMirror(ctx, pull.ID, due[0].NextSyncAt, later)
	mustNil(t, err)
	if !ok1 || ok2 {
		t.Fatalf("DeferMirror twice = %v, %v", ok1, ok2)
	}

	// A change brings the push mirror forward, not the pull one.
	mustNil(t, s.SyncMirrorsOf(ctx, repo.ID, haven.MirrorPush, time.Now()))
	due, err = s.DueMirrors(ctx, time.Now().Add(time.Second), 10)
	mustNil(t, err)
	if len(due) != 1 || due[0].ID != push.ID {
		t.Fatalf("DueMirrors after a change = %+v", due)
	}

	// One sync at a time; a failure keeps the last good state.
	ok, err := s.ClaimMirror(ctx, pull.ID, "a", time.Now().Add(time.Minute))
	mustNil(t, err)
	if !ok {
		t.Fatal("first claim refused")
	}
	if ok, _ := s.ClaimMirror(ctx, pull.ID, "b", time.Now().Add(time.Minute)); ok {
		t.Fatal("second claim granted while the first runs")
	}
	mustNil(t, s.FinishMirrorSync(ctx, pull.ID, "a", meta.MirrorResult{State: `{"refs":1}`, Next: later}))
	ok, err = s.ClaimMirror(ctx, pull.ID, "b", time.Now().Add(time.Minute))
	mustNil(t, err)
	if !ok {
		t.Fatal("claim refused after the first finished")
	}
	mustNil(t, s.FinishMirrorSync(ctx, pull.ID, "b", meta.MirrorResult{Err: "upstream unreachable", Next: later}))
	m, err := s.MirrorByID(ctx, pull.ID)
	mustNil(t, err)
	if m.State != `{"refs":1}` || m.LastError != "upstream unreachable" || m.LastSuccessAt.IsZero() || m.LastAttemptAt.IsZero() {
		t.Fatalf("after a failure: %+v", m)
	}

	list, err := s.MirrorsOfRepo(ctx, repo.ID)
	mustNil(t, err)
	if len(list) != 2 || list[0].Direction != haven.MirrorPull || list[1].Direction != haven.MirrorPush {
		t.Fatalf("MirrorsOfRepo = %+v", list)
	}

	// Stopping the pull mirror makes the repository writable again.
	mustNil(t, s.DeleteMirror(ctx, pull.ID))
	wantCode(t, s.DeleteMirror(ctx, pull.ID), haven.ENotFound)
	got, err = s.RepoByID(ctx, repo.ID)
	mustNil(t, err)
	if got.MirrorOf != "" {
		t.Fatalf("MirrorOf after delete = %q", got.MirrorOf)
	}
}
