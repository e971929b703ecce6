package meta_test

import (
	"sync"
	"testing"
	"time"

	"github.com/havenhub/haven/meta"
)

func TestSignInFailures(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) { testSignInFailures(t, openSQLite(t), nil) })
	t.Run("Postgres", func(t *testing.T) {
		a, b := sharedPostgres(t)
		testSignInFailures(t, a, b)
	})
}

// testSignInFailures counts failures on s; other, when set, is a second
// store on the same database whose failures must count as well.
func testSignInFailures(t *testing.T, s, other *meta.Store) {
	const window = 15 * time.Minute
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	want := func(at time.Time, n int, reset time.Time) {
		t.Helper()
		got, r, err := s.SignInFailures(ctx, "account:alice", at)
		if err != nil || got != n || !r.Equal(reset) {
			t.Fatalf("at %s: %d failures until %s (%v), want %d until %s", at.Format(time.TimeOnly), got, r, err, n, reset)
		}
	}
	want(t0, 0, time.Time{})
	for i := range 3 {
		mustNil(t, s.FailSignIn(ctx, "account:alice", t0.Add(time.Duration(i)*time.Minute), window))
	}
	want(t0.Add(5*time.Minute), 3, t0.Add(window))
	if n, _, _ := s.SignInFailures(ctx, "address:10.0.0.1", t0); n != 0 {
		t.Fatalf("another key has %d failures", n)
	}
	// The window ends: nothing counts, and the next failure opens a new one.
	want(t0.Add(window), 0, time.Time{})
	later := t0.Add(window + time.Minute)
	mustNil(t, s.FailSignIn(ctx, "account:alice", later, window))
	want(later, 1, later.Add(window))
	mustNil(t, s.ClearSignIn(ctx, "account:alice"))
	want(later, 0, time.Time{})

	// Failures at once, from one server or two, are all counted.
	stores := []*meta.Store{s, s}
	if other != nil {
		stores[1] = other
	}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- stores[i%2].FailSignIn(ctx, "account:alice", later, window)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		mustNil(t, err)
	}
	want(later, 20, later.Add(window))

	mustNil(t, s.DeleteEndedSignInFailures(ctx, later.Add(window)))
	want(later, 0, time.Time{})
}
