package spaces

import (
	"context"
	"net/http"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/hubhttp"
	"github.com/havenhub/haven/meta"
)

// RepoAction serves the Spaces API under /api/spaces/{ns}/{name}/{action},
// on the replica that runs the Space's app.
func (s *Service) RepoAction(t haven.RepoType, action, method string) api.RepoHandler {
	if h := s.repoAction(t, action, method); h != nil {
		return s.atHolderAction(h)
	}
	return nil
}

func (s *Service) repoAction(t haven.RepoType, action, method string) api.RepoHandler {
	if t != haven.Space {
		return nil
	}
	switch {
	case action == "runtime" && method == http.MethodGet:
		return s.handleRuntime
	case action == "hardware" && method == http.MethodPost:
		return s.handleHardware
	case action == "sleeptime" && method == http.MethodPost:
		return s.handleSleepTime
	case action == "pause" && method == http.MethodPost:
		return s.handlePause
	case action == "restart" && method == http.MethodPost:
		return s.handleRestart
	case action == "secrets" || action == "variables":
		switch method {
		case http.MethodGet, http.MethodPost, http.MethodDelete:
			secret := action == "secrets"
			return func(w http.ResponseWriter, r *http.Request, repo *haven.Repo, rest []string) {
				s.handleEnv(w, r, repo, secret)
			}
		}
	case action == "logs" && method == http.MethodGet:
		return s.handleLogs
	case action == "metrics" && method == http.MethodGet:
		return s.handleMetrics
	}
	return nil
}

// API serves /api/spaces/hardware and /api/spaces/templates.
func (s *Service) API(first string) http.Handler {
	switch first {
	case "spaces/hardware":
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			offered := s.flavors().List()
			out := make([]map[string]any, 0, len(offered))
			for _, f := range offered {
				out = append(out, f.HardwareInfo())
			}
			hubhttp.WriteJSON(w, http.StatusOK, out)
		})
	case "spaces/templates":
		// No templates are published on this hub.
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hubhttp.WriteJSON(w, http.StatusOK, []any{})
		})
	}
	return nil
}

func (s *Service) writeError(w http.ResponseWriter, r *http.Request, err error) {
	hubhttp.WriteError(s.log, w, r, err)
}

// runtime is the Hub's runtime object of a Space.
func (s *Service) runtime(ctx context.Context, repo *haven.Repo) (map[string]any, error) {
	a := s.lookupApp(repo.ID)
	var st meta.SpaceState
	var running bool
	if a != nil {
		a.mu.Lock()
		st = a.st
		running = a.serving != nil
		a.mu.Unlock()
	} else {
		// Not run here: the holder's recorded stage says what runs.
		got, err := s.cfg.Meta.SpaceStateOf(ctx, repo.ID)
		if err != nil {
			return nil, err
		}
		st = *got
		running = st.Stage == StageRunning || st.Stage == StageRunningBuilding || st.Stage == StageRunningAppStarting
	}
	static := repo.SDK == SDKStatic
	stage := st.Stage
	if stage == "" {
		stage = StageNoAppFile
		if static {
			// A static Space needs nothing built: it serves its files.
			stage = StageRunning
		}
	}
	if !static && repo.SHA != "" && st.SHA != repo.SHA && stage != StagePaused {
		// A push is queued and its deploy has not started yet.
		if running {
			stage = StageRunningBuilding
		} else {
			stage = StageBuilding
		}
	}
	requested := st.Hardware
	if requested == "" {
		requested = defaultFlavor
	}
	var current any
	if running {
		current = requested
	}
	rt := map[string]any{
		"stage":    stage,
		"hardware": map[string]any{"current": current, "requested": requested},
		"storage":  nil,
		"replicas": map[string]any{"requested": 1},
		"devMode":  false,
		"domains":  []map[string]any{{"domain": strings.SplitN(strings.TrimPrefix(strings.TrimPrefix(s.Host(repo), "https://"), "http://"), "/", 2)[0], "stage": "READY"}},
		"sdk":      repo.SDK,
	}
	if static {
		rt["hardware"] = map[string]any{"current": nil, "requested": nil}
		rt["replicas"] = map[string]any{"requested": 1, "current": 1}
	} else {
		if running {
			rt["replicas"] = map[string]any{"requested": 1, "current": 1}
		}
		var sleep any = int64(defaultSleep.Seconds())
		if st.SleepSeconds != nil {
			if *st.SleepSeconds < 0 {
				sleep = nil
			} else {
				sleep = *st.SleepSeconds
			}
		} else if st.Hardware != "" && st.Hardware != defaultFlavor {
			sleep = nil
		}
		rt["gcTimeout"] = sleep
	}
	if st.ErrorMessage != "" {
		rt["errorMessage"] = st.ErrorMessage
	}
	if a != nil {
		a.mu.Lock()
		if a.cfg != nil && a.cfg.SDKVersion != "" {
			rt["sdkVersion"] = a.cfg.SDKVersion
		}
		a.mu.Unlock()
	}
	return rt, nil
}

