package spaces

import (
	"context"
	"iter"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
)

// What the hub's web pages show of a Space: its stage and settings, as the
// runtime API reports them, its variables and secrets, and the hardware on
// offer. Changes go through the API.

// Status is a Space's runtime as the API reports it: Stage as the Hub names
// it (a queued push already counts as BUILDING), the ErrorMessage of the
// last failure, the Hardware requested and the SleepSeconds in effect (-1
// for never). Static Spaces have neither hardware nor sleep time: Hardware
// is "" and SleepSeconds nil.
func (s *Service) Status(ctx context.Context, repo *haven.Repo) (meta.SpaceState, error) {
	st := meta.SpaceState{RepoID: repo.ID}
	rt, err := s.runtime(ctx, repo)
	if err != nil {
		return st, err
	}
	st.Stage, _ = rt["stage"].(string)
	st.ErrorMessage, _ = rt["errorMessage"].(string)
	if hw, ok := rt["hardware"].(map[string]any); ok {
		st.Hardware, _ = hw["requested"].(string)
	}
	if v, ok := rt["gcTimeout"]; ok {
		never := int64(-1)
		st.SleepSeconds = &never
		if n, ok := v.(int64); ok {
			st.SleepSeconds = &n
		}
	}
	return st, nil
}

// Env lists a Space's variables, or its secrets with their values left out:
// secret values never leave the service.
func (s *Service) Env(ctx context.Context, repo *haven.Repo, secret bool) ([]meta.SpaceEnvVar, error) {
	vars, err := s.cfg.Meta.SpaceEnv(ctx, repo.ID, secret)
	if err != nil {
		return nil, err
	}
	if secret {
		for i := range vars {
			vars[i].Value = ""
		}
	}
	return vars, nil
}

// Flavors yields the hardware this hub offers: the flavor's name, as the
// hardware API takes it, and a description for people.
func (s *Service) Flavors() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for _, f := range s.flavors().List() {
			if !yield(f.Name, f.Describe()) {
				return
			}
		}
	}
}
