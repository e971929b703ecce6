package spaces

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/internal/storetest"
	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/replica"
)

// testReplica is a replica whose heartbeat is renewed every 100ms and
// expires after 2s.
func testReplica(t *testing.T, m *meta.Store, id, url string) *replica.Self {
	t.Helper()
	self := replica.New(replica.Config{Meta: m, ID: id, URL: url, Beat: 100 * time.Millisecond, Expiry: 2 * time.Second})
	if err := self.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { self.Close() })
	return self
}

// TestSpaceRunOnOneReplica has replica A hold a running Space: B does not
// start it, passes its app's requests and API calls to A, leaves its pushes
// to A, and takes it over once A's heartbeat expired.
func TestSpaceRunOnOneReplica(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t)
	alice := &haven.User{Name: "alice", Email: "alice@example.com"}
	if err := st.Meta.CreateUser(ctx, alice, ""); err != nil {
		t.Fatal(err)
	}
	repo := &haven.Repo{Type: haven.Space, Namespace: "alice", Name: "demo", SDK: "gradio"}
	if err := st.Meta.CreateRepo(ctx, repo); err != nil {
		t.Fatal(err)
	}
	if err := st.Meta.PutSpaceState(ctx, &meta.SpaceState{RepoID: repo.ID, Stage: StageRunning, SHA: "abc"}); err != nil {
		t.Fatal(err)
	}

	// A stands for a replica that runs the app: it answers what it gets.
	var mu sync.Mutex
	var got []*http.Request
	srvA := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r)
		mu.Unlock()
		io.WriteString(w, "answered by a")
	}))
	defer srvA.Close()
	a := testReplica(t, st.Meta, "a", srvA.URL)
	if h, err := st.Meta.HoldSpace(ctx, repo.ID, "a", a.LiveSince()); err != nil || h != "a" {
		t.Fatal(h, err)
	}

	b, err := New(Config{Meta: st.Meta, Git: st.Git, Dir: filepath.Join(t.TempDir(), "spaces"), PublicURL: "http://hub",
		Secret: []byte("test-secret-test-secret-test-secret"), Replica: testReplica(t, st.Meta, "b", "http://b.invalid"),
		Authenticate: func(*http.Request) (*auth.Actor, error) { return &auth.Actor{}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.lookupApp(repo.ID) != nil {
		t.Fatal("B started a Space that A runs")
	}

	// The app's requests and the Space's API calls go to A.
	h := b.Handler(http.NotFoundHandler())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "http://hub/-/spaces/alice/demo/run/predict?x=1", nil))
	if rec.Code != 200 || rec.Body.String() != "answered by a" {
		t.Fatalf("app request through B: %d %q", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	b.RepoAction(haven.Space, "runtime", "GET")(rec, httptest.NewRequest("GET", "http://hub/api/spaces/alice/demo/runtime", nil), repo, nil)
	if rec.Code != 200 || rec.Body.String() != "answered by a" {
		t.Fatalf("runtime through B: %d %q", rec.Code, rec.Body)
	}
	mu.Lock()
	if len(got) != 2 || got[0].URL.Path != "/-/spaces/alice/demo/run/predict" || got[0].URL.RawQuery != "x=1" ||
		got[0].Header.Get(replica.ForwardedHeader) != "b" || got[0].Host != "hub" || got[1].URL.Path != "/api/spaces/alice/demo/runtime" {
		t.Errorf("A got %d requests: %+v", len(got), got)
	}
	mu.Unlock()
	// A request another replica passed on is not passed again.
	req := httptest.NewRequest("GET", "http://hub/-/spaces/alice/demo/", nil)
	req.Header.Set(replica.ForwardedHeader, "c")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "replica a") {
		t.Errorf("forwarded request at a replica that does not run the Space: %d %q", rec.Code, rec.Body)
	}
	// Pushes are A's to deploy.
	if err := b.pushed(ctx, repo.ID, "def"); !errors.Is(err, errHeldElsewhere) {
		t.Errorf("push on B: %v", err)
	}
	if b.lookupApp(repo.ID) != nil {
		t.Fatal("B deployed a push of a Space that A runs")
	}

	// A stops: B takes the Space over.
	a.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		holder, err := st.Meta.SpaceHolder(ctx, repo.ID)
		if err != nil {
			t.Fatal(err)
		}
		if holder == "b" && b.lookupApp(repo.ID) != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("holder after A stopped: %q, app on B: %v", holder, b.lookupApp(repo.ID) != nil)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSpaceLostStops: a replica whose Space another replica took (its own
// heartbeat lapsed) forgets and stops its app.
func TestSpaceLostStops(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t)
	alice := &haven.User{Name: "alice", Email: "alice@example.com"}
	if err := st.Meta.CreateUser(ctx, alice, ""); err != nil {
		t.Fatal(err)
	}
	repo := &haven.Repo{Type: haven.Space, Namespace: "alice", Name: "demo", SDK: "gradio"}
	if err := st.Meta.CreateRepo(ctx, repo); err != nil {
		t.Fatal(err)
	}
	b, err := New(Config{Meta: st.Meta, Git: st.Git, Dir: filepath.Join(t.TempDir(), "spaces"), PublicURL: "http://hub",
		Secret: []byte("test-secret-test-secret-test-secret"), Replica: testReplica(t, st.Meta, "b", "http://b.invalid")})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if peer, err := b.holder(ctx, repo); err != nil || peer != nil {
		t.Fatal(peer, err)
	}
	b.appFor(repo)
	// Another replica took it while B's heartbeat had lapsed.
	if err := st.Meta.ReleaseSpace(ctx, repo.ID, "b"); err != nil {
		t.Fatal(err)
	}
	testReplica(t, st.Meta, "c", "http://c.invalid")
	if h, err := st.Meta.HoldSpace(ctx, repo.ID, "c", time.Now().Add(-time.Second)); err != nil || h != "c" {
		t.Fatal(h, err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for b.lookupApp(repo.ID) != nil {
		if time.Now().After(deadline) {
			t.Fatal("B kept the app of a Space that C holds")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
