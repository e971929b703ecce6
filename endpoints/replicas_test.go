package endpoints

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/hubhttp"
	hubreplica "github.com/havenhub/haven/replica"
	"github.com/havenhub/haven/runner"
)

// TestEndpointsOnOneReplica runs two services as replicas of one database:
// A holds the endpoints, B passes their API and data plane to A, and takes
// them over (relaunching them) once A stopped.
func TestEndpointsOnOneReplica(t *testing.T) {
	h := newHarness(t) // the stores, a model with commits, the fake launcher
	h.svc.Close()
	var svcA *Service
	// A's address, as the other replicas reach it: the API server would
	// authenticate the caller, here alice for any token.
	srvA := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			r = r.WithContext(hubhttp.WithActor(r.Context(), h.alice))
		}
		if strings.HasPrefix(r.URL.Path, "/api/endpoints/") {
			svcA.API("endpoints").ServeHTTP(w, r)
			return
		}
		svcA.Handler(http.NotFoundHandler()).ServeHTTP(w, r)
	}))
	defer srvA.Close()
	start := func(id, url string) (*Service, *hubreplica.Self) {
		self := hubreplica.New(hubreplica.Config{Meta: h.st.Meta, ID: id, URL: url, Beat: 100 * time.Millisecond, Expiry: 2 * time.Second})
		if err := self.Start(); err != nil {
			t.Fatal(err)
		}
		svc, err := New(Config{Meta: h.st.Meta, Git: h.st.Git, Launcher: h.fake, Flavors: runner.JobFlavors(nil),
			Dir: t.TempDir(), PublicURL: "http://hub.test", Secret: []byte("0123456789abcdef0123456789abcdef"),
			Authenticate: func(r *http.Request) (*auth.Actor, error) { return h.alice, nil },
			Tick:         20 * time.Millisecond, StatsEvery: 50 * time.Millisecond, Hold: 5 * time.Second, Minute: time.Minute, Replica: self})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { svc.Close(); self.Close() })
		return svc, self
	}
	var selfA *hubreplica.Self
	svcA, selfA = start("a", srvA.URL)
	svcB, _ := start("b", "http://b.invalid")
	if !svcA.holding() || svcB.holding() {
		t.Fatalf("holding: A %v, B %v", svcA.holding(), svcB.holding())
	}
	apiB := func(method, path, body string) (int, map[string]any) {
		r := httptest.NewRequest(method, "/api/endpoints/v2/"+path, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer hf_x")
		r = r.WithContext(hubhttp.WithActor(r.Context(), h.alice))
		w := httptest.NewRecorder()
		svcB.API("endpoints").ServeHTTP(w, r)
		var m map[string]any
		json.Unmarshal(w.Body.Bytes(), &m)
		return w.Code, m
	}
	waitB := func(want string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			code, m := apiB("GET", "endpoint/alice/ep", "")
			if code == http.StatusOK && state(m) == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("endpoint through B: %d %v, want %s", code, m["status"], want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	if code, m := apiB("POST", "endpoint/alice", createBody); code != http.StatusOK {
		t.Fatalf("create through B: %d %v", code, m)
	}
	waitB(StateRunning)
	if len(svcA.list("alice")) != 1 || len(svcB.list("alice")) != 0 {
		t.Errorf("endpoints in memory: A %d, B %d", len(svcA.list("alice")), len(svcB.list("alice")))
	}
	h.svc = svcB
	if sha := shaOf(t, h.call("ep", nil)); sha != h.shas[2] {
		t.Errorf("data plane through B answered from %s", sha)
	}

	// A stops: B restores the endpoint and runs it.
	svcA.Close()
	selfA.Close()
	deadline := time.Now().Add(15 * time.Second)
	for !svcB.holding() {
		if time.Now().After(deadline) {
			t.Fatal("B did not take the endpoints over")
		}
		time.Sleep(20 * time.Millisecond)
	}
	waitB(StateRunning)
	if len(svcB.list("alice")) != 1 {
		t.Error("B does not run the endpoint it took over")
	}
	if sha := shaOf(t, h.call("ep", nil)); sha != h.shas[2] {
		t.Errorf("data plane on B answered from %s", sha)
	}
}
