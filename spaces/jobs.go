package spaces

import (
	"context"
	"path/filepath"
	"strconv"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	haverunner "github.com/havenhub/haven/runner"
)

// JobEnvironment is the environment and files of a Space at its current
// revision, for a job that runs in it (the Jobs API's spaceId): the same
// recipe its app is built from, so that the environment is shared.
func (s *Service) JobEnvironment(ctx context.Context, a *auth.Actor, spaceID string) (haverunner.Recipe, string, error) {
	id, err := haven.ParseRepoID(spaceID)
	if err != nil {
		return haverunner.Recipe{}, "", err
	}
	repo, err := s.cfg.Meta.RepoByName(ctx, haven.Space, id.Namespace, id.Name)
	if err != nil {
		return haverunner.Recipe{}, "", haven.Errorf(haven.ENotFound, "Space %s not found", spaceID)
	}
	if err := auth.CanDownload(a, repo, ""); err != nil {
		return haverunner.Recipe{}, "", haven.Errorf(haven.ENotFound, "Space %s not found", spaceID)
	}
	g, err := s.cfg.Git.Open(ctx, repo.Type, repo.RepoID())
	if err != nil {
		return haverunner.Recipe{}, "", err
	}
	sha, err := g.Resolve("main")
	if err != nil {
		return haverunner.Recipe{}, "", haven.Errorf(haven.EInvalid, "Space %s has no files", spaceID)
	}
	base := filepath.Join(s.cfg.Dir, "job-checkouts", strconv.FormatInt(repo.ID, 10))
	cfg, files, err := s.prepare(ctx, repo, sha, base)
	if err != nil {
		// Its configuration's errors are the owner's to fix, and say how.
		return haverunner.Recipe{}, "", haven.Errorf(haven.EInvalid, "Space %s cannot be built: %s", spaceID, err.Error())
	}
	if cfg.SDK == SDKStatic {
		return haverunner.Recipe{}, "", haven.Errorf(haven.EInvalid, "Space %s is static: it has no environment to run a job in", spaceID)
	}
	w, _, err := s.workload(ctx, repo, cfg, files, filepath.Join(base, ".work"))
	if err != nil {
		return haverunner.Recipe{}, "", err
	}
	// Older checkouts stay: a job started from one may still be copying it.
	return w.Recipe, files, nil
}