func (s *Service) writeRuntime(w http.ResponseWriter, r *http.Request, repo *haven.Repo) {
	rt, err := s.runtime(r.Context(), repo)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	hubhttp.WriteJSON(w, http.StatusOK, rt)
}

func (s *Service) handleRuntime(w http.ResponseWriter, r *http.Request, repo *haven.Repo, _ []string) {
	s.writeRuntime(w, r, repo)
}

// mayChange checks that the caller may change the Space's settings.
func (s *Service) mayChange(w http.ResponseWriter, r *http.Request, repo *haven.Repo) bool {
	if err := auth.Can(hubhttp.Actor(r), auth.Write, repo); err != nil {
		s.writeError(w, r, err)
		return false
	}
	return true
}

// updateState changes the recorded settings of a Space and restarts it when
// it was running, so that the new settings apply.
func (s *Service) updateState(ctx context.Context, repo *haven.Repo, change func(*meta.SpaceState)) error {
	a := s.lookupApp(repo.ID)
	if a == nil {
		// Not run here: the record is all there is to change.
		st, err := s.cfg.Meta.SpaceStateOf(ctx, repo.ID)
		if err != nil {
			return err
		}
		change(st)
		return s.cfg.Meta.PutSpaceState(ctx, st)
	}
	a.mu.Lock()
	if a.st.Stage == "" {
		st, err := s.cfg.Meta.SpaceStateOf(ctx, repo.ID)
		if err != nil {
			a.mu.Unlock()
			return err
		}
		a.st = *st
	}
	change(&a.st)
	st := a.st
	a.mu.Unlock()
	return s.cfg.Meta.PutSpaceState(ctx, &st)
}

