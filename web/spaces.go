package web

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
)

// SpaceRuntime is what the Space pages ask of the service that runs the
// apps of Space repositories (*spaces.Service). The pages only read through
// it; their script changes settings through the Spaces API.
type SpaceRuntime interface {
	// Host is the URL the app is served at.
	Host(repo *haven.Repo) string
	// Embed is the URL to frame and link for a viewer who may read the
	// Space (signed where the hub's session does not reach the app).
	Embed(repo *haven.Repo) string
	// Status is the runtime as the API reports it: the stage, the error
	// message of a failure, the hardware requested and the sleep time in
	// seconds (-1 for never; nil and no hardware for static Spaces).
	Status(ctx context.Context, repo *haven.Repo) (meta.SpaceState, error)
	// Env lists the variables, or the secrets without their values.
	Env(ctx context.Context, repo *haven.Repo, secret bool) ([]meta.SpaceEnvVar, error)
	// Flavors yields the hardware offered: name and description.
	Flavors() iter.Seq2[string, string]
}

// spaceView is the state of a Space's app, shown on each of its pages.
type spaceView struct {
	Stage   string
	Message string // why it failed, for failed stages
	Host    string // where the app is served
	Embed   string // what the page frames and links
	Static  bool
	API     string // "/api/spaces/ns/name", escaped
}

// Running reports whether the app serves requests.
func (s *spaceView) Running() bool {
	return stageClass(s.Stage) == "running" || runningWhileBusy(s.Stage)
}

// Framed reports whether the page loads the app in its frame: while it
// runs, and while it sleeps, since the visit wakes it.
func (s *spaceView) Framed() bool { return s.Running() || s.Stage == "SLEEPING" }

// Failed reports whether the app stopped on an error.
func (s *spaceView) Failed() bool { return stageClass(s.Stage) == "error" }

func runningWhileBusy(stage string) bool {
	return stage == "RUNNING_BUILDING" || stage == "RUNNING_APP_STARTING"
}

// stageClass is the colour of a stage's badge: running (green), busy
// (amber), error (red) or idle (grey).
func stageClass(stage string) string {
	switch {
	case stage == "RUNNING":
		return "running"
	case stage == "BUILDING" || stage == "APP_STARTING" || runningWhileBusy(stage):
		return "busy"
	case strings.HasSuffix(stage, "_ERROR") || stage == "NO_APP_FILE":
		return "error"
	}
	return "idle"
}

// stageLabel writes a stage for people: "RUNTIME_ERROR" is "Runtime error".
func stageLabel(stage string) string {
	if stage == "" {
		return "Unknown"
	}
	s := strings.ToLower(strings.ReplaceAll(stage, "_", " "))
	return strings.ToUpper(s[:1]) + s[1:]
}

// spaceNote says what the page shows instead of the app, or while waiting
// for it; "" when the app is simply running.
func spaceNote(stage string) string {
	switch stage {
	case "RUNNING":
		return ""
	case "RUNNING_BUILDING":
		return "A new revision is building; this one keeps serving until it is ready."
	case "RUNNING_APP_STARTING":
		return "A new revision is starting; this one keeps serving until it is ready."
	case "BUILDING":
		return "This Space is building. The app appears here once it has started."
	case "APP_STARTING":
		return "This Space is starting. The app appears here once it answers."
	case "SLEEPING":
		return "This Space was asleep and is waking up. The app appears here once it answers."
	case "PAUSED":
		return "This Space is paused by its owner."
	case "NO_APP_FILE":
		return "This Space has no app file yet."
	case "":
		return "This Space has not been built yet."
	}
	return "This Space has an error (" + stage + ")."
}

func spaceAPI(repo *haven.Repo) string {
	return "/api/spaces/" + url.PathEscape(repo.Namespace) + "/" + url.PathEscape(repo.Name)
}

// spaceOf returns the state a Space's pages show, or nil when the
// repository is not a Space or no Spaces run beside the pages.
func (h *Handler) spaceOf(ctx context.Context, repo *haven.Repo) (*spaceView, error) {
	if h.Spaces == nil || repo.Type != haven.Space {
		return nil, nil
	}
	st, err := h.Spaces.Status(ctx, repo)
	if err != nil {
		return nil, err
	}
	v := &spaceView{
		Stage:  st.Stage,
		Host:   h.Spaces.Host(repo),
		Embed:  h.Spaces.Embed(repo),
		Static: repo.SDK == "static",
		API:    spaceAPI(repo),
	}
	if v.Failed() {
		v.Message = st.ErrorMessage
	}
	return v, nil
}

