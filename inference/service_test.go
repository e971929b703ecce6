package inference

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/runner"
)

// fakeHandle is a running engine that does nothing.
type fakeHandle struct {
	addr    string
	done    chan struct{}
	once    sync.Once
	mu      sync.Mutex
	exit    runner.Exit
	stopped bool
}

func newFakeHandle(addr string) *fakeHandle {
	return &fakeHandle{addr: addr, done: make(chan struct{})}
}

func (h *fakeHandle) Addr() string          { return h.addr }
func (h *fakeHandle) Done() <-chan struct{} { return h.done }
func (h *fakeHandle) Exit() runner.Exit {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.exit
}
func (h *fakeHandle) Metrics(context.Context) (runner.Metrics, error) { return runner.Metrics{}, nil }
func (h *fakeHandle) Stop(context.Context, time.Duration) error {
	h.end(runner.Exit{Stopped: true, Reason: "Stopped"}, true)
	return nil
}
func (h *fakeHandle) Exec(context.Context, []string, io.Reader, io.Writer, io.Writer) (int, error) {
	return 0, errors.New("no exec")
}

// crash ends the engine as if it died.
func (h *fakeHandle) crash(reason string) { h.end(runner.Exit{Code: 1, Reason: reason}, false) }

func (h *fakeHandle) end(e runner.Exit, stopped bool) {
	h.once.Do(func() {
		h.mu.Lock()
		h.exit, h.stopped = e, stopped
		h.mu.Unlock()
		close(h.done)
	})
}

func (h *fakeHandle) wasStopped() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stopped
}

// fakeLauncher launches fake engines, each once gate lets it (nil: at
// once), or fails with fail.
type fakeLauncher struct {
	addr string
	gate chan struct{}

	mu       sync.Mutex
	specs    []Spec
	handles  []*fakeHandle
	fail     error
	launched chan struct{} // gets a value when a launch starts
}

func (l *fakeLauncher) Launch(ctx context.Context, spec Spec, log io.Writer) (*Replica, error) {
	l.mu.Lock()
	l.specs = append(l.specs, spec)
	fail, gate := l.fail, l.gate
	l.mu.Unlock()
	if l.launched != nil {
		l.launched <- struct{}{}
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if fail != nil {
		return nil, fail
	}
	h := newFakeHandle(l.addr)
	l.mu.Lock()
	l.handles = append(l.handles, h)
	l.mu.Unlock()
	return &Replica{Spec: spec, h: h}, nil
}

func (l *fakeLauncher) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.specs)
}

func (l *fakeLauncher) handle(i int) *fakeHandle {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.handles[i]
}

func testService(t *testing.T, l *fakeLauncher, cfg Config) (*Service, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	cfg.Launcher = l
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	s := New(cfg)
	t.Cleanup(func() { s.Close() })
	return s, logs
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var testRepo = &haven.Repo{ID: 7, Type: haven.Model, Namespace: "alice", Name: "mini", PipelineTag: "feature-extraction"}

const sha1, sha2 = "1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222"

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestOneLaunchForConcurrentRequests(t *testing.T) {
	l := &fakeLauncher{gate: make(chan struct{})}
	s, _ := testService(t, l, Config{})
	const n = 20
	var wg sync.WaitGroup
	reps := make([]*Replica, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep, release, err := s.acquire(context.Background(), testRepo, sha1, "feature-extraction", time.Minute, true)
			reps[i], errs[i] = rep, err
			if err == nil {
				release()
			}
		}()
	}
	// Every request is held while the model loads.
	eventually(t, "all requests are held", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		sl := s.slots[testRepo.ID]
		return sl != nil && sl.inflight == n
	})
	if s.Warm(testRepo.ID) {
		t.Error("warm while loading")
	}
	close(l.gate)
	wg.Wait()
	if got := l.count(); got != 1 {
		t.Fatalf("%d launches for %d concurrent requests, want 1", got, n)
	}
	for i := range n {
		if errs[i] != nil || reps[i] != reps[0] {
			t.Fatalf("request %d: %v, replica %p (first %p)", i, errs[i], reps[i], reps[0])
		}
	}
	if spec := l.specs[0]; spec.SHA != sha1 || spec.Task != "feature-extraction" || spec.Name != "alice/mini" || spec.Flavor.Name != "cpu-basic" {
		t.Errorf("spec = %+v", spec)
	}
	if !s.Warm(testRepo.ID) {
		t.Error("not warm once loaded")
	}
}

