package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/havenhub/haven"
)

func TestWebhookPages(t *testing.T) {
	s := newSite(t)
	var got []string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, r.Header.Get("X-Webhook-Secret")+" "+string(b))
		io.WriteString(w, "received <b>fine</b>")
	}))
	defer receiver.Close()
	body, _ := json.Marshal(map[string]any{"url": receiver.URL + "/hook", "secret": "s3cret", "domains": []string{"repo"},
		"watched": []map[string]string{{"type": "user", "name": "alice"}}})
	p := s.apiDo("POST", "/api/settings/webhooks", s.tokens["alice"], "application/json", body)
	if p.status != 200 {
		t.Fatalf("create: %d %s", p.status, p.body)
	}
	var created struct{ Webhook struct{ ID string } }
	json.Unmarshal([]byte(p.body), &created)
	id := created.Webhook.ID
	log := &haven.WebhookDelivery{WebhookID: id, Event: "repo.content.update", Payload: []byte(`{"event":{"scope":"repo.content"}}`),
		Status: 502, Duration: 42 * time.Millisecond, Response: "<script>bad gateway</script>", Error: "the receiver answered 502 Bad Gateway", Attempt: 1}
	if err := s.meta.AddWebhookDelivery(context.Background(), log); err != nil {
		t.Fatal(err)
	}

	alice := s.browser()
	alice.signIn("alice")
	bob := s.browser()
	bob.signIn("bob")
	anon := s.browser()
	tests := []struct {
		name   string
		b      *browser
		path   string
		status int
		has    []string
		hasNot []string
	}{
		{"list, owner", alice, "/settings/webhooks", 200,
			[]string{receiver.URL + "/hook", "user alice", "data-webhook-form", `/api/settings/webhooks/` + id + `/disable`, "webhooks.js"}, nil},
		{"list, other", bob, "/settings/webhooks", 200, []string{"No webhooks yet."}, []string{receiver.URL}},
		{"list, anonymous", anon, "/settings/webhooks", 303, nil, nil},
		{"log, owner", alice, "/settings/webhooks/" + id, 200,
			[]string{"repo.content.update", "502", "42 ms", "&lt;script&gt;bad gateway", "data-replay=\"/api/settings/webhooks/" + id + "/replay/" + log.ID},
			[]string{"<script>bad gateway"}},
		{"log, other", bob, "/settings/webhooks/" + id, 404, nil, []string{receiver.URL}},
		{"log, unknown", alice, "/settings/webhooks/0123456789abcdef01234567", 404, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.b.get(tt.path)
			if p.status != tt.status {
				t.Fatalf("GET %s = %d, want %d", tt.path, p.status, tt.status)
			}
			for _, s := range tt.has {
				if !strings.Contains(p.body, s) {
					t.Errorf("page lacks %q", s)
				}
			}
			for _, s := range tt.hasNot {
				if strings.Contains(p.body, s) {
					t.Errorf("page has %q", s)
				}
			}
		})
	}

	// The Replay button's call, with the session: the payload goes again.
	p = alice.do("POST", "/api/settings/webhooks/"+id+"/replay/"+log.ID, "", nil, "X-Haven-Origin", s.url)
	if p.status != 200 || strings.TrimSpace(p.body) != `{"status":200}` {
		t.Fatalf("replay: %d %s", p.status, p.body)
	}
	if len(got) != 1 || got[0] != `s3cret {"event":{"scope":"repo.content"}}` {
		t.Fatalf("receiver got %q", got)
	}
	if p := bob.do("POST", "/api/settings/webhooks/"+id+"/replay/"+log.ID, "", nil, "X-Haven-Origin", s.url); p.status != 404 {
		t.Fatalf("bob's replay: %d", p.status)
	}
	page := alice.get("/settings/webhooks/" + id)
	if !strings.Contains(page.body, "received &lt;b&gt;fine&lt;/b&gt;") {
		t.Fatal("the replayed delivery is not in the log")
	}
	// Disable, then the list says so.
	if p := alice.do("POST", "/api/settings/webhooks/"+id+"/disable", "", nil, "X-Haven-Origin", s.url); p.status != 200 {
		t.Fatalf("disable: %d %s", p.status, p.body)
	}
	if page := alice.get("/settings/webhooks"); !strings.Contains(page.body, ">disabled<") || !strings.Contains(page.body, "/enable") {
		t.Fatal("the list does not show the webhook disabled")
	}
}
