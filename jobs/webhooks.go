package jobs

import (
	"context"
	"sort"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
)

// JobSource checks that the actor may start copies of job id — the source
// of a webhook that runs a job on every event — and returns its spec as
// the Hub's JobSpec object.
func (s *Service) JobSource(ctx context.Context, a *auth.Actor, id string) (map[string]any, error) {
	j, err := s.cfg.Meta.JobRun(ctx, id)
	if err != nil || auth.CanRunJobs(a, j.Owner, false) != nil {
		return nil, errJobNotFound(id)
	}
	if err := auth.CanRunJobs(a, j.Owner, true); err != nil {
		return nil, err
	}
	return specJSON(j.Spec), nil
}

// SourceSpec is the spec of a webhook's source job as the Hub's JobSpec
// object, or nil when the job is gone.
func (s *Service) SourceSpec(ctx context.Context, id string) map[string]any {
	j, err := s.cfg.Meta.JobRun(ctx, id)
	if err != nil {
		return nil
	}
	return specJSON(j.Spec)
}

// SealWebhookSecrets seals the secrets that the jobs of webhook id get.
func (s *Service) SealWebhookSecrets(id string, secrets map[string]string) (string, error) {
	return s.sealSecrets("webhook "+id, secrets)
}

// StartWebhookJob starts a copy of the webhook's source job in the source
// job's namespace, as the webhook's owner (who must still be allowed to
// run jobs there), with env added to its environment, the webhook's
// secrets and its signing secret as WEBHOOK_SECRET. It returns the new
// job's id.
func (s *Service) StartWebhookJob(ctx context.Context, w *haven.Webhook, env map[string]string) (string, error) {
	src, err := s.cfg.Meta.JobRun(ctx, w.JobSourceID)
	if err != nil {
		return "", haven.Errorf(haven.ENotFound, "The source job %s of this webhook is gone", w.JobSourceID)
	}
	owner, err := s.cfg.Meta.UserByID(ctx, src.OwnerID)
	if err != nil {
		return "", err
	}
	by, err := s.cfg.Meta.UserByID(ctx, w.OwnerID)
	if err != nil {
		return "", err
	}
	a, err := auth.ForUser(ctx, s.cfg.Meta, by, nil)
	if err != nil {
		return "", err
	}
	if err := auth.CanRunJobs(a, owner.Name, true); err != nil {
		return "", err
	}
	secrets, err := s.openSecrets("webhook "+w.ID, w.JobSecrets)
	if err != nil {
		return "", err
	}
	if w.Secret != "" {
		secrets["WEBHOOK_SECRET"] = w.Secret // a secret: masked, not shown with the job
	}
	spec := src.Spec
	spec.Environment = map[string]string{}
	for k, v := range src.Spec.Environment {
		spec.Environment[k] = v
	}
	for k, v := range env {
		spec.Environment[k] = v
	}
	spec.Secrets = nil
	for k := range secrets {
		spec.Secrets = append(spec.Secrets, k)
	}
	sort.Strings(spec.Secrets)
	spec.Scopes, spec.Resumable = nil, false
	j, err := s.Submit(ctx, owner, by, "webhook", "", spec, secrets)
	if err != nil {
		return "", err
	}
	return j.ID, nil
}
