package inference

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/hubhttp"
	"github.com/havenhub/haven/meta"
)

// Prefix is where the inference routes are mounted.
const Prefix = "/inference"

// Handler serves the inference routes under /inference and hands every other
// request to next. It sits in front of the web pages (api.Config.Web), so
// the API has identified the caller (hubhttp.Actor) before it runs:
//
//	POST /inference/hf-inference/models/{ns}/{name}                  the model's task (its pipeline_tag)
//	POST /inference/hf-inference/models/{ns}/{name}/pipeline/{task}  another task of the model
//	POST /inference/hf-inference/models/{ns}/{name}/v1/{chat/completions|completions|embeddings}
//	POST /inference/hf-inference/models/{ns}/{name}/rerank             TEI's rerank (text-ranking models)
//	GET  /inference/hf-inference/models/{ns}/{name}/{health|info|v1/models}
//	POST /inference/models/{ns}/{name}[/…]   the same under api-inference's form
//	GET  /inference/models/{ns}/{name}/info
//	POST /inference/pipeline/{task}/{ns}/{name}
//	POST /inference/v1/{chat/completions|completions|embeddings}  (the model in the body)
//	GET  /inference/v1/models
func (s *Service) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.EscapedPath()
		if p != Prefix && !strings.HasPrefix(p, Prefix+"/") {
			next.ServeHTTP(w, r)
			return
		}
		segs, err := segments(strings.TrimPrefix(p, Prefix))
		if err != nil {
			hubhttp.WriteError(s.log, w, r, err)
			return
		}
		s.route(w, r, segs)
	})
}

func segments(escaped string) ([]string, error) {
	escaped = strings.Trim(escaped, "/")
	if escaped == "" {
		return nil, nil
	}
	parts := strings.Split(escaped, "/")
	for i, p := range parts {
		u, err := url.PathUnescape(p)
		if err != nil {
			return nil, haven.Errorf(haven.EInvalid, "Invalid URL path")
		}
		parts[i] = u
	}
	return parts, nil
}

func (s *Service) route(w http.ResponseWriter, r *http.Request, segs []string) {
	switch {
	case len(segs) >= 4 && segs[0] == "hf-inference" && segs[1] == "models":
		s.routeModel(w, r, segs[2], segs[3], segs[4:])
		return
	case len(segs) >= 3 && segs[0] == "models":
		s.routeModel(w, r, segs[1], segs[2], segs[3:])
		return
	case len(segs) == 4 && segs[0] == "pipeline":
		if s.method(w, r, http.MethodPost) {
			s.serveTask(w, r, segs[2], segs[3], segs[1], nil)
		}
		return
	case len(segs) >= 2 && segs[0] == "v1":
		s.routeRouter(w, r, segs[1:])
		return
	}
	s.writeError(w, r, &Error{Status: http.StatusNotFound, Message: "Not Found"})
}

// routeModel serves the routes of one model named in the path.
func (s *Service) routeModel(w http.ResponseWriter, r *http.Request, ns, name string, rest []string) {
	path := "/" + strings.Join(rest, "/")
	switch {
	case len(rest) == 0:
		if s.method(w, r, http.MethodPost) {
			s.serveModel(w, r, ns, name, "/", nil)
		}
	case len(rest) == 2 && rest[0] == "pipeline":
		if s.method(w, r, http.MethodPost) {
			s.serveTask(w, r, ns, name, rest[1], nil)
		}
	case path == "/v1/chat/completions" || path == "/v1/completions" || path == "/v1/embeddings" || path == "/rerank":
		// The body's model ("dummy" from Python, the URL from JS) is not
		// read: the path names the model.
		if s.method(w, r, http.MethodPost) {
			s.serveModel(w, r, ns, name, path, nil)
		}
	case path == "/health" || path == "/info" || path == "/v1/models":
		if s.method(w, r, http.MethodGet) {
			s.serveModel(w, r, ns, name, path, nil)
		}
	default:
		s.writeError(w, r, &Error{Status: http.StatusNotFound, Message: "Not Found"})
	}
}

