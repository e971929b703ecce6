package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/finetune"
	"github.com/havenhub/haven/meta"
)

// JobPages is what the job pages need of the service that runs jobs
// (*jobs.Service). Lists come from meta; the page's script follows a
// job's log, stage and metrics through the Jobs API.
type JobPages interface {
	Get(ctx context.Context, id string) (*haven.Job, error)
	Cancel(ctx context.Context, id string) error
	// Timeout is the time limit the job runs under.
	Timeout(j *haven.Job) time.Duration
}

// jobStages are the stages the list filters on, in the order offered.
var jobStages = []string{haven.JobScheduling, haven.JobRunning, haven.JobCompleted, haven.JobError, haven.JobCanceled}

// jobsPerPage is how many jobs one page of the list shows.
const jobsPerPage = 50

// routeJobs serves /jobs/{ns}, /jobs/{ns}/{id} and the cancel form.
func (h *Handler) routeJobs(w http.ResponseWriter, r *http.Request, segs []string) {
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case len(segs) == 1 && get:
		h.jobList(w, r, segs[0])
	case len(segs) == 2 && get:
		h.jobPage(w, r, segs[0], segs[1])
	case len(segs) == 3 && segs[2] == "cancel" && r.Method == http.MethodPost:
		h.cancelJob(w, r, segs[0], segs[1])
	case len(segs) == 3 && segs[2] == "retry" && r.Method == http.MethodPost && h.Finetune != nil:
		h.retryJob(w, r, segs[0], segs[1])
	default:
		h.notFound(w, r)
	}
}

// jobNamespace checks that the visitor may see (write: cancel) the jobs
// of namespace name and returns it. Those with no standing in it get "not
// found", as from the API.
func (h *Handler) jobNamespace(r *http.Request, name string, write bool) (*haven.User, error) {
	if err := auth.CanRunJobs(actorOf(r), name, write); err != nil {
		return nil, err
	}
	u, err := h.meta.UserByName(r.Context(), name)
	if err != nil {
		return nil, haven.Errorf(haven.ENotFound, "Namespace %s not found", name)
	}
	return u, nil
}

// jobOf returns the job id of namespace ns; a job of another namespace is
// not found.
func (h *Handler) jobOf(ctx context.Context, ns *haven.User, id string) (*haven.Job, error) {
	j, err := h.Jobs.Get(ctx, id)
	if err != nil || j.OwnerID != ns.ID {
		return nil, haven.Errorf(haven.ENotFound, "Job %s not found", id)
	}
	return j, nil
}

// jobRow is a job as the list shows it.
type jobRow struct {
	*haven.Job
	URL      string
	Short    string
	Image    string
	Command  string
	Duration string
	Class    string // of the stage's badge
}

func (h *Handler) jobRow(j *haven.Job, now time.Time) jobRow {
	return jobRow{Job: j, URL: jobURL(j), Short: shortJobID(j.ID), Image: jobImage(j), Command: jobCommand(j),
		Duration: jobDuration(j, now), Class: jobStageClass(j.Stage)}
}

type jobsData struct {
	Namespace *haven.User
	Stage     string   // the stage filtered on; "" for all
	Stages    []string // offered filters
	Jobs      []jobRow
	Older     string // URL of the next page; "" for none
}

// jobList answers GET /jobs/{ns}: the namespace's jobs, newest first,
// optionally of one stage, paged by creation time.
func (h *Handler) jobList(w http.ResponseWriter, r *http.Request, name string) {
	ns, err := h.jobNamespace(r, name, false)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	d := jobsData{Namespace: ns, Stages: jobStages}
	var stages []string
	if st := strings.ToUpper(q.Get("stage")); slices.Contains(jobStages, st) {
		d.Stage, stages = st, []string{st}
	}
	var before time.Time
	if c := q.Get("before"); c != "" {
		us, err := strconv.ParseInt(c, 10, 64)
		if err != nil {
			h.errorPage(w, r, http.StatusBadRequest, "The page's position is not valid.")
			return
		}
		before = time.UnixMicro(us)
	}
	list, err := h.meta.JobRunsOf(r.Context(), ns.ID, stages, before, jobsPerPage+1)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if len(list) > jobsPerPage {
		list = list[:jobsPerPage]
		v := url.Values{"before": {strconv.FormatInt(list[len(list)-1].CreatedAt.UnixMicro(), 10)}}
		if d.Stage != "" {
			v.Set("stage", d.Stage)
		}
		d.Older = jobsURL(ns.Name) + "?" + v.Encode()
	}
	now := time.Now()
	for _, j := range list {
		d.Jobs = append(d.Jobs, h.jobRow(j, now))
	}
	h.render(w, r, http.StatusOK, "jobs", "Jobs of "+ns.Name, d)
}