func (s *Service) handleHardware(w http.ResponseWriter, r *http.Request, repo *haven.Repo, _ []string) {
	if !s.mayChange(w, r, repo) {
		return
	}
	var body struct {
		Flavor           string `json:"flavor"`
		SleepTimeSeconds *int64 `json:"sleepTimeSeconds"`
	}
	if err := hubhttp.DecodeJSON(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.checkFlavor(body.Flavor); err != nil {
		s.writeError(w, r, err)
		return
	}
	err := s.updateState(r.Context(), repo, func(st *meta.SpaceState) {
		st.Hardware = body.Flavor
		if body.SleepTimeSeconds != nil {
			st.SleepSeconds = body.SleepTimeSeconds
		}
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeRuntime(w, r, repo)
}

func (s *Service) handleSleepTime(w http.ResponseWriter, r *http.Request, repo *haven.Repo, _ []string) {
	if !s.mayChange(w, r, repo) {
		return
	}
	var body struct {
		Seconds *int64 `json:"seconds"`
	}
	if err := hubhttp.DecodeJSON(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	if body.Seconds == nil {
		s.writeError(w, r, checkSleep(0))
		return
	}
	if err := checkSleep(*body.Seconds); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.updateState(r.Context(), repo, func(st *meta.SpaceState) { st.SleepSeconds = body.Seconds }); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeRuntime(w, r, repo)
}

func (s *Service) handlePause(w http.ResponseWriter, r *http.Request, repo *haven.Repo, _ []string) {
	if !s.mayChange(w, r, repo) {
		return
	}
	if repo.SDK == SDKStatic {
		s.writeError(w, r, haven.Errorf(haven.EInvalid, "Static Spaces are always running and cannot be paused"))
		return
	}
	a := s.appFor(repo)
	a.pause()
	s.writeRuntime(w, r, repo)
}

func (s *Service) handleRestart(w http.ResponseWriter, r *http.Request, repo *haven.Repo, _ []string) {
	if !s.mayChange(w, r, repo) {
		return
	}
	if repo.SDK == SDKStatic {
		s.writeError(w, r, haven.Errorf(haven.EInvalid, "Static Spaces are always running and cannot be restarted"))
		return
	}
	sha, err := s.head(r.Context(), repo)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	factory := r.URL.Query().Get("factory") == "true"
	s.appFor(repo).deploy(sha, factory, false)
	s.writeRuntime(w, r, repo)
}

// head is the commit of the Space's default branch.
func (s *Service) head(ctx context.Context, repo *haven.Repo) (string, error) {
	g, err := s.cfg.Git.Open(ctx, repo.Type, repo.RepoID())
	if err != nil {
		return "", err
	}
	return g.Resolve(repo.DefaultBranch())
}

// handleEnv lists, sets and deletes variables and secrets. Secret values
// never leave: their listing has keys, descriptions and times only.
func (s *Service) handleEnv(w http.ResponseWriter, r *http.Request, repo *haven.Repo, secret bool) {
	ctx := r.Context()
	if r.Method != http.MethodGet || secret {
		if !s.mayChange(w, r, repo) {
			return
		}
	}
	var body struct {
		Key         string  `json:"key"`
		Value       *string `json:"value"`
		Description *string `json:"description"`
	}
	if r.Method != http.MethodGet {
		if err := hubhttp.DecodeJSON(r, &body); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := checkEnvEntry(body.Key, ""); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	switch r.Method {
	case http.MethodPost:
		v := meta.SpaceEnvVar{Key: body.Key}
		if body.Value != nil {
			v.Value = *body.Value
		}
		if body.Description != nil {
			v.Description = *body.Description
		} else if old, err := s.cfg.Meta.SpaceEnv(ctx, repo.ID, secret); err == nil {
			for _, o := range old {
				if o.Key == body.Key {
					v.Description = o.Description
				}
			}
		}
		if err := checkEnvEntry(v.Key, v.Value); err != nil {
			s.writeError(w, r, err)
			return
		}
		if secret {
			v.Value = s.seal.seal(repo.ID, v.Key, v.Value)
		}
		if err := s.cfg.Meta.PutSpaceEnv(ctx, repo.ID, secret, v); err != nil {
			s.writeError(w, r, err)
			return
		}
	case http.MethodDelete:
		if err := s.cfg.Meta.DeleteSpaceEnv(ctx, repo.ID, secret, body.Key); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if r.Method != http.MethodGet {
		s.cache.forget(repo)
		s.envChanged(ctx, repo)
		if secret {
			hubhttp.WriteJSON(w, http.StatusOK, map[string]any{})
			return
		}
	}
	vars, err := s.cfg.Meta.SpaceEnv(ctx, repo.ID, secret)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := map[string]any{}
	for _, v := range vars {
		item := map[string]any{"updatedAt": haven.FormatTime(v.UpdatedAt)}
		if v.Description != "" {
			item["description"] = v.Description
		}
		if !secret {
			item["value"] = v.Value
		}
		out[v.Key] = item
	}
	hubhttp.WriteJSON(w, http.StatusOK, out)
}

// envChanged restarts a running app so that it sees its new environment, as
// the Hub does after a change of variables or secrets.
func (s *Service) envChanged(ctx context.Context, repo *haven.Repo) {
	a := s.lookupApp(repo.ID)
	if a == nil || repo.SDK == SDKStatic {
		return
	}
	a.mu.Lock()
	stage, sha := a.st.Stage, a.st.SHA
	a.mu.Unlock()
	switch stage {
	case StageRunning, StageRunningBuilding, StageRunningAppStarting, StageAppStarting, StageBuilding, StageRuntimeError:
		a.deploy(sha, false, false)
	}
}

func validEnvKey(k string) bool {
	if k == "" || len(k) > 256 || (k[0] >= '0' && k[0] <= '9') {
		return false
	}
	for _, c := range k {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
