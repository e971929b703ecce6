package meta_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/havenhub/haven/meta"
)

// sharedPostgres opens two stores on one fresh schema of the database named
// by HAVEN_TEST_POSTGRES_DSN, as two server replicas would.
func sharedPostgres(t *testing.T) (*meta.Store, *meta.Store) {
	t.Helper()
	dsn := os.Getenv("HAVEN_TEST_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("HAVEN_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("HAVEN_TEST_POSTGRES_DSN is not set (start a server with scripts/start-postgres.sh)")
		}
		t.Skip("HAVEN_TEST_POSTGRES_DSN is not set")
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	schema := fmt.Sprintf("haven_replicas_%d_%d_%d", os.Getpid(), time.Now().UnixNano(), schemaSeq.Add(1))
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Error(err)
			return
		}
		defer a.Close()
		if _, err := a.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return mustOpen(t, u.String()), mustOpen(t, u.String())
}

// TestPostgresQueueTwoStores has workers of two stores, as of two replicas,
// compete for the same jobs: each job is leased exactly once, and a lease
// one store holds keeps the job from the other until it runs out.
func TestPostgresQueueTwoStores(t *testing.T) {
	a, b := sharedPostgres(t)
	const jobs, workers = 60, 4
	for i := range jobs {
		if _, err := a.Enqueue(ctx, "work", []byte{byte(i)}, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	var (
		mu    sync.Mutex
		count = map[int64][]string{}
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make(chan error, 2*workers)
	)
	for si, s := range []*meta.Store{a, b} {
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				name := fmt.Sprintf("store%d-w%d", si, w)
				for {
					j, err := s.Lease(ctx, []string{"work"}, name, time.Minute)
					if err != nil {
						errs <- err
						return
					}
					if j == nil {
						return
					}
					mu.Lock()
					count[j.ID] = append(count[j.ID], name)
					mu.Unlock()
					if err := s.Complete(ctx, j.ID); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(count) != jobs {
		t.Errorf("%d distinct jobs leased, want %d", len(count), jobs)
	}
	stores := map[byte]bool{}
	for id, who := range count {
		if len(who) != 1 {
			t.Errorf("job %d leased %d times: %v", id, len(who), who)
		}
		stores[who[0][5]] = true
	}
	if len(stores) != 2 {
		t.Logf("only one store leased jobs (%v); the other found none due", stores)
	}

	// A leased job stays with its holder until the lease runs out.
	id, err := a.Enqueue(ctx, "slow", nil, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	j, err := a.Lease(ctx, []string{"slow"}, "a", 300*time.Millisecond)
	if err != nil || j == nil || j.ID != id {
		t.Fatalf("lease on a: %+v, %v", j, err)
	}
	if j, err := b.Lease(ctx, []string{"slow"}, "b", time.Minute); err != nil || j != nil {
		t.Fatalf("b leased a job a holds: %+v, %v", j, err)
	}
	time.Sleep(400 * time.Millisecond)
	j, err = b.Lease(ctx, []string{"slow"}, "b", time.Minute)
	if err != nil || j == nil || j.ID != id || j.Attempts != 2 {
		t.Fatalf("b after a's lease ran out: %+v, %v", j, err)
	}
}

// TestPostgresPublishListen sends messages from one store to listeners on
// another and on itself.
func TestPostgresPublishListen(t *testing.T) {
	a, b := sharedPostgres(t)
	if !a.Shared() {
		t.Fatal("a PostgreSQL store is not Shared")
	}
	channel := fmt.Sprintf("haven_test_%d_%d", os.Getpid(), time.Now().UnixNano())
	type listener struct {
		ready chan struct{}
		got   chan string
	}
	listen := func(s *meta.Store) listener {
		l := listener{ready: make(chan struct{}, 4), got: make(chan string, 16)}
		lctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.Listen(lctx, channel, func() { l.ready <- struct{}{} }, func(m string) { l.got <- m })
		}()
		t.Cleanup(func() { cancel(); <-done })
		select {
		case <-l.ready:
		case <-time.After(10 * time.Second):
			t.Fatal("Listen did not start listening")
		}
		return l
	}
	onA, onB := listen(a), listen(b)
	for _, m := range []string{"repo 1", "tokens"} {
		if err := a.Publish(ctx, channel, m); err != nil {
			t.Fatal(err)
		}
	}
	for name, l := range map[string]listener{"a": onA, "b": onB} {
		for _, want := range []string{"repo 1", "tokens"} {
			select {
			case got := <-l.got:
				if got != want {
					t.Errorf("%s got %q, want %q", name, got, want)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s did not get %q", name, want)
			}
		}
	}
	if err := a.Publish(ctx, channel, string(make([]byte, 9000))); err == nil {
		t.Error("a 9000-byte message was sent")
	}
}

// TestSQLiteNotShared checks that a SQLite store neither sends nor listens.
func TestSQLiteNotShared(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "haven.db"))
	if s.Shared() {
		t.Fatal("a SQLite store is Shared")
	}
	if err := s.Publish(ctx, "c", "m"); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		s.Listen(ctx, "c", func() { t.Error("listening on SQLite") }, func(string) {})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Listen on SQLite did not return")
	}
}
