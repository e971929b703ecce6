package meta_test

import (
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
)

func TestSpacesSQLite(t *testing.T)   { testSpaces(t, openSQLite(t)) }
func TestSpacesPostgres(t *testing.T) { testSpaces(t, postgresOpener(t)(t)) }

func testSpaces(t *testing.T, s *meta.Store) {
	mustUser(t, s, "alice", false)
	repo := mustRepo(t, s, &haven.Repo{Type: haven.Space, Namespace: "alice", Name: "demo", SDK: "gradio"})

	st, err := s.SpaceStateOf(ctx, repo.ID)
	mustNil(t, err)
	if st.Stage != "" || st.SleepSeconds != nil || st.RepoID != repo.ID {
		t.Fatalf("fresh state = %+v, want empty", st)
	}
	never := int64(-1)
	mustNil(t, s.PutSpaceState(ctx, &meta.SpaceState{RepoID: repo.ID, Stage: "RUNNING", SHA: "abc", Hardware: "cpu-basic", SleepSeconds: &never}))
	mustNil(t, s.PutSpaceState(ctx, &meta.SpaceState{RepoID: repo.ID, Stage: "SLEEPING", SHA: "abc", SleepSeconds: &never}))
	st, err = s.SpaceStateOf(ctx, repo.ID)
	mustNil(t, err)
	if st.Stage != "SLEEPING" || st.SHA != "abc" || st.Hardware != "" || st.SleepSeconds == nil || *st.SleepSeconds != -1 {
		t.Fatalf("state = %+v, want the second put", st)
	}
	isUTC(t, "UpdatedAt", st.UpdatedAt)
	all, err := s.SpaceStates(ctx)
	mustNil(t, err)
	if len(all) != 1 || all[0].Stage != "SLEEPING" {
		t.Fatalf("SpaceStates = %+v", all)
	}
	wantCode(t, s.PutSpaceState(ctx, &meta.SpaceState{RepoID: repo.ID + 100, Stage: "RUNNING"}), haven.ERepoNotFound)

	// Variables and secrets live side by side under the same keys.
	mustNil(t, s.PutSpaceEnv(ctx, repo.ID, false, meta.SpaceEnvVar{Key: "B", Value: "1"}))
	mustNil(t, s.PutSpaceEnv(ctx, repo.ID, false, meta.SpaceEnvVar{Key: "A", Value: "2", Description: "d"}))
	mustNil(t, s.PutSpaceEnv(ctx, repo.ID, false, meta.SpaceEnvVar{Key: "B", Value: "3"}))
	mustNil(t, s.PutSpaceEnv(ctx, repo.ID, true, meta.SpaceEnvVar{Key: "B", Value: "sealed"}))
	vars, err := s.SpaceEnv(ctx, repo.ID, false)
	mustNil(t, err)
	if len(vars) != 2 || vars[0].Key != "A" || vars[0].Description != "d" || vars[1].Value != "3" {
		t.Fatalf("variables = %+v", vars)
	}
	secrets, err := s.SpaceEnv(ctx, repo.ID, true)
	mustNil(t, err)
	if len(secrets) != 1 || secrets[0].Value != "sealed" {
		t.Fatalf("secrets = %+v", secrets)
	}
	mustNil(t, s.DeleteSpaceEnv(ctx, repo.ID, false, "B"))
	mustNil(t, s.DeleteSpaceEnv(ctx, repo.ID, false, "missing"))
	vars, _ = s.SpaceEnv(ctx, repo.ID, false)
	if len(vars) != 1 {
		t.Fatalf("after delete: %+v", vars)
	}

	// Deleting the repository deletes its state and environment.
	mustNil(t, s.DeleteRepo(ctx, repo.ID))
	all, _ = s.SpaceStates(ctx)
	secrets, _ = s.SpaceEnv(ctx, repo.ID, true)
	if len(all) != 0 || len(secrets) != 0 {
		t.Fatalf("after repo delete: states %+v, secrets %+v", all, secrets)
	}
}
