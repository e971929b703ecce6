package inference

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/internal/storetest"
)

// fakeEngine answers the engine's routes with canned shapes and echoes what
// it was asked, for tests only.
func fakeEngine(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"status":"ok"}`) })
	mux.HandleFunc("GET /info", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"model_id":"alice/mini"}`)
	})
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			fmt.Fprintf(w, "data: {\"choices\":[{\"delta\":{\"content\":\"t%d\"}}]}\n\n", i)
			w.(http.Flusher).Flush()
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
	})
	echo := func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"path": r.URL.Path, "body": string(b), "auth": r.Header.Get("Authorization")})
	}
	mux.HandleFunc("POST /", echo)
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts
}

type testHub struct {
	t      *testing.T
	url    string
	tokens map[string]string
	svc    *Service
	l      *fakeLauncher
}

func newTestHub(t *testing.T) *testHub {
	t.Helper()
	ctx := context.Background()
	st := storetest.Open(t)
	engine := fakeEngine(t)
	l := &fakeLauncher{addr: strings.TrimPrefix(engine.URL, "http://")}
	ts := httptest.NewServer(nil)
	t.Cleanup(ts.Close)
	svc := New(Config{Meta: st.Meta, Git: st.Git, Launcher: l, PublicURL: ts.URL})
	t.Cleanup(func() { svc.Close() })
	srv, err := api.New(api.Config{Meta: st.Meta, Git: st.Git, Blobs: st.Blobs, PublicURL: ts.URL, Secret: []byte("test-secret-test-secret-test-secret"),
		Web: svc.Handler(http.NotFoundHandler()), Routes: []api.Routes{svc}, Inference: svc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ts.Config.Handler = srv
	h := &testHub{t: t, url: ts.URL, tokens: map[string]string{}, svc: svc, l: l}
	for _, name := range []string{"alice", "bob"} {
		u := &haven.User{Name: name}
		if err := st.Meta.CreateUser(ctx, u, ""); err != nil {
			t.Fatal(err)
		}
		plain, hash := auth.NewToken()
		if err := st.Meta.CreateToken(ctx, &haven.Token{UserID: u.ID, DisplayName: "t", Role: haven.RoleWrite}, hash); err != nil {
			t.Fatal(err)
		}
		h.tokens[name] = plain
	}
	return h
}

func (h *testHub) do(method, path, user string, body any, hdr ...string) (*http.Response, []byte) {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, h.url+path, rd)
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+h.tokens[user])
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// model creates a model with a card naming its task and the files given.
func (h *testHub) model(user, name, task string, private bool, files ...string) {
	h.t.Helper()
	if res, b := h.do("POST", "/api/repos/create", user, map[string]any{"name": name, "private": private}); res.StatusCode != 200 {
		h.t.Fatalf("create: %d %s", res.StatusCode, b)
	}
	var nd bytes.Buffer
	enc := json.NewEncoder(&nd)
	enc.Encode(map[string]any{"key": "header", "value": map[string]any{"summary": "files"}})
	add := func(path, content string) {
		enc.Encode(map[string]any{"key": "file", "value": map[string]any{"path": path, "content": base64.StdEncoding.EncodeToString([]byte(content)), "encoding": "base64"}})
	}
	add("README.md", "---\npipeline_tag: "+task+"\n---\n# "+name+"\n")
	for _, f := range files {
		add(f, "{}")
	}
	if res, b := h.do("POST", "/api/models/"+user+"/"+name+"/commit/main", user, nd.Bytes()); res.StatusCode != 200 {
		h.t.Fatalf("commit: %d %s", res.StatusCode, b)
	}
}

func TestRoutes(t *testing.T) {
	h := newTestHub(t)
	h.model("alice", "mini", "feature-extraction", false, "config.json", "model.safetensors")
	h.model("alice", "secret", "text-generation", true, "config.json", "model.safetensors")
	h.model("alice", "noweights", "text-classification", false, "config.json")
	h.model("alice", "odd", "text-to-image", false, "config.json", "model.safetensors")

	// The task route: the engine's root, without the caller's token.
	res, b := h.do("POST", "/inference/hf-inference/models/alice/mini", "bob", map[string]any{"inputs": "hi"})
	var echo struct{ Path, Body, Auth string }
	if res.StatusCode != 200 || json.Unmarshal(b, &echo) != nil || echo.Path != "/" || echo.Body != `{"inputs":"hi"}` || echo.Auth != "" {
		t.Fatalf("task route: %d %s", res.StatusCode, b)
	}
	if res.Header.Get("X-Repo-Commit") == "" {
		t.Error("no X-Repo-Commit")
	}
	for path, want := range map[string]string{
		"/inference/hf-inference/models/alice/mini/pipeline/sentence-similarity": "/pipeline/sentence-similarity",
		"/inference/pipeline/feature-extraction/alice/mini":                      "/pipeline/feature-extraction",
		"/inference/models/alice/mini":                                           "/",
		"/inference/hf-inference/models/alice/mini/v1/embeddings":                "/v1/embeddings",
		"/inference/v1/embeddings":                                               "/v1/embeddings",
		"/inference/hf-inference/models/alice/mini/v1/completions":               "/v1/completions",
	} {
		res, b := h.do("POST", path, "", map[string]any{"model": "alice/mini:fastest", "input": "x"})
		if res.StatusCode != 200 || json.Unmarshal(b, &echo) != nil || echo.Path != want {
			t.Errorf("%s: %d %s, want engine path %s", path, res.StatusCode, b, want)
		}
	}
	if res, b := h.do("GET", "/inference/models/alice/mini/info", "", nil); res.StatusCode != 200 || !strings.Contains(string(b), "model_id") {
		t.Errorf("info: %d %s", res.StatusCode, b)
	}
	if res, _ := h.do("GET", "/inference/hf-inference/models/alice/mini/health", "", nil); res.StatusCode != 200 {
		t.Errorf("health: %d", res.StatusCode)
	}
	if n := h.l.count(); n != 1 {
		t.Errorf("%d launches, want 1", n)
	}

	// Streams pass through.
	res, b = h.do("POST", "/inference/v1/chat/completions", "alice", map[string]any{"model": "alice/secret", "stream": true, "messages": []any{}})
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" || strings.Count(string(b), "data:") != 4 {
		t.Errorf("stream: %d %q %s", res.StatusCode, res.Header.Get("Content-Type"), b)
	}

	// Private models: not found for others, 401 for anonymous callers.
	if res, b := h.do("POST", "/inference/v1/chat/completions", "bob", map[string]any{"model": "alice/secret"}); res.StatusCode != 404 || res.Header.Get("X-Error-Code") != "RepoNotFound" {
		t.Errorf("private to bob: %d %s", res.StatusCode, b)
	}
	if res, _ := h.do("POST", "/inference/models/alice/secret", "", map[string]any{"inputs": "x"}); res.StatusCode != 401 {
		t.Errorf("private to anonymous: %d", res.StatusCode)
	}
	// Models the engine cannot serve.
	if res, b := h.do("POST", "/inference/models/alice/noweights", "", map[string]any{"inputs": "x"}); res.StatusCode != 422 || !strings.Contains(string(b), "no weights") {
		t.Errorf("no weights: %d %s", res.StatusCode, b)
	}
	if res, b := h.do("POST", "/inference/models/alice/odd", "", map[string]any{"inputs": "x"}); res.StatusCode != 400 || !strings.Contains(string(b), "text-to-image") {
		t.Errorf("unsupported task: %d %s", res.StatusCode, b)
	}
	if res, b := h.do("POST", "/inference/v1/chat/completions", "", map[string]any{"messages": []any{}}); res.StatusCode != 400 || !strings.Contains(string(b), "namespace/name") {
		t.Errorf("no model: %d %s", res.StatusCode, b)
	}
	if res, _ := h.do("GET", "/inference/models/alice/mini", "", nil); res.StatusCode != 405 {
		t.Errorf("GET on a task route: %d", res.StatusCode)
	}

	// Models the OpenAI routes list, for each caller.
	var list struct {
		Object string
		Data   []struct{ ID string }
	}
	ids := func(user string) string {
		res, b := h.do("GET", "/inference/v1/models", user, nil)
		if res.StatusCode != 200 || json.Unmarshal(b, &list) != nil || list.Object != "list" {
			t.Fatalf("v1/models: %d %s", res.StatusCode, b)
		}
		var out []string
		for _, d := range list.Data {
			out = append(out, d.ID)
		}
		return strings.Join(out, ",")
	}
	if got := ids("alice"); got != "alice/mini,alice/secret" {
		t.Errorf("alice's models: %s", got)
	}
	if got := ids("bob"); got != "alice/mini" {
		t.Errorf("bob's models: %s", got)
	}

	// Hub metadata.
	var info map[string]any
	_, b = h.do("GET", "/api/models/alice/mini?expand[]=inference&expand[]=inferenceProviderMapping", "", nil)
	json.Unmarshal(b, &info)
	mapping, _ := info["inferenceProviderMapping"].(map[string]any)["hf-inference"].(map[string]any)
	if info["inference"] != "warm" || mapping["task"] != "feature-extraction" || mapping["providerId"] != "alice/mini" || mapping["status"] != "live" {
		t.Errorf("model info: %s", b)
	}
	var listed []map[string]any
	_, b = h.do("GET", "/api/models?search=mini&expand[]=inferenceProviderMapping", "", nil)
	if json.Unmarshal(b, &listed) != nil || len(listed) != 1 {
		t.Fatalf("list: %s", b)
	}
	if l, _ := listed[0]["inferenceProviderMapping"].([]any); len(l) != 1 || l[0].(map[string]any)["provider"] != "hf-inference" {
		t.Errorf("list mapping: %s", b)
	}
	_, b = h.do("GET", "/api/models/alice/odd?expand[]=inference&expand[]=inferenceProviderMapping", "", nil)
	info = nil
	json.Unmarshal(b, &info)
	if _, ok := info["inference"]; ok || len(info["inferenceProviderMapping"].(map[string]any)) != 0 {
		t.Errorf("cold model with an unserved task: %s", b)
	}
	var tasks map[string]struct {
		ID           string
		Label        string
		WidgetModels []string
	}
	res, b = h.do("GET", "/api/tasks", "", nil)
	if res.StatusCode != 200 || json.Unmarshal(b, &tasks) != nil {
		t.Fatalf("tasks: %d %s", res.StatusCode, b)
	}
	if fe := tasks["feature-extraction"]; fe.Label == "" || len(fe.WidgetModels) != 1 || fe.WidgetModels[0] != "alice/mini" {
		t.Errorf("tasks: %s", b)
	}
	if tg := tasks["text-generation"]; len(tg.WidgetModels) != 0 {
		t.Errorf("a private model offered to anonymous callers: %s", b)
	}

	// A push serves the new commit on the next request.
	h.model2("alice", "mini")
	h.do("POST", "/inference/models/alice/mini", "", map[string]any{"inputs": "x"})
	if n := h.l.count(); n != 3 || h.l.specs[2].SHA == h.l.specs[0].SHA {
		t.Errorf("after a push: %d launches", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !h.l.handle(0).wasStopped() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !h.l.handle(0).wasStopped() {
		t.Error("the old commit's replica was not stopped")
	}
}

// model2 pushes another commit to a model.
func (h *testHub) model2(user, name string) {
	h.t.Helper()
	var nd bytes.Buffer
	enc := json.NewEncoder(&nd)
	enc.Encode(map[string]any{"key": "header", "value": map[string]any{"summary": "more"}})
	enc.Encode(map[string]any{"key": "file", "value": map[string]any{"path": "extra.txt", "content": base64.StdEncoding.EncodeToString([]byte("x")), "encoding": "base64"}})
	if res, b := h.do("POST", "/api/models/"+user+"/"+name+"/commit/main", user, nd.Bytes()); res.StatusCode != 200 {
		h.t.Fatalf("commit: %d %s", res.StatusCode, b)
	}
}

// TestHeldStream: a streaming request held while its model loads gets
// keep-alive comments, then the engine's events.
func TestHeldStream(t *testing.T) {
	h := newTestHub(t)
	h.svc.cfg.KeepAlive = 20 * time.Millisecond
	h.l.gate = make(chan struct{})
	h.model("alice", "llm", "text-generation", false, "config.json", "model.safetensors")
	body := strings.NewReader(`{"model":"dummy","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	req, _ := http.NewRequest("POST", h.url+"/inference/hf-inference/models/alice/llm/v1/chat/completions", body)
	req.Header.Set("Authorization", "Bearer "+h.tokens["alice"])
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("held stream: %d %v", res.StatusCode, res.Header)
	}
	rd := bufio.NewReader(res.Body)
	for range 2 {
		if line, _ := rd.ReadString('\n'); line != ": keep-alive\n" {
			t.Fatalf("line %q, want a keep-alive comment", line)
		}
		rd.ReadString('\n')
	}
	close(h.l.gate) // the model loads
	rest, _ := io.ReadAll(rd)
	if !strings.Contains(string(rest), `data: {"choices":[{"delta":{"content":"t2"}}]}`) || !strings.HasSuffix(string(rest), "data: [DONE]\n\n") {
		t.Errorf("after the keep-alives: %q", rest)
	}

	// A request that is no stream is held without a word, as before.
	res2, b := h.do("POST", "/inference/hf-inference/models/alice/llm", "alice", map[string]any{"inputs": "hi"})
	if res2.StatusCode != 200 || strings.Contains(string(b), "keep-alive") {
		t.Errorf("plain request: %d %s", res2.StatusCode, b)
	}
}