// spaceStages returns the stage of each Space in repos, by repository id;
// nil when no Spaces run beside the pages.
func (h *Handler) spaceStages(ctx context.Context, repos []*haven.Repo) (map[int64]string, error) {
	if h.Spaces == nil {
		return nil, nil
	}
	out := make(map[int64]string, len(repos))
	for _, repo := range repos {
		if repo.Type != haven.Space {
			continue
		}
		st, err := h.Spaces.Status(ctx, repo)
		if err != nil {
			return nil, err
		}
		out[repo.ID] = st.Stage
	}
	return out, nil
}

type spaceAppData struct {
	*repoView
	Note string
}

// spaceApp answers GET /spaces/{repo}: the app in a frame under the
// repository's header, or why it is not there yet. The page's script
// follows the runtime until the app runs.
func (h *Handler) spaceApp(w http.ResponseWriter, r *http.Request, v *repoView) {
	d := spaceAppData{repoView: v, Note: spaceNote(v.Space.Stage)}
	h.renderFraming(w, r, http.StatusOK, "space", v.Repo.FullName(), d, h.frameOrigin(v.Space.Host))
}

// frameOrigin is the scheme and host of an app served on its own domain,
// which the page's policy must let it frame; "" for a path on this site.
func (h *Handler) frameOrigin(host string) string {
	u, err := url.Parse(host)
	if err != nil || u.Host == "" {
		return ""
	}
	if o := u.Scheme + "://" + u.Host; o != h.origin {
		return o
	}
	return ""
}

// spaceLogs answers GET /spaces/{repo}/logs: the build and run logs, which
// the page's script follows from the API's event streams.
func (h *Handler) spaceLogs(w http.ResponseWriter, r *http.Request, repo *haven.Repo) {
	v, err := h.view(r.Context(), r, repo, "logs", "")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if v.Space == nil || v.Space.Static {
		h.notFound(w, r)
		return
	}
	h.render(w, r, http.StatusOK, "spacelogs", "Logs of "+repo.FullName(), spaceAppData{repoView: v})
}

// spaceSettings is the part of the settings page that runs a Space.
type spaceSettings struct {
	Flavors   []option
	Sleeps    []option
	Secrets   []meta.SpaceEnvVar // keys and descriptions: values are never read
	Variables []meta.SpaceEnvVar
}

// sleepChoices are the sleep times offered, in seconds.
var sleepChoices = []struct {
	Seconds int64
	Label   string
}{
	{300, "5 minutes"}, {900, "15 minutes"}, {1800, "30 minutes"}, {3600, "1 hour"},
	{36000, "10 hours"}, {86400, "24 hours"}, {172800, "48 hours"}, {259200, "72 hours"}, {-1, "Never"},
}

// loadSpaceSettings reads what the settings of a Space show.
func (h *Handler) loadSpaceSettings(ctx context.Context, repo *haven.Repo) (*spaceSettings, error) {
	st, err := h.Spaces.Status(ctx, repo)
	if err != nil {
		return nil, err
	}
	d := &spaceSettings{}
	if d.Secrets, err = h.Spaces.Env(ctx, repo, true); err != nil {
		return nil, err
	}
	if d.Variables, err = h.Spaces.Env(ctx, repo, false); err != nil {
		return nil, err
	}
	if st.Hardware != "" {
		for name, label := range h.Spaces.Flavors() {
			d.Flavors = append(d.Flavors, option{name, label, name == st.Hardware})
		}
	}
	if st.SleepSeconds != nil {
		found := false
		for _, c := range sleepChoices {
			on := c.Seconds == *st.SleepSeconds
			found = found || on
			d.Sleeps = append(d.Sleeps, option{strconv.FormatInt(c.Seconds, 10), c.Label, on})
		}
		if !found {
			n := strconv.FormatInt(*st.SleepSeconds, 10)
			d.Sleeps = append(d.Sleeps, option{n, n + " seconds", true})
		}
	}
	return d, nil
}

// repoEntry is a repository in a list, with the stage of a Space's app
// ("" when not known).
type repoEntry struct {
	Repo  *haven.Repo
	Stage string
}
