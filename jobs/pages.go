package jobs

import (
	"time"

	"github.com/havenhub/haven"
)

// Timeout is the time limit a job runs under: its own, or the Hub's
// default when it names none. The job pages show it.
func (s *Service) Timeout(j *haven.Job) time.Duration {
	if j.Spec.TimeoutSeconds > 0 {
		return time.Duration(j.Spec.TimeoutSeconds) * time.Second
	}
	return defaultTimeout
}