// routeRouter serves the OpenAI-compatible routes that name the model in
// the body, as router.huggingface.co/v1 does.
func (s *Service) routeRouter(w http.ResponseWriter, r *http.Request, rest []string) {
	path := "/v1/" + strings.Join(rest, "/")
	switch path {
	case "/v1/models":
		if s.method(w, r, http.MethodGet) {
			s.handleModels(w, r)
		}
		return
	case "/v1/chat/completions", "/v1/completions", "/v1/embeddings":
	default:
		s.writeError(w, r, &Error{Status: http.StatusNotFound, Message: "Not Found"})
		return
	}
	if !s.method(w, r, http.MethodPost) {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, hubhttp.MaxJSONBody))
	if err != nil {
		s.writeError(w, r, &Error{Status: http.StatusRequestEntityTooLarge, Type: "validation", Message: "The request body is too large"})
		return
	}
	var req struct {
		Model string `json:"model"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		s.writeError(w, r, &Error{Status: http.StatusBadRequest, Type: "validation", Message: "Invalid JSON body: " + err.Error()})
		return
	}
	ns, name, ok := modelName(req.Model)
	if !ok {
		s.writeError(w, r, &Error{Status: http.StatusBadRequest, Type: "validation",
			Message: fmt.Sprintf("Invalid model %q: name a model of this hub as namespace/name", req.Model)})
		return
	}
	s.serveModel(w, r, ns, name, path, body)
}

// modelName reads the body's model: "ns/name", with a routing policy
// suffix (":fastest", ":hf-inference") dropped, or a model URL of these
// routes.
func modelName(m string) (ns, name string, ok bool) {
	if strings.HasPrefix(m, "http://") || strings.HasPrefix(m, "https://") {
		u, err := url.Parse(m)
		if err != nil {
			return "", "", false
		}
		_, after, found := strings.Cut(u.Path, "/models/")
		if !found {
			return "", "", false
		}
		m = after
	}
	if i := strings.LastIndex(m, ":"); i >= 0 {
		m = m[:i]
	}
	parts := strings.Split(strings.Trim(m, "/"), "/")
	if len(parts) < 2 || !haven.ValidName(parts[0]) || !haven.ValidName(parts[1]) {
		return "", "", false
	}
	return parts[0], parts[1], true
}

// method answers 405 unless the request uses m.
func (s *Service) method(w http.ResponseWriter, r *http.Request, m string) bool {
	if r.Method == m {
		return true
	}
	w.Header().Set("Allow", m)
	s.writeError(w, r, &Error{Status: http.StatusMethodNotAllowed, Message: "Method not allowed: use " + m})
	return false
}

// serveTask serves POST …/pipeline/{task}.
func (s *Service) serveTask(w http.ResponseWriter, r *http.Request, ns, name, task string, body []byte) {
	if _, ok := LookupTask(task); !ok {
		s.writeError(w, r, unsupportedTask(task, ns+"/"+name))
		return
	}
	s.serveModel(w, r, ns, name, "/pipeline/"+task, body)
}

func unsupportedTask(task, model string) error {
	ids := make([]string, len(tasks))
	for i, t := range tasks {
		ids[i] = t.ID
	}
	return &Error{Status: http.StatusBadRequest, Type: "validation",
		Message: fmt.Sprintf("Task %q of model %s is not served by this hub; it serves %s", task, model, strings.Join(ids, ", "))}
}

// serveModel checks the caller may use the model, gets a replica of it at
// the default branch's head and proxies the request to the engine's path.
// body, when set, is the request body already read.
func (s *Service) serveModel(w http.ResponseWriter, r *http.Request, ns, name, enginePath string, body []byte) {
	ctx := r.Context()
	repo, sha, err := s.find(ctx, hubhttp.Actor(r), ns, name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	task := repo.PipelineTag
	if task != "" {
		if _, ok := LookupTask(task); !ok {
			s.writeError(w, r, unsupportedTask(task, repo.FullName()))
			return
		}
	}
	hold := s.cfg.Hold
	// X-Wait-For-Model: true asks to wait, which every request does; a
	// legacy X-Load-Model: 0 asks not to load a cold model.
	launch := r.Header.Get("X-Load-Model") != "0"
	if body != nil {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
	} else if body, err = ReadBody(r); err != nil {
		s.writeError(w, r, &Error{Status: http.StatusBadRequest, Type: "validation", Message: "reading the body: " + err.Error()})
		return
	}
	// A stream held while the model loads or waits in line is sent
	// keep-alive comments.
	held := HoldStream(w, StreamRequest(r, body), s.cfg.KeepAlive)
	rep, release, err := s.acquire(ctx, repo, sha, task, hold, launch)
	held.End()
	if err != nil {
		if held.Committed() {
			msg, typ := err.Error(), "unavailable"
			var ie *Error
			if errors.As(err, &ie) && ie.Type != "" {
				typ = ie.Type
			}
			held.Fail(msg, typ)
			return
		}
		s.writeError(w, r, err)
		return
	}
	defer release()
	s.proxy(held.Writer(w), r, repo, sha, rep, enginePath, held)
}

// find returns the model the caller may download and the commit its
// default branch points to, once checked to hold something the engine
// loads.
func (s *Service) find(ctx context.Context, actor *auth.Actor, ns, name string) (*haven.Repo, string, error) {
	repo, err := s.cfg.Meta.RepoByName(ctx, haven.Model, ns, name)
	if err != nil {
		return nil, "", err
	}
	if err := auth.CanDownload(actor, repo, strings.TrimRight(s.cfg.PublicURL, "/")+"/"+repo.FullName()); err != nil {
		return nil, "", err
	}
	g, err := s.cfg.Git.Open(ctx, repo.Type, repo.RepoID())
	if err != nil {
		return nil, "", err
	}
	sha, err := g.Resolve(repo.DefaultBranch())
	if err != nil {
		return nil, "", haven.Errorf(haven.EUnprocessable, "Model %s has no files to serve", repo.FullName())
	}
	key := strconv.FormatInt(repo.ID, 10) + "/" + sha
	if v, ok := s.checked.Load(key); ok {
		if v != nil {
			return nil, "", v.(error)
		}
		return repo, sha, nil
	}
	entries, err := g.List(sha, "", true)
	if err != nil {
		return nil, "", err
	}
	cerr := checkFiles(repo, entries)
	if cerr != nil {
		s.checked.Store(key, cerr)
		return nil, "", cerr
	}
	s.checked.Store(key, nil)
	return repo, sha, nil
}

// proxy sends the request to the engine and streams its answer back.
func (s *Service) proxy(w http.ResponseWriter, r *http.Request, repo *haven.Repo, sha string, rep *Replica, enginePath string, held *HeldStream) {
	addr := rep.Addr()
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = addr
			pr.Out.URL.Path = enginePath
			pr.Out.URL.RawPath = ""
			pr.Out.URL.RawQuery = pr.In.URL.RawQuery
			pr.Out.Host = addr
			// The engine never sees the caller's credentials.
			pr.Out.Header.Del("Authorization")
			pr.Out.Header.Del("Cookie")
		},
		Transport:     s.tr,
		FlushInterval: -1, // streams (SSE) flow as they come
		ModifyResponse: func(resp *http.Response) error {
			resp.Header.Set("X-Repo-Commit", sha)
			return held.Adapt(resp)
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the caller left
			}
			s.log.WarnContext(r.Context(), "inference: the engine did not answer", "model", repo.FullName(), "err", err)
			if held.Committed() {
				held.Fail("The engine of model "+repo.FullName()+" did not answer; try again", "unavailable")
				return
			}
			s.writeError(w, r, &Error{Status: http.StatusBadGateway, Type: "unavailable", RetryAfter: 1,
				Message: "The engine of model " + repo.FullName() + " did not answer; try again"})
		},
	}
	rp.ServeHTTP(w, r)
}

// newTransport is the client of the engines, shared by every proxied
// request: engines are local and answer as long as generation takes.
func newTransport() *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
}

// writeError answers an Error in the inference shape and anything else in
// the Hub's.
func (s *Service) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return // the caller left
		}
		hubhttp.WriteError(s.log, w, r, err)
		return
	}
	h := w.Header()
	h.Set("X-Error-Message", strings.ReplaceAll(e.Message, "\n", " "))
	h.Set("Cache-Control", "no-store")
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	body := map[string]any{"error": e.Message}
	if e.Type != "" {
		body["error_type"] = e.Type
	}
	if e.Estimated > 0 {
		body["estimated_time"] = e.Estimated
	}
	hubhttp.WriteJSON(w, e.Status, body)
}

// handleModels answers GET /inference/v1/models: the models the caller may
// use that are loaded now or whose task the OpenAI routes serve.
func (s *Service) handleModels(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	actor := hubhttp.Actor(r)
	seen := map[int64]bool{}
	data := []map[string]any{}
	add := func(repo *haven.Repo) {
		if seen[repo.ID] || auth.CanDownload(actor, repo, "") != nil {
			return
		}
		seen[repo.ID] = true
		data = append(data, map[string]any{"id": repo.FullName(), "object": "model", "created": repo.CreatedAt.Unix(), "owned_by": repo.Namespace})
	}
	for _, old := range s.warmRepos() {
		if repo, err := s.cfg.Meta.RepoByName(ctx, haven.Model, old.Namespace, old.Name); err == nil {
			add(repo)
		}
	}
	for _, t := range tasks {
		if !t.OpenAI {
			continue
		}
		repos, err := s.cfg.Meta.ListRepos(ctx, s.filter(actor, t.ID, 1000))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		for _, repo := range repos {
			add(repo)
		}
	}
	sort.SliceStable(data, func(i, j int) bool { return data[i]["id"].(string) < data[j]["id"].(string) })
	hubhttp.WriteJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

// filter lists the models of a task the actor may see, most downloaded
// first.
func (s *Service) filter(actor *auth.Actor, task string, limit int) meta.RepoFilter {
	return meta.RepoFilter{Type: haven.Model, Tags: []string{task}, VisibleTo: actor.Namespaces(),
		SeeAll: !actor.Anonymous() && actor.User.IsAdmin, Sort: "downloads", Limit: limit}
}

// RepoAction implements api.Routes: the Service has no repository actions.
func (s *Service) RepoAction(haven.RepoType, string, string) api.RepoHandler { return nil }

// API implements api.Routes: GET /api/tasks.
func (s *Service) API(first string) http.Handler {
	if first == "tasks" {
		return http.HandlerFunc(s.handleTasks)
	}
	return nil
}

// handleTasks answers GET /api/tasks: the tasks this hub serves, each with
// the models a widget (and a client given no model) would use.
func (s *Service) handleTasks(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hubhttp.WriteError(s.log, w, r, haven.Errorf(haven.ENotFound, "Not Found"))
		return
	}
	actor := hubhttp.Actor(r)
	out := map[string]any{}
	for _, t := range tasks {
		repos, err := s.cfg.Meta.ListRepos(r.Context(), s.filter(actor, t.ID, 20))
		if err != nil {
			hubhttp.WriteError(s.log, w, r, err)
			return
		}
		models := []string{}
		for _, repo := range repos {
			if auth.CanDownload(actor, repo, "") == nil && len(models) < 5 {
				models = append(models, repo.FullName())
			}
		}
		out[t.ID] = map[string]any{"id": t.ID, "label": t.Label, "widgetModels": models}
	}
	hubhttp.WriteJSON(w, http.StatusOK, out)
}

// ModelInference tells repo info how the hub serves a model: the task it is
// served for ("" when none) and whether a replica of it is loaded.
func (s *Service) ModelInference(repo *haven.Repo) (task string, warm bool) {
	if repo.Type != haven.Model {
		return "", false
	}
	if _, ok := LookupTask(repo.PipelineTag); ok {
		task = repo.PipelineTag
	}
	return task, s.Warm(repo.ID)
}
