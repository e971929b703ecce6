package spaces

import (
	"context"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/meta"
)

// Configure applies the Space settings of a create or duplicate request to
// repo before its first commit: hardware, sleep time, secrets and
// variables. A duplicate gets the variables of from (those in set win), and
// only the secrets set names.
func (s *Service) Configure(ctx context.Context, repo, from *haven.Repo, set *api.SpaceSettings) error {
	if set.Hardware != "" {
		if err := s.checkFlavor(set.Hardware); err != nil {
			return err
		}
	}
	if set.SleepSeconds != nil {
		if err := checkSleep(*set.SleepSeconds); err != nil {
			return err
		}
	}
	for _, e := range append(append([]api.SpaceEnvEntry{}, set.Secrets...), set.Variables...) {
		if err := checkEnvEntry(e.Key, e.Value); err != nil {
			return err
		}
	}
	if set.Hardware != "" || set.SleepSeconds != nil {
		err := s.updateState(ctx, repo, func(st *meta.SpaceState) {
			if set.Hardware != "" {
				st.Hardware = set.Hardware
			}
			if set.SleepSeconds != nil {
				st.SleepSeconds = set.SleepSeconds
			}
		})
		if err != nil {
			return err
		}
	}
	if from != nil {
		vars, err := s.cfg.Meta.SpaceEnv(ctx, from.ID, false)
		if err != nil {
			return err
		}
		for _, v := range vars {
			if err := s.cfg.Meta.PutSpaceEnv(ctx, repo.ID, false, v); err != nil {
				return err
			}
		}
	}
	for _, e := range set.Variables {
		if err := s.cfg.Meta.PutSpaceEnv(ctx, repo.ID, false, meta.SpaceEnvVar{Key: e.Key, Value: e.Value, Description: e.Description}); err != nil {
			return err
		}
	}
	for _, e := range set.Secrets {
		v := meta.SpaceEnvVar{Key: e.Key, Value: s.seal.seal(repo.ID, e.Key, e.Value), Description: e.Description}
		if err := s.cfg.Meta.PutSpaceEnv(ctx, repo.ID, true, v); err != nil {
			return err
		}
	}
	return nil
}

// checkSleep refuses a sleep time other than a positive number of seconds
// or -1 (never).
func checkSleep(seconds int64) error {
	if seconds < 1 && seconds != -1 {
		return haven.Errorf(haven.EInvalid, "seconds must be a positive number of seconds, or -1 for never")
	}
	return nil
}

// checkEnvEntry refuses a secret or variable with a bad key or a value too
// large.
func checkEnvEntry(key, value string) error {
	if !validEnvKey(key) {
		return haven.Errorf(haven.EInvalid, "Invalid key %q: use letters, digits and underscores, not starting with a digit", key)
	}
	if len(value) > 64<<10 {
		return haven.Errorf(haven.ETooLarge, "Values are limited to 64 KiB")
	}
	return nil
}
