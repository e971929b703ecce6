package webhooks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/internal/storetest"
	"github.com/havenhub/haven/webhooks"
)

// TestFanOutThroughput is the fan-out benchmark of bench/webhooks.sh (run
// with HAVEN_BENCH_WEBHOOKS=1): 1,000 events to 10 webhooks, each of the
// 10,000 deliveries seen by a receiver, with the service stopped and started
// again on the same database part way through; none may be lost. The
// baseline is the same 10,000 payloads posted straight to the receiver.
func TestFanOutThroughput(t *testing.T) {
	if os.Getenv("HAVEN_BENCH_WEBHOOKS") != "1" {
		t.Skip("set HAVEN_BENCH_WEBHOOKS=1 (bench/webhooks.sh)")
	}
	const events, hooks = 1000, 10
	var mu sync.Mutex
	seen := map[string]int{}
	done := make(chan struct{})
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p struct {
			Repo struct {
				HeadSHA string `json:"headSha"`
			} `json:"repo"`
			Webhook struct{ ID string } `json:"webhook"`
		}
		json.NewDecoder(r.Body).Decode(&p)
		mu.Lock()
		seen[p.Webhook.ID+"/"+p.Repo.HeadSHA]++
		if len(seen) == events*hooks {
			select {
			case <-done:
			default:
				close(done)
			}
		}
		mu.Unlock()
	}))
	defer receiver.Close()

	// Baseline: the payloads posted straight, by as many senders as workers.
	payload := []byte(strings.Repeat("x", 700))
	start := time.Now()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := i; j < events*hooks; j += 4 {
				res, err := http.Post(receiver.URL+"/base", "application/json", strings.NewReader(string(payload)))
				if err == nil {
					res.Body.Close()
				}
			}
		}()
	}
	wg.Wait()
	baseline := time.Since(start)
	mu.Lock()
	seen = map[string]int{}
	mu.Unlock()

	st := storetest.Open(t)
	ctx := context.Background()
	owner := &haven.User{Name: "alice"}
	if err := st.Meta.CreateUser(ctx, owner, ""); err != nil {
		t.Fatal(err)
	}
	for range hooks {
		w := &haven.Webhook{OwnerID: owner.ID, URL: receiver.URL, Domains: []string{"repo"},
			Watched: []haven.WatchedItem{{Type: "user", Name: "alice"}}}
		if err := st.Meta.CreateWebhook(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	newService := func() *webhooks.Service {
		s := webhooks.New(webhooks.Config{Meta: st.Meta, PublicURL: "http://hub.example", AllowPrivate: true})
		s.Start()
		return s
	}
	repo := &haven.Repo{ID: 1, Type: haven.Model, Namespace: "alice", Name: "tiny"}
	start = time.Now()
	s := newService()
	for i := range events {
		r := *repo
		r.SHA = fmt.Sprintf("%040d", i)
		s.RepoEvent(ctx, &haven.RepoEvent{Scope: haven.ScopeRepoContent, Action: haven.ActionUpdate, Repo: &r,
			UpdatedRefs: []haven.RefUpdate{{Ref: "refs/heads/main", NewSHA: r.SHA}}})
		if i == events/3 {
			// A restart while events arrive and deliveries are in flight.
			s.Close()
			s = newService()
		}
	}
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
	}
	elapsed := time.Since(start)
	s.Close()
	mu.Lock()
	defer mu.Unlock()
	dups := 0
	for _, n := range seen {
		dups += n - 1
	}
	fmt.Printf("| webhook fan-out | events | webhooks | deliveries seen | duplicates | seconds | deliveries/s | cores | target |\n")
	fmt.Printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	fmt.Printf("| direct POSTs to the receiver (baseline) | | | %d | | %.2f | %.0f | %d | |\n",
		events*hooks, baseline.Seconds(), float64(events*hooks)/baseline.Seconds(), runtime.GOMAXPROCS(0))
	fmt.Printf("| Haven, one restart | %d | %d | %d | %d | %.2f | %.0f | %d | all within 30 s: %s |\n",
		events, hooks, len(seen), dups, elapsed.Seconds(), float64(len(seen))/elapsed.Seconds(), runtime.GOMAXPROCS(0),
		map[bool]string{true: "ok", false: "FAIL"}[len(seen) == events*hooks && elapsed < 30*time.Second])
	if len(seen) != events*hooks {
		t.Fatalf("%d of %d deliveries seen", len(seen), events*hooks)
	}
}