type jobData struct {
	jobRow
	API       string // "/api/jobs/{ns}/{id}", escaped
	Env       []string
	Secrets   []string
	Labels    []label
	Volumes   []haven.JobVolume
	Timeout   string
	Waited    string
	Ran       string
	Running   bool // not ended: the page follows it
	CanCancel bool
	CanRetry  bool // a finished fine-tune
	Pushed    []*haven.Repo
}

type label struct{ Key, Value string }

// jobPage answers GET /jobs/{ns}/{id}: what the job runs, its stage and
// times, and (from the page's script) its live log, training progress and
// resource use.
func (h *Handler) jobPage(w http.ResponseWriter, r *http.Request, name, id string) {
	ns, err := h.jobNamespace(r, name, false)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	j, err := h.jobOf(r.Context(), ns, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	now := time.Now()
	d := jobData{
		jobRow:    h.jobRow(j, now),
		API:       "/api/jobs/" + url.PathEscape(ns.Name) + "/" + url.PathEscape(j.ID),
		Secrets:   slices.Sorted(slices.Values(j.Spec.Secrets)),
		Volumes:   j.Spec.Volumes,
		Timeout:   humanDuration(h.Jobs.Timeout(j)),
		Running:   !haven.JobTerminal(j.Stage),
		CanCancel: !haven.JobTerminal(j.Stage) && auth.CanRunJobs(actorOf(r), ns.Name, true) == nil,
		CanRetry: h.Finetune != nil && haven.JobTerminal(j.Stage) && j.Spec.Labels[finetune.Label] != "" &&
			auth.CanRunJobs(actorOf(r), ns.Name, true) == nil,
	}
	for k := range j.Spec.Environment {
		d.Env = append(d.Env, k)
	}
	slices.Sort(d.Env)
	for k, v := range j.Spec.Labels {
		d.Labels = append(d.Labels, label{k, v})
	}
	slices.SortFunc(d.Labels, func(a, b label) int { return strings.Compare(a.Key, b.Key) })
	if !j.StartedAt.IsZero() {
		d.Waited = humanDuration(j.StartedAt.Sub(j.CreatedAt))
		d.Ran = d.Duration
	}
	if d.Pushed, err = h.pushedRepos(r.Context(), actorOf(r), j, now); err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "job", "Job "+d.Short+" of "+ns.Name, d)
}