func TestHoldBoundThenServe(t *testing.T) {
	l := &fakeLauncher{gate: make(chan struct{})}
	s, _ := testService(t, l, Config{})
	_, _, err := s.acquire(context.Background(), testRepo, sha1, "", 50*time.Millisecond, true)
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusServiceUnavailable || e.Estimated <= 0 || e.RetryAfter <= 0 ||
		e.Message != "Model alice/mini is currently loading" {
		t.Fatalf("past the hold: %#v", err)
	}
	// X-Load-Model: 0 does not wait.
	if _, _, err := s.acquire(context.Background(), testRepo, sha1, "", time.Minute, false); !errors.As(err, &e) || e.Status != 503 {
		t.Fatalf("without loading: %v", err)
	}
	// The load goes on; a request held meanwhile is served when it ends.
	got := make(chan error, 1)
	go func() {
		_, release, err := s.acquire(context.Background(), testRepo, sha1, "", time.Minute, true)
		if err == nil {
			release()
		}
		got <- err
	}()
	time.Sleep(30 * time.Millisecond)
	close(l.gate)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if n := l.count(); n != 1 {
		t.Errorf("%d launches, want 1", n)
	}
	// The estimate now comes from the last load.
	s.mu.Lock()
	lt := s.slots[testRepo.ID].loadTime
	s.mu.Unlock()
	if lt <= 0 {
		t.Error("load time not recorded")
	}
}

func TestIdleUnload(t *testing.T) {
	l := &fakeLauncher{}
	s, logs := testService(t, l, Config{Idle: 40 * time.Millisecond})
	_, release, err := s.acquire(context.Background(), testRepo, sha1, "", time.Minute, true)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if l.handle(0).wasStopped() {
		t.Fatal("unloaded while a request was in flight")
	}
	release()
	eventually(t, "the idle replica is stopped", l.handle(0).wasStopped)
	if s.Warm(testRepo.ID) {
		t.Error("still warm after unloading")
	}
	if !strings.Contains(logs.String(), "model unloaded") {
		t.Errorf("log: %s", logs.String())
	}
	_, release, err = s.acquire(context.Background(), testRepo, sha1, "", time.Minute, true)
	if err != nil {
		t.Fatal(err)
	}
	release()
	if n := l.count(); n != 2 {
		t.Errorf("%d launches, want 2 (loaded again after unloading)", n)
	}
}

func TestCrashRelaunch(t *testing.T) {
	l := &fakeLauncher{}
	s, logs := testService(t, l, Config{})
	_, release, err := s.acquire(context.Background(), testRepo, sha1, "", time.Minute, true)
	if err != nil {
		t.Fatal(err)
	}
	release()
	l.handle(0).crash("Memory limit exceeded (16384Mi)")
	eventually(t, "the crash is seen", func() bool { return !s.Warm(testRepo.ID) })
	eventually(t, "the crash is logged", func() bool {
		return strings.Contains(logs.String(), "Memory limit exceeded (16384Mi)")
	})
	rep, release, err := s.acquire(context.Background(), testRepo, sha1, "", time.Minute, true)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if n := l.count(); n != 2 || rep.h != l.handle(1) {
		t.Errorf("%d launches after a crash, want 2 and the new replica", n)
	}
}

func TestNewCommitNewReplica(t *testing.T) {
	l := &fakeLauncher{}
	s, _ := testService(t, l, Config{})
	old, releaseOld, err := s.acquire(context.Background(), testRepo, sha1, "", time.Minute, true)
	if err != nil {
		t.Fatal(err)
	}
	rep, release, err := s.acquire(context.Background(), testRepo, sha2, "", time.Minute, true)
	if err != nil {
		t.Fatal(err)
	}
	release()
	if rep == old || rep.Spec.SHA != sha2 || l.count() != 2 {
		t.Fatalf("new commit served by %s (%d launches)", rep.Spec.SHA, l.count())
	}
	time.Sleep(30 * time.Millisecond)
	if l.handle(0).wasStopped() {
		t.Fatal("the old replica stopped before its request finished")
	}
	releaseOld()
	eventually(t, "the old replica is drained and stopped", l.handle(0).wasStopped)
	if l.handle(1).wasStopped() {
		t.Error("the new replica stopped")
	}
	again, release, err := s.acquire(context.Background(), testRepo, sha2, "", time.Minute, true)
	if err != nil {
		t.Fatal(err)
	}
	release()
	if again != rep || l.count() != 2 {
		t.Error("the new commit's replica is not reused")
	}
}

func TestConcurrencyCap(t *testing.T) {
	l := &fakeLauncher{}
	s, _ := testService(t, l, Config{MaxInFlight: 2, MaxQueued: -1})
	var releases []func()
	for range 2 {
		_, release, err := s.acquire(context.Background(), testRepo, sha1, "", time.Minute, true)
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, release)
	}
	_, _, err := s.acquire(context.Background(), testRepo, sha1, "", time.Minute, true)
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusTooManyRequests || e.Type != "overloaded" || e.RetryAfter <= 0 {
		t.Fatalf("past the cap: %#v", err)
	}
	releases[0]()
	_, release, err := s.acquire(context.Background(), testRepo, sha1, "", time.Minute, true)
	if err != nil {
		t.Fatalf("below the cap again: %v", err)
	}
	release()
	releases[1]()
}

