package jobs

import (
	"context"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/havenhub/haven"
)

// cronParser reads the Hub's schedules: five-field cron lines and the
// @hourly-style descriptors, and, beyond the Hub, "@every 30s".
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// parseSchedule reads a schedule, in UTC. The descriptors are also taken
// without their "@" ("hourly"), as the CLI's help shows them.
func parseSchedule(spec string) (cron.Schedule, error) {
	spec = strings.TrimSpace(spec)
	switch spec {
	case "annually", "yearly", "monthly", "weekly", "daily", "midnight", "hourly":
		spec = "@" + spec
	}
	if strings.HasPrefix(spec, "@every ") {
		d, err := time.ParseDuration(strings.TrimPrefix(spec, "@every "))
		if err != nil || d < time.Second {
			return nil, haven.Errorf(haven.EInvalid, "Invalid schedule %q: @every needs a duration of at least 1s", spec)
		}
	}
	sched, err := cronParser.Parse("TZ=UTC " + spec)
	if err != nil {
		return nil, haven.Errorf(haven.EInvalid, "Invalid schedule %q: expected a cron line of five fields (\"*/5 * * * *\") or @annually, @yearly, @monthly, @weekly, @daily, @hourly", spec)
	}
	return sched, nil
}

// nextRun is when a schedule next fires after t.
func nextRun(spec string, t time.Time) time.Time {
	sched, err := parseSchedule(spec)
	if err != nil {
		return time.Time{}
	}
	return sched.Next(t).UTC()
}

// scheduleLoop starts the jobs of due schedules, checking each second.
func (s *Service) scheduleLoop() {
	defer s.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
		}
		due, err := s.cfg.Meta.DueJobSchedules(s.ctx, time.Now())
		if err != nil {
			if s.ctx.Err() == nil {
				s.log.Warn("jobs: reading due schedules", "err", err)
			}
			continue
		}
		for _, sj := range due {
			s.fire(s.ctx, sj)
		}
	}
}

// fire takes one tick of a due schedule and starts its job, unless the
// previous one still runs and the schedule allows no concurrency. Ticks
// missed while Haven was down are not made up: the next is counted from
// now.
func (s *Service) fire(ctx context.Context, sj *haven.ScheduledJob) {
	next := nextRun(sj.Schedule, time.Now())
	ok, err := s.cfg.Meta.TakeJobScheduleTick(ctx, sj.ID, sj.NextRunAt, next)
	if err != nil || !ok {
		return
	}
	if _, err := s.trigger(ctx, sj); err != nil && !haven.IsCode(err, haven.EConflict) {
		s.log.Warn("jobs: starting a scheduled job", "schedule", sj.ID, "err", err)
	}
}

// trigger starts a run of a scheduled job now. With concurrency off, a run
// while the previous one has not ended is a conflict.
func (s *Service) trigger(ctx context.Context, sj *haven.ScheduledJob) (*haven.Job, error) {
	if !sj.Concurrency && sj.LastJobID != "" {
		if last, err := s.cfg.Meta.JobRun(ctx, sj.LastJobID); err == nil && !haven.JobTerminal(last.Stage) {
			return nil, haven.Errorf(haven.EConflict, "The last job of this scheduled job (%s) is still running", last.ID)
		}
	}
	ns, err := s.cfg.Meta.UserByID(ctx, sj.OwnerID)
	if err != nil {
		return nil, err
	}
	creator, err := s.cfg.Meta.UserByID(ctx, sj.CreatorID)
	if err != nil {
		return nil, err
	}
	sealed, err := s.cfg.Meta.JobScheduleSecrets(ctx, sj.ID)
	if err != nil {
		return nil, err
	}
	secrets, err := s.openSecrets("schedule "+sj.ID, sealed)
	if err != nil {
		return nil, err
	}
	j, err := s.Submit(ctx, ns, creator, "scheduled-job", sj.ID, sj.Spec, secrets)
	if err != nil {
		return nil, err
	}
	sj.LastJobID, sj.LastJobAt = j.ID, j.CreatedAt
	return j, s.cfg.Meta.SetJobScheduleLastJob(ctx, sj.ID, j.ID, j.CreatedAt)
}
