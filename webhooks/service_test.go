package webhooks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/discussions"
	"github.com/havenhub/haven/internal/storetest"
	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/webhooks"
)

// hub is the API with discussions and webhooks on real stores, with users
// alice (owner of the public alice/tiny and the private alice/secret) and
// bob, each with a write token.
type hub struct {
	t      *testing.T
	url    string
	st     *storetest.Stores
	hooks  *webhooks.Service
	srv    *api.Server
	tokens map[string]string
}

func newHub(t *testing.T, allowPrivate bool) *hub {
	st := storetest.Open(t)
	ts := httptest.NewServer(nil)
	t.Cleanup(ts.Close)
	hooks := webhooks.New(webhooks.Config{Meta: st.Meta, PublicURL: ts.URL, AllowPrivate: allowPrivate, Workers: 2,
		Backoff: []time.Duration{20 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond}, Timeout: 5 * time.Second})
	var srv *api.Server
	discs := discussions.New(discussions.Config{Meta: st.Meta, Git: st.Git, PublicURL: ts.URL, Events: hooks,
		Changed: func(ctx context.Context, repo *haven.Repo) { srv.RepoChanged(ctx, repo) }})
	srv, err := api.New(api.Config{Meta: st.Meta, Git: st.Git, Blobs: st.Blobs, PublicURL: ts.URL,
		Secret: []byte("0123456789abcdef0123456789abcdef"), Routes: []api.Routes{discs, hooks}, PullRequests: discs, Events: hooks})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ts.Config.Handler = srv
	hooks.Start()
	t.Cleanup(hooks.Close)
	h := &hub{t: t, url: ts.URL, st: st, hooks: hooks, srv: srv, tokens: map[string]string{}}
	for _, name := range []string{"alice", "bob"} {
		user := &haven.User{Name: name}
		if err := st.Meta.CreateUser(context.Background(), user, ""); err != nil {
			t.Fatal(err)
		}
		plain, hash := auth.NewToken()
		if err := st.Meta.CreateToken(context.Background(), &haven.Token{UserID: user.ID, DisplayName: "t", Role: haven.RoleWrite}, hash); err != nil {
			t.Fatal(err)
		}
		h.tokens[name] = plain
	}
	h.do("alice", "POST", "/api/repos/create", map[string]any{"name": "tiny"}, 200)
	h.do("alice", "POST", "/api/repos/create", map[string]any{"name": "secret", "private": true}, 200)
	return h
}

func (h *hub) doRaw(user, method, path string, body any) (int, []byte) {
	h.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, h.url+path, r)
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+h.tokens[user])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res.StatusCode, data
}

// do calls the API as user and checks the status; it returns the JSON answer.
func (h *hub) do(user, method, path string, body any, want int) any {
	h.t.Helper()
	status, data := h.doRaw(user, method, path, body)
	if status != want {
		h.t.Fatalf("%s %s as %q = %d, want %d: %s", method, path, user, status, want, data)
	}
	var out any
	json.Unmarshal(data, &out)
	return out
}

func (h *hub) commit(user, repo, path, content string) string {
	h.t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.Encode(map[string]any{"key": "header", "value": map[string]any{"summary": "update " + path}})
	enc.Encode(map[string]any{"key": "file", "value": map[string]any{"path": path, "content": content}})
	req, _ := http.NewRequest("POST", h.url+"/api/models/"+repo+"/commit/main", &b)
	req.Header.Set("Authorization", "Bearer "+h.tokens[user])
	req.Header.Set("Content-Type", "application/x-ndjson")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct{ CommitOid string }
	json.NewDecoder(res.Body).Decode(&out)
	if res.StatusCode != 200 {
		h.t.Fatalf("commit = %d", res.StatusCode)
	}
	return out.CommitOid
}

// receiver records the deliveries it gets; it answers 500 to the first
// failFirst of them.
type receiver struct {
	*httptest.Server
	mu        sync.Mutex
	failFirst int
	calls     int
	got       []delivery
}