// TestQueueBehindTheCap: past the cap requests wait in line and are served
// as places free up; a full line, or a wait that runs out, is 429.
func TestQueueBehindTheCap(t *testing.T) {
	l := &fakeLauncher{}
	s, _ := testService(t, l, Config{MaxInFlight: 1, MaxQueued: 1, QueueWait: 300 * time.Millisecond})
	_, first, err := s.acquire(context.Background(), testRepo, sha1, "", time.Minute, true)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		_, release, err := s.acquire(context.Background(), testRepo, sha1, "", time.Minute, true)
		if err == nil {
			release()
		}
		got <- err
	}()
	eventually(t, "the second in line", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.slots[testRepo.ID].line) == 1
	})
	var e *Error
	if _, _, err := s.acquire(context.Background(), testRepo, sha1, "", time.Minute, true); !errors.As(err, &e) || e.Status != http.StatusTooManyRequests {
		t.Fatalf("a full line: %v", err)
	}
	first()
	if err := <-got; err != nil {
		t.Fatalf("the one in line: %v", err)
	}
	_, held, err := s.acquire(context.Background(), testRepo, sha1, "", time.Minute, true)
	if err != nil {
		t.Fatal(err)
	}
	defer held()
	start := time.Now()
	if _, _, err := s.acquire(context.Background(), testRepo, sha1, "", time.Minute, true); !errors.As(err, &e) || e.Status != http.StatusTooManyRequests {
		t.Fatalf("a wait that runs out: %v", err)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("answered 429 after %s, before its wait ran out", d)
	}
}

// TestQueueOrder: requests in line get places in the order they came, one
// per place freed.
func TestQueueOrder(t *testing.T) {
	l := &fakeLauncher{}
	s, _ := testService(t, l, Config{MaxInFlight: 1, MaxQueued: 8, QueueWait: time.Minute})
	_, first, err := s.acquire(context.Background(), testRepo, sha1, "", time.Minute, true)
	if err != nil {
		t.Fatal(err)
	}
	order := make(chan int, 4)
	releases := make(chan func(), 4)
	for i := range 4 {
		go func() {
			_, release, err := s.acquire(context.Background(), testRepo, sha1, "", time.Minute, true)
			if err != nil {
				t.Error(err)
				return
			}
			order <- i
			releases <- release
		}()
		// The next comes once this one is in line.
		eventually(t, "in line", func() bool {
			s.mu.Lock()
			defer s.mu.Unlock()
			return len(s.slots[testRepo.ID].line) == i+1
		})
	}
	// A request that gives up leaves the line without a place.
	ctx, cancel := context.WithCancel(context.Background())
	gone := make(chan error, 1)
	go func() { _, _, err := s.acquire(ctx, testRepo, sha1, "", time.Minute, true); gone <- err }()
	eventually(t, "in line", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.slots[testRepo.ID].line) == 5
	})
	cancel()
	if err := <-gone; !errors.Is(err, context.Canceled) {
		t.Fatalf("a caller that left: %v", err)
	}
	first()
	for want := range 4 {
		if got := <-order; got != want {
			t.Fatalf("served %d, want %d", got, want)
		}
		(<-releases)()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sl := s.slots[testRepo.ID]; sl.inflight != 0 || len(sl.line) != 0 {
		t.Errorf("%d in flight, %d in line after all left", sl.inflight, len(sl.line))
	}
}

func TestLaunchFailure(t *testing.T) {
	l := &fakeLauncher{fail: &runner.Error{Message: "The engine stopped while loading the model: Exit code: 1"}}
	s, _ := testService(t, l, Config{RetryFailed: 80 * time.Millisecond})
	_, _, err := s.acquire(context.Background(), testRepo, sha1, "", time.Minute, true)
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusInternalServerError || !strings.Contains(e.Message, "Exit code: 1") {
		t.Fatalf("failed load: %#v", err)
	}
	// Answered again without a new launch for a while, then tried again.
	if _, _, err := s.acquire(context.Background(), testRepo, sha1, "", time.Minute, true); err == nil || l.count() != 1 {
		t.Fatalf("second request: %v, %d launches", err, l.count())
	}
	l.mu.Lock()
	l.fail = nil
	l.mu.Unlock()
	time.Sleep(100 * time.Millisecond)
	_, release, err := s.acquire(context.Background(), testRepo, sha1, "", time.Minute, true)
	if err != nil {
		t.Fatal(err)
	}
	release()
	if l.count() != 2 {
		t.Errorf("%d launches, want 2", l.count())
	}
}
