package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/finetune"
	"github.com/havenhub/haven/internal/storetest"
	"github.com/havenhub/haven/jobs"
	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/web"
)

// newJobsSite is the API and the pages with the jobs service behind them
// (without a runner: jobs are recorded, never run), with users alice (admin
// of org acme), bob and carol (a reader of acme).
func newJobsSite(t *testing.T) (*site, *jobs.Service) {
	t.Helper()
	ctx := context.Background()
	st := storetest.Open(t)
	ts := httptest.NewServer(nil)
	t.Cleanup(ts.Close)
	pages, err := web.New(web.Config{Meta: st.Meta, Git: st.Git, PublicURL: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := jobs.New(jobs.Config{Meta: st.Meta, Dir: t.TempDir(), PublicURL: ts.URL, Secret: []byte("test-secret-test-secret-test-secret")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	srv, err := api.New(api.Config{Meta: st.Meta, Git: st.Git, Blobs: st.Blobs, PublicURL: ts.URL, Secret: []byte("test-secret-test-secret-test-secret"),
		Web: pages, Sessions: pages, Routes: []api.Routes{svc}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	pages.Jobs = svc
	ts.Config.Handler = srv
	s := &site{t: t, url: ts.URL, meta: st.Meta, handler: srv, tokens: map[string]string{}, pages: pages}
	users := map[string]*haven.User{}
	for _, name := range []string{"alice", "bob", "carol"} {
		hash, _ := bcrypt.GenerateFromPassword([]byte("password-"+name), bcrypt.MinCost)
		u := &haven.User{Name: name}
		if err := st.Meta.CreateUser(ctx, u, string(hash)); err != nil {
			t.Fatal(err)
		}
		plain, th := auth.NewToken()
		if err := st.Meta.CreateToken(ctx, &haven.Token{UserID: u.ID, DisplayName: "cli", Role: haven.RoleWrite}, th); err != nil {
			t.Fatal(err)
		}
		s.tokens[name], users[name] = plain, u
	}
	org := &haven.User{Name: "acme", IsOrg: true}
	if err := st.Meta.CreateUser(ctx, org, ""); err != nil {
		t.Fatal(err)
	}
	for name, role := range map[string]string{"alice": meta.RoleAdmin, "carol": meta.RoleRead} {
		if err := st.Meta.AddMember(ctx, org.ID, users[name].ID, role); err != nil {
			t.Fatal(err)
		}
	}
	return s, svc
}

// addJob records a job of ns started by initiator, as the API would.
func addJob(t *testing.T, m *meta.Store, ns, initiator string, spec haven.JobSpec) *haven.Job {
	t.Helper()
	ctx := context.Background()
	owner, err := m.UserByName(ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	by, err := m.UserByName(ctx, initiator)
	if err != nil {
		t.Fatal(err)
	}
	j := &haven.Job{OwnerID: owner.ID, InitiatorID: by.ID, InitiatorType: "user", Spec: spec}
	if err := m.CreateJobRun(ctx, j, ""); err != nil {
		t.Fatal(err)
	}
	return j
}

func TestJobPages(t *testing.T) {
	s, _ := newJobsSite(t)
	spec := haven.JobSpec{DockerImage: "python:3.12", Command: []string{"python", "-c", "print('hi there')"}, Flavor: "cpu-basic",
		Environment: map[string]string{"MODE": "fast"}, Secrets: []string{"API_KEY"}, Labels: map[string]string{"team": "nlp"}}
	mine := addJob(t, s.meta, "alice", "alice", spec)
	done := addJob(t, s.meta, "alice", "alice", haven.JobSpec{DockerImage: "ubuntu", Command: []string{"true"}, Flavor: "cpu-basic"})
	if ok, err := s.meta.MoveJobRun(context.Background(), done.ID, []string{haven.JobScheduling}, haven.JobError, "exit status 3"); err != nil || !ok {
		t.Fatal(ok, err)
	}
	orgJob := addJob(t, s.meta, "acme", "alice", spec)

	alice, bob, carol, anon := s.browser(), s.browser(), s.browser(), s.browser()
	alice.signIn("alice")
	bob.signIn("bob")
	carol.signIn("carol")
	tests := []struct {
		name   string
		b      *browser
		path   string
		status int
		has    []string
		hasNot []string
	}{
		{"list, owner", alice, "/jobs/alice", 200,
			[]string{"/jobs/alice/" + mine.ID, mine.ID[:8], "python:3.12", "python -c &#39;print(&#39;\\&#39;&#39;hi there&#39;\\&#39;&#39;)&#39;",
				"job-scheduling", "job-error", "team", "cpu-basic"}, nil},
		{"list, filtered", alice, "/jobs/alice?stage=ERROR", 200, []string{done.ID[:8]}, []string{mine.ID[:8]}},
		{"list, other user", bob, "/jobs/alice", 404, nil, []string{mine.ID}},
		{"list, anonymous", anon, "/jobs/alice", 303, nil, nil},
		{"list, unknown namespace", alice, "/jobs/nobody", 404, nil, nil},
		{"job, owner", alice, "/jobs/alice/" + mine.ID, 200,
			[]string{mine.ID, "MODE", "API_KEY", "team", "30m 00s", "/jobs/alice/" + mine.ID + "/cancel", "data-job-log=\"/api/jobs/alice/" + mine.ID + "/logs\"",
				"data-metrics=\"/api/jobs/alice/" + mine.ID + "/metrics\"", "jobs.js", "charts.js"},
			[]string{"fast"}},
		{"job, ended", alice, "/jobs/alice/" + done.ID, 200, []string{"exit status 3", "job-error"}, []string{"/cancel", "data-metrics"}},
		{"job, other user", bob, "/jobs/alice/" + mine.ID, 404, nil, []string{mine.ID}},
		{"job, anonymous", anon, "/jobs/alice/" + mine.ID, 303, nil, nil},
		{"job, under another namespace", alice, "/jobs/bob/" + mine.ID, 404, nil, nil},
		{"job, unknown", alice, "/jobs/alice/0123456789abcdef01234567", 404, nil, nil},
		{"org job, admin", alice, "/jobs/acme/" + orgJob.ID, 200, []string{orgJob.ID, "/cancel"}, nil},
		{"org job, reader", carol, "/jobs/acme/" + orgJob.ID, 200, []string{orgJob.ID}, []string{"/cancel"}},
		{"org job, outsider", bob, "/jobs/acme/" + orgJob.ID, 404, nil, []string{orgJob.ID}},
		{"org list, outsider", bob, "/jobs/acme", 404, nil, nil},
		{"org list, reader", carol, "/jobs/acme", 200, []string{orgJob.ID[:8]}, nil},
		{"profile link, own", alice, "/alice", 200, []string{`href="/jobs/alice"`}, nil},
		{"profile link, other", bob, "/alice", 200, nil, []string{`href="/jobs/alice"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.b.get(tt.path)
			if p.status != tt.status {
				t.Fatalf("GET %s = %d, want %d", tt.path, p.status, tt.status)
			}
			for _, s := range tt.has {
				if !strings.Contains(p.body, s) {
					t.Errorf("page lacks %q", s)
				}
			}
			for _, s := range tt.hasNot {
				if strings.Contains(p.body, s) {
					t.Errorf("page has %q", s)
				}
			}
		})
	}
}

func TestJobCancelForm(t *testing.T) {
	s, _ := newJobsSite(t)
	spec := haven.JobSpec{DockerImage: "python:3.12", Command: []string{"sleep", "300"}, Flavor: "cpu-basic"}
	alice, bob, carol := s.browser(), s.browser(), s.browser()
	alice.signIn("alice")
	bob.signIn("bob")
	carol.signIn("carol")
	foreign := s.browser()
	foreign.signIn("alice")
	foreign.origin = "https://elsewhere.example"
	tests := []struct {
		name   string
		b      *browser
		ns     string
		status int
		stage  string // afterwards
	}{
		{"other user", bob, "alice", 404, haven.JobScheduling},
		{"org reader", carol, "acme", 403, haven.JobScheduling},
		{"another site", foreign, "alice", 403, haven.JobScheduling},
		{"owner", alice, "alice", 303, haven.JobCanceled},
		{"org admin", alice, "acme", 303, haven.JobCanceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := addJob(t, s.meta, tt.ns, "alice", spec)
			p := tt.b.form("/jobs/"+tt.ns+"/"+j.ID+"/cancel", nil)
			if p.status != tt.status {
				t.Fatalf("POST cancel = %d, want %d\n%s", p.status, tt.status, p.body)
			}
			if tt.status == http.StatusSeeOther && p.header.Get("Location") != "/jobs/"+tt.ns+"/"+j.ID {
				t.Errorf("redirected to %q", p.header.Get("Location"))
			}
			got, err := s.meta.JobRun(context.Background(), j.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Stage != tt.stage {
				t.Errorf("stage %s, want %s", got.Stage, tt.stage)
			}
		})
	}
}

func TestJobPushedRepos(t *testing.T) {
	s, _ := newJobsSite(t)
	j := addJob(t, s.meta, "alice", "alice", haven.JobSpec{DockerImage: "python:3.12", Command: []string{"python", "train.py"}, Flavor: "cpu-basic"})
	alice := s.browser()
	alice.signIn("alice")
	if p := alice.get("/jobs/alice/" + j.ID); !strings.Contains(p.body, "Not started yet.") {
		t.Fatalf("a queued job lists pushes:\n%s", p.body)
	}
	if ok, err := s.meta.MoveJobRun(context.Background(), j.ID, []string{haven.JobScheduling}, haven.JobRunning, ""); err != nil || !ok {
		t.Fatal(ok, err)
	}
	s.createRepo("alice", "trained", true)
	s.commit("alice", "alice/trained", "weights", map[string]string{"model.txt": "w"})
	s.createRepo("bob", "elsewhere", false)
	s.commit("bob", "bob/elsewhere", "other", map[string]string{"x.txt": "x"})
	p := alice.get("/jobs/alice/" + j.ID)
	if !strings.Contains(p.body, `href="/alice/trained"`) {
		t.Errorf("the job page does not list alice/trained:\n%s", p.body)
	}
	if strings.Contains(p.body, "bob/elsewhere") {
		t.Error("the job page lists a repository of another namespace")
	}
}

// TestFinetuneRetryButton: a finished fine-tune's page offers Retry to
// those who may run jobs, which starts it again; other jobs have none.
func TestFinetuneRetryButton(t *testing.T) {
	s, _ := newJobsSite(t)
	fake := &fakeFinetune{}
	s.pages.Finetune = fake
	alice, carol := s.browser(), s.browser()
	alice.signIn("alice")
	carol.signIn("carol")
	ctx := context.Background()
	tune := addJob(t, s.meta, "acme", "alice", haven.JobSpec{DockerImage: "python:3", Command: []string{"python", "train.py"},
		Labels: map[string]string{finetune.Label: "text-classification"}})
	plain := addJob(t, s.meta, "acme", "alice", haven.JobSpec{DockerImage: "python:3", Command: []string{"true"}})
	running := addJob(t, s.meta, "acme", "alice", haven.JobSpec{DockerImage: "python:3", Command: []string{"python", "train.py"},
		Labels: map[string]string{finetune.Label: "text-classification"}})
	for _, j := range []*haven.Job{tune, plain} {
		if _, err := s.meta.MoveJobRun(ctx, j.ID, []string{haven.JobScheduling}, haven.JobError, "Exit code: 1"); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		b     *browser
		job   *haven.Job
		shown bool
	}{
		{"finished fine-tune", alice, tune, true},
		{"another job", alice, plain, false},
		{"still running", alice, running, false},
		{"org reader", carol, tune, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.b.get("/jobs/acme/" + tt.job.ID)
			if got := strings.Contains(p.body, "Retry fine-tune"); got != tt.shown {
				t.Errorf("Retry shown = %v, want %v", got, tt.shown)
			}
		})
	}
	p := alice.form("/jobs/acme/"+tune.ID+"/retry", nil)
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/jobs/acme/76543210fedcba9876543210" {
		t.Fatalf("POST retry = %d to %q", p.status, p.header.Get("Location"))
	}
	if len(fake.retried) != 1 || fake.retried[0] != tune.ID {
		t.Errorf("retried %v", fake.retried)
	}
	if p := carol.form("/jobs/acme/"+tune.ID+"/retry", nil); p.status != http.StatusForbidden {
		t.Errorf("an org reader's retry = %d", p.status)
	}
}