type delivery struct {
	secret  string
	payload map[string]any
}

func newReceiver(t *testing.T, failFirst int) *receiver {
	rc := &receiver{failFirst: failFirst}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p map[string]any
		json.NewDecoder(r.Body).Decode(&p)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		rc.calls++
		if rc.calls <= rc.failFirst {
			http.Error(w, "not now", http.StatusInternalServerError)
			return
		}
		rc.got = append(rc.got, delivery{r.Header.Get("X-Webhook-Secret"), p})
		io.WriteString(w, "thanks")
	}))
	t.Cleanup(rc.Close)
	return rc
}

// wait returns the deliveries once there are n, failing after a while.
func (rc *receiver) wait(t *testing.T, n int) []delivery {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		rc.mu.Lock()
		got := append([]delivery(nil), rc.got...)
		rc.mu.Unlock()
		if len(got) >= n {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("got %d deliveries, want %d", len(rc.got), n)
	return nil
}

func field(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func TestManagement(t *testing.T) {
	h := newHub(t, false)
	const base = "/api/settings/webhooks"
	watched := []map[string]any{{"type": "user", "name": "julien-c"}, {"type": "org", "name": "HuggingFaceH4"}}
	created := h.do("alice", "POST", base, map[string]any{"url": "https://webhook.site/test", "watched": watched,
		"domains": []string{"repo", "discussions"}, "secret": "s3cret"}, 200)
	hook := field(created, "webhook").(map[string]any)
	id := hook["id"].(string)
	if len(id) != 24 || hook["disabled"] != false || hook["secret"] != "s3cret" || hook["hasSecret"] != true ||
		len(hook["domains"].([]any)) != 2 || hook["domains"].([]any)[1] != "discussion" || len(hook["watched"].([]any)) != 2 {
		t.Fatalf("created %v", hook)
	}
	list := h.do("alice", "GET", base, nil, 200).([]any)
	if len(list) != 1 || field(list[0], "id") != id {
		t.Fatalf("list %v", list)
	}
	if got := h.do("bob", "GET", base, nil, 200).([]any); len(got) != 0 {
		t.Fatalf("bob lists %v", got)
	}
	// update_webhook(url=…) sends watched: [] and no domains: both stay.
	updated := h.do("alice", "POST", base+"/"+id, map[string]any{"url": "https://webhook.site/other", "watched": []any{}}, 200)
	if field(updated, "webhook.url") != "https://webhook.site/other" || len(field(updated, "webhook.watched").([]any)) != 2 ||
		len(field(updated, "webhook.domains").([]any)) != 2 {
		t.Fatalf("updated %v", updated)
	}
	if field(h.do("alice", "POST", base+"/"+id+"/disable", nil, 200), "webhook.disabled") != true {
		t.Fatal("not disabled")
	}
	if field(h.do("alice", "POST", base+"/"+id+"/enable", nil, 200), "webhook.disabled") != false {
		t.Fatal("not enabled")
	}
	tests := []struct {
		name, user, method, path string
		body                     any
		want                     int
	}{
		{"anonymous list", "", "GET", base, nil, 401},
		{"someone else's", "bob", "GET", base + "/" + id, nil, 404},
		{"someone else's update", "bob", "POST", base + "/" + id, map[string]any{"url": "https://x.example/"}, 404},
		{"someone else's delete", "bob", "DELETE", base + "/" + id, nil, 404},
		{"loopback", "alice", "POST", base, map[string]any{"url": "http://127.0.0.1:9/", "watched": watched, "domains": []string{"repo"}}, 400},
		{"localhost", "alice", "POST", base, map[string]any{"url": "http://localhost/", "watched": watched, "domains": []string{"repo"}}, 400},
		{"metadata", "alice", "POST", base + "/" + id, map[string]any{"url": "http://169.254.169.254/"}, 400},
		{"no watched", "alice", "POST", base, map[string]any{"url": "https://x.example/", "watched": []any{}, "domains": []string{"repo"}}, 400},
		{"bad domain", "alice", "POST", base, map[string]any{"url": "https://x.example/", "watched": watched, "domains": []string{"space"}}, 400},
		{"bad type", "alice", "POST", base, map[string]any{"url": "https://x.example/", "watched": []map[string]any{{"type": "bucket", "name": "x"}}, "domains": []string{"repo"}}, 400},
		{"job", "alice", "POST", base, map[string]any{"jobSourceId": "abc", "watched": watched, "domains": []string{"repo"}}, 400},
		{"unknown", "alice", "GET", base + "/0123456789abcdef01234567", nil, 404},
	}
	for _, tt := range tests {
		if status, body := h.doRaw(tt.user, tt.method, tt.path, tt.body); status != tt.want {
			t.Errorf("%s: %s %s = %d, want %d: %s", tt.name, tt.method, tt.path, status, tt.want, body)
		}
	}
	h.do("alice", "DELETE", base+"/"+id, nil, 200)
	h.do("alice", "GET", base+"/"+id, nil, 404)
}

func TestDelivery(t *testing.T) {
	h := newHub(t, true)
	rc := newReceiver(t, 1)
	other := newReceiver(t, 0)
	const base = "/api/settings/webhooks"
	created := h.do("alice", "POST", base, map[string]any{"url": rc.URL + "/hook", "secret": "s3cret",
		"watched": []map[string]any{{"type": "model", "name": "alice/tiny"}}, "domains": []string{"repo", "discussion"}}, 200)
	id := field(created, "webhook.id").(string)
	// bob watches all of alice's repositories but may not read alice/secret.
	h.do("bob", "POST", base, map[string]any{"url": other.URL, "watched": []map[string]any{{"type": "user", "name": "alice"}},
		"domains": []string{"repo"}}, 200)

	h.commit("alice", "alice/secret", "hidden.txt", "no\n")
	sha := h.commit("alice", "alice/tiny", "a.txt", "hello\n")
	got := rc.wait(t, 1) // the first attempt failed; this is the retry
	p := got[0].payload
	if got[0].secret != "s3cret" || field(p, "event.scope") != "repo.content" || field(p, "event.action") != "update" ||
		field(p, "repo.name") != "alice/tiny" || field(p, "repo.headSha") != sha || field(p, "webhook.id") != id ||
		field(p, "webhook.version") != float64(3) || field(p, "repo.url.web") != h.url+"/alice/tiny" {
		t.Fatalf("payload %v (secret %q)", p, got[0].secret)
	}
	refs := p["updatedRefs"].([]any)
	if len(refs) != 1 || field(refs[0], "ref") != "refs/heads/main" || field(refs[0], "newSha") != sha || field(refs[0], "oldSha") == nil {
		t.Fatalf("updatedRefs %v", refs)
	}
	bobs := other.wait(t, 1)
	if field(bobs[0].payload, "repo.name") != "alice/tiny" || bobs[0].secret != "" {
		t.Fatalf("bob got %v", bobs[0].payload)
	}

	h.do("bob", "POST", "/api/models/alice/tiny/discussions", map[string]any{"title": "A question", "description": "hi"}, 200)
	c := h.do("alice", "POST", "/api/models/alice/tiny/discussions/1/comment", map[string]any{"comment": "an answer"}, 201)
	got = rc.wait(t, 3)
	// Deliveries run in parallel: find them by scope.
	byScope := map[string]map[string]any{}
	for _, d := range got[1:] {
		byScope[field(d.payload, "event.scope").(string)] = d.payload
	}
	if p := byScope["discussion"]; field(p, "event.action") != "create" || field(p, "comment.content") != "hi" {
		t.Fatalf("discussion payload %v", p)
	}
	p = byScope["discussion.comment"]
	if field(p, "event.scope") != "discussion.comment" || field(p, "event.action") != "create" || field(p, "discussion.num") != float64(1) ||
		field(p, "discussion.title") != "A question" || field(p, "comment.content") != "an answer" ||
		field(p, "comment.id") != field(c, "newMessage.id") || field(p, "discussion.url.web") != h.url+"/alice/tiny/discussions/1" {
		t.Fatalf("comment payload %v", p)
	}

	// The log: two attempts of the first delivery, then the others. A
	// delivery is logged after its receiver answered: wait for the last.
	var log []any
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		log = h.do("alice", "GET", base+"/"+id+"/deliveries", nil, 200).([]any)
		if len(log) >= 4 || time.Now().After(deadline) {
			break
		}
	}
	if len(log) != 4 {
		t.Fatalf("log %v", log)
	}
	// Deliveries run in parallel: find the two attempts of the first by
	// their numbers, not by their place in the log.
	var first, retry any
	for _, e := range log {
		switch field(e, "attempt") {
		case float64(1):
			if field(e, "status") == float64(500) {
				first = e
			}
		case float64(2):
			retry = e
		}
	}
	if first == nil || retry == nil {
		t.Fatalf("log %v: no failed first attempt and retry", log)
	}
	if field(first, "status") != float64(500) || field(first, "attempt") != float64(1) || field(first, "ok") != false ||
		!strings.Contains(field(first, "response").(string), "not now") {
		t.Fatalf("first attempt %v", first)
	}
	if field(retry, "status") != float64(200) || field(retry, "attempt") != float64(2) || field(retry, "response") != "thanks" {
		t.Fatalf("retry %v", retry)
	}
	replay := h.do("alice", "POST", base+"/"+id+"/replay/"+field(first, "id").(string), nil, 200)
	if field(replay, "status") != float64(200) {
		t.Fatalf("replay %v", replay)
	}
	got = rc.wait(t, 4)
	if field(got[3].payload, "repo.headSha") != sha || field(got[3].payload, "event.scope") != "repo.content" {
		t.Fatalf("replayed %v", got[3].payload)
	}
	h.do("bob", "POST", base+"/"+id+"/replay/"+field(first, "id").(string), nil, 404)

	// bob heard of nothing in alice/secret.
	time.Sleep(200 * time.Millisecond)
	other.mu.Lock()
	defer other.mu.Unlock()
	for _, d := range other.got {
		if field(d.payload, "repo.name") != "alice/tiny" {
			t.Fatalf("bob got an event of %v", field(d.payload, "repo.name"))
		}
	}
}

// TestDeliveryRefusesPrivate checks the delivery-time check: a webhook that
// points at a loopback address (stored before the rule, or through a name
// that now resolves there) is not delivered without AllowPrivate.
func TestDeliveryRefusesPrivate(t *testing.T) {
	h := newHub(t, false)
	rc := newReceiver(t, 0)
	alice, err := h.st.Meta.UserByName(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	w := &haven.Webhook{OwnerID: alice.ID, URL: rc.URL, Domains: []string{"repo"}, Watched: []haven.WatchedItem{{Type: "user", Name: "alice"}}}
	if err := h.st.Meta.CreateWebhook(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	h.commit("alice", "alice/tiny", "a.txt", "x\n")
	deadline := time.Now().Add(10 * time.Second)
	for {
		ds, err := h.st.Meta.WebhookDeliveries(context.Background(), w.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) > 0 {
			if ds[0].OK() || !strings.Contains(ds[0].Error, "loopback") {
				t.Fatalf("delivery %+v", ds[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no delivery recorded")
		}
		time.Sleep(20 * time.Millisecond)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.calls != 0 {
		t.Fatalf("the receiver was called %d times", rc.calls)
	}
}

// TestAccessCheckedAgain checks that the rights of a webhook's owner over a
// private repository are checked on every attempt: a member who left the
// organisation cannot replay what was delivered while a member.
func TestAccessCheckedAgain(t *testing.T) {
	h := newHub(t, true)
	ctx := context.Background()
	org := &haven.User{Name: "acme", IsOrg: true}
	if err := h.st.Meta.CreateUser(ctx, org, ""); err != nil {
		t.Fatal(err)
	}
	alice, _ := h.st.Meta.UserByName(ctx, "alice")
	bob, _ := h.st.Meta.UserByName(ctx, "bob")
	if err := h.st.Meta.AddMember(ctx, org.ID, alice.ID, meta.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if err := h.st.Meta.AddMember(ctx, org.ID, bob.ID, meta.RoleRead); err != nil {
		t.Fatal(err)
	}
	h.srv.ForgetTokens()
	h.do("alice", "POST", "/api/repos/create", map[string]any{"name": "plans", "organization": "acme", "private": true}, 200)
	rc := newReceiver(t, 0)
	created := h.do("bob", "POST", "/api/settings/webhooks", map[string]any{"url": rc.URL, "domains": []string{"repo"},
		"watched": []map[string]any{{"type": "org", "name": "acme"}}}, 200)
	id := field(created, "webhook.id").(string)
	first := h.commit("alice", "acme/plans", "a.txt", "a\n")
	if got := rc.wait(t, 1); field(got[0].payload, "repo.name") != "acme/plans" || field(got[0].payload, "repo.private") != true ||
		field(got[0].payload, "repo.headSha") != first {
		t.Fatalf("bob got %v", got[0].payload)
	}
	log := h.do("bob", "GET", "/api/settings/webhooks/"+id+"/deliveries", nil, 200).([]any)
	if err := h.st.Meta.RemoveMember(ctx, org.ID, bob.ID); err != nil {
		t.Fatal(err)
	}
	h.srv.ForgetTokens()
	h.do("bob", "POST", "/api/settings/webhooks/"+id+"/replay/"+field(log[0], "id").(string), nil, 403)
	second := h.commit("alice", "acme/plans", "b.txt", "b\n")
	time.Sleep(300 * time.Millisecond)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	// The first event may be delivered again (at least once, and a loaded
	// machine can time a delivery out); the second must never reach bob.
	for _, d := range rc.got {
		if field(d.payload, "repo.headSha") == second {
			t.Fatalf("bob's webhook got the commit made after he left (%d calls)", rc.calls)
		}
	}
}

// TestEventBeforeWebhook checks that an event still queued when a webhook is
// made does not reach it: the webhook did not watch the repository when the
// event happened.
func TestEventBeforeWebhook(t *testing.T) {
	st := storetest.Open(t)
	ctx := context.Background()
	hooks := webhooks.New(webhooks.Config{Meta: st.Meta, PublicURL: "http://hub.test", AllowPrivate: true, Workers: 1,
		Timeout: 5 * time.Second})
	t.Cleanup(hooks.Close)
	owner := &haven.User{Name: "carol"}
	if err := st.Meta.CreateUser(ctx, owner, ""); err != nil {
		t.Fatal(err)
	}
	repo := &haven.Repo{ID: 1, Type: haven.Model, Namespace: "carol", Name: "m", SHA: "1111111111111111111111111111111111111111"}
	hooks.RepoEvent(ctx, &haven.RepoEvent{Scope: haven.ScopeRepo, Action: haven.ActionCreate, Repo: repo})
	rc := newReceiver(t, 0)
	w := &haven.Webhook{OwnerID: owner.ID, URL: rc.URL, Domains: []string{haven.DomainRepo},
		Watched: []haven.WatchedItem{{Type: "model", Name: "carol/m"}}}
	if err := st.Meta.CreateWebhook(ctx, w); err != nil {
		t.Fatal(err)
	}
	later := *repo
	later.SHA = "2222222222222222222222222222222222222222"
	hooks.RepoEvent(ctx, &haven.RepoEvent{Scope: haven.ScopeRepoContent, Action: haven.ActionUpdate, Repo: &later})
	hooks.Start()
	got := rc.wait(t, 1)
	time.Sleep(300 * time.Millisecond)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.got) != 1 || field(got[0].payload, "repo.headSha") != later.SHA {
		t.Fatalf("want only the event after the webhook was made, got %d: %v", len(rc.got), got[0].payload)
	}
}