// cancelJob answers the Cancel button, POST /jobs/{ns}/{id}/cancel (the
// same-origin check of ServeHTTP guards it), for those who may run jobs in
// the namespace.
func (h *Handler) cancelJob(w http.ResponseWriter, r *http.Request, name, id string) {
	ns, err := h.jobNamespace(r, name, true)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	j, err := h.jobOf(r.Context(), ns, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.Jobs.Cancel(r.Context(), j.ID); err != nil {
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, jobURL(j), http.StatusSeeOther)
}

// retryJob answers the Retry button of a finished fine-tune, POST
// /jobs/{ns}/{id}/retry: the same fine-tune as a new job.
func (h *Handler) retryJob(w http.ResponseWriter, r *http.Request, name, id string) {
	ns, err := h.jobNamespace(r, name, true)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	j, err := h.jobOf(r.Context(), ns, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	nj, err := h.Finetune.Retry(r.Context(), actorOf(r), j)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, jobURL(nj), http.StatusSeeOther)
}

// pushedRepos lists the model and dataset repositories of the job's
// namespace whose default branch has a commit by the job's initiator made
// while the job ran. Commits do not record the token they were made with,
// so this is what the job most likely pushed to (the page says so). Only
// the recently changed repositories the visitor may read are looked at.
func (h *Handler) pushedRepos(ctx context.Context, a *auth.Actor, j *haven.Job, now time.Time) ([]*haven.Repo, error) {
	if j.StartedAt.IsZero() || j.Initiator == "" {
		return nil, nil
	}
	from, to := j.StartedAt.Add(-2*time.Second), j.FinishedAt
	if to.IsZero() {
		to = now
	}
	to = to.Add(2 * time.Second)
	var out []*haven.Repo
	for _, t := range []haven.RepoType{haven.Model, haven.Dataset} {
		repos, err := h.meta.ListRepos(ctx, visible(a, meta.RepoFilter{Type: t, Author: j.Owner, Sort: "lastModified", Limit: 20}))
		if err != nil {
			return nil, err
		}
		for _, repo := range repos {
			if repo.UpdatedAt.Before(from) {
				break // sorted by last change: the rest are older
			}
			if h.committedBy(ctx, repo, j.Initiator, from, to) {
				out = append(out, repo)
			}
		}
	}
	return out, nil
}

// committedBy reports whether one of the last commits of repo's default
// branch was authored by name between from and to. A repository that
// cannot be read counts as not pushed to.
func (h *Handler) committedBy(ctx context.Context, repo *haven.Repo, name string, from, to time.Time) bool {
	g, err := h.git.Open(ctx, repo.Type, repo.RepoID())
	if err != nil {
		return false
	}
	commits, _, err := g.Log(repo.DefaultBranch(), 0, 50)
	if err != nil {
		return false
	}
	for _, c := range commits {
		when := c.Author.When
		if when.Before(from) {
			return false
		}
		if !when.After(to) && strings.EqualFold(c.Author.Name, name) {
			return true
		}
	}
	return false
}

func jobsURL(ns string) string { return "/jobs/" + url.PathEscape(ns) }

func jobURL(j *haven.Job) string { return jobsURL(j.Owner) + "/" + url.PathEscape(j.ID) }

// shortJobID is the start of a job's id, enough to tell jobs apart.
func shortJobID(id string) string { return id[:min(len(id), 8)] }

// jobImage is what a job runs in: its image, or "Space ns/name".
func jobImage(j *haven.Job) string {
	if j.Spec.SpaceID != "" {
		return "Space " + j.Spec.SpaceID
	}
	return j.Spec.DockerImage
}

// jobCommand writes a job's command and arguments as a shell would read
// them back.
func jobCommand(j *haven.Job) string {
	words := append(slices.Clone(j.Spec.Command), j.Spec.Arguments...)
	for i, w := range words {
		words[i] = shellQuote(w)
	}
	return strings.Join(words, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// jobDuration is how long a job has run (until now while it runs); "" if
// it never started.
func jobDuration(j *haven.Job, now time.Time) string {
	if j.StartedAt.IsZero() {
		return ""
	}
	end := j.FinishedAt
	if end.IsZero() {
		end = now
	}
	return humanDuration(end.Sub(j.StartedAt))
}

// humanDuration writes a duration to the second: "45s", "3m 05s", "2h 10m".
func humanDuration(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s < 0:
		s = 0
		fallthrough
	case s < 60:
		return strconv.FormatInt(s, 10) + "s"
	case s < 3600:
		return strconv.FormatInt(s/60, 10) + "m " + pad2(s%60) + "s"
	}
	return strconv.FormatInt(s/3600, 10) + "h " + pad2(s%3600/60) + "m"
}

func pad2(n int64) string {
	if n < 10 {
		return "0" + strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10)
}

// jobStageClass is the colour of a job stage's badge.
func jobStageClass(stage string) string { return "job-" + strings.ToLower(stage) }
