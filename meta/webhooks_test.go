package meta_test

import (
	"testing"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
)

func TestWebhooksSQLite(t *testing.T)   { testWebhooks(t, openSQLite) }
func TestWebhooksPostgres(t *testing.T) { testWebhooks(t, postgresOpener(t)) }

func testWebhooks(t *testing.T, open func(*testing.T) *meta.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, *meta.Store)
	}{
		{"CRUD", testWebhookCRUD},
		{"Watching", testWebhookWatching},
		{"Deliveries", testWebhookDeliveries},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

func mustWebhook(t *testing.T, s *meta.Store, owner *haven.User, domains []string, watched ...haven.WatchedItem) *haven.Webhook {
	t.Helper()
	w := &haven.Webhook{OwnerID: owner.ID, URL: "https://example.com/hook", Watched: watched, Domains: domains, Secret: "s3cret"}
	mustNil(t, s.CreateWebhook(ctx, w))
	return w
}

func testWebhookCRUD(t *testing.T, s *meta.Store) {
	alice := mustUser(t, s, "Alice", false)
	bob := mustUser(t, s, "bob", false)
	w := mustWebhook(t, s, alice, []string{"repo", "discussion"}, haven.WatchedItem{Type: "user", Name: "bob"},
		haven.WatchedItem{Type: "model", Name: "bob/bert"})
	mustWebhook(t, s, bob, []string{"repo"}, haven.WatchedItem{Type: "org", Name: "acme"})
	if len(w.ID) != 24 || w.Owner != "Alice" {
		t.Fatalf("created %+v", w)
	}
	got, err := s.WebhookByID(ctx, w.ID)
	mustNil(t, err)
	if got.URL != w.URL || got.Secret != "s3cret" || got.Disabled || len(got.Watched) != 2 || got.Watched[1].Name != "bob/bert" ||
		len(got.Domains) != 2 || got.Domains[1] != "discussion" || !got.LastTriggerAt.IsZero() {
		t.Fatalf("got %+v", got)
	}
	isUTC(t, "CreatedAt", got.CreatedAt)

	got.URL, got.Disabled, got.Domains = "https://example.com/other", true, []string{"discussion"}
	got.Watched = []haven.WatchedItem{{Type: "dataset", Name: "bob/data"}}
	mustNil(t, s.UpdateWebhook(ctx, got))
	again, err := s.WebhookByID(ctx, w.ID)
	mustNil(t, err)
	if again.URL != "https://example.com/other" || !again.Disabled || len(again.Watched) != 1 || again.Watched[0].Type != "dataset" ||
		len(again.Domains) != 1 {
		t.Fatalf("after update %+v", again)
	}

	list, err := s.ListWebhooks(ctx, alice.ID)
	mustNil(t, err)
	if len(list) != 1 || list[0].ID != w.ID {
		t.Fatalf("list = %+v", list)
	}
	mustNil(t, s.DeleteWebhook(ctx, w.ID))
	_, err = s.WebhookByID(ctx, w.ID)
	wantCode(t, err, haven.ENotFound)
	wantCode(t, s.DeleteWebhook(ctx, w.ID), haven.ENotFound)
	wantCode(t, s.UpdateWebhook(ctx, got), haven.ENotFound)
}

func testWebhookWatching(t *testing.T, s *meta.Store) {
	alice := mustUser(t, s, "alice", false)
	byRepo := mustWebhook(t, s, alice, []string{"repo"}, haven.WatchedItem{Type: "model", Name: "Acme/BERT"})
	byOrg := mustWebhook(t, s, alice, []string{"repo", "discussion"}, haven.WatchedItem{Type: "org", Name: "acme"})
	mustWebhook(t, s, alice, []string{"repo"}, haven.WatchedItem{Type: "dataset", Name: "acme/bert"})
	off := mustWebhook(t, s, alice, []string{"repo"}, haven.WatchedItem{Type: "user", Name: "acme"})
	off.Disabled = true
	mustNil(t, s.UpdateWebhook(ctx, off))

	tests := []struct {
		typ    haven.RepoType
		name   string
		domain string
		want   []string
	}{
		{haven.Model, "acme/bert", "repo", []string{byRepo.ID, byOrg.ID}},
		{haven.Model, "acme/bert", "discussion", []string{byOrg.ID}},
		{haven.Space, "ACME/app", "repo", []string{byOrg.ID}},
		{haven.Model, "other/bert", "repo", nil},
	}
	for _, tt := range tests {
		ws, err := s.WatchingWebhooks(ctx, tt.typ, tt.name, tt.domain)
		mustNil(t, err)
		var ids []string
		for _, w := range ws {
			ids = append(ids, w.ID)
		}
		if !sameStrings(ids, tt.want) {
			t.Errorf("%s %s %s: got %v, want %v", tt.typ, tt.name, tt.domain, ids, tt.want)
		}
	}
	got, err := s.WebhookByID(ctx, byOrg.ID)
	mustNil(t, err)
	if got.LastTriggerAt.IsZero() {
		t.Fatal("LastTriggerAt not set")
	}
}

func testWebhookDeliveries(t *testing.T, s *meta.Store) {
	alice := mustUser(t, s, "alice", false)
	w := mustWebhook(t, s, alice, []string{"repo"}, haven.WatchedItem{Type: "user", Name: "alice"})
	first := &haven.WebhookDelivery{WebhookID: w.ID, Event: "repo.content.update", Payload: []byte(`{"a":1}`),
		Error: "connection refused", Attempt: 1}
	mustNil(t, s.AddWebhookDelivery(ctx, first))
	time.Sleep(2 * time.Millisecond)
	second := &haven.WebhookDelivery{WebhookID: w.ID, Event: "repo.content.update", Payload: []byte(`{"a":1}`),
		Status: 200, Duration: 1500 * time.Millisecond, Response: "ok", Attempt: 2}
	mustNil(t, s.AddWebhookDelivery(ctx, second))
	list, err := s.WebhookDeliveries(ctx, w.ID, 0)
	mustNil(t, err)
	if len(list) != 2 || list[0].ID != second.ID || list[0].Duration != 1500*time.Millisecond || !list[0].OK() || list[1].OK() ||
		string(list[1].Payload) != `{"a":1}` || list[1].Error != "connection refused" {
		t.Fatalf("deliveries %+v", list)
	}
	one, err := s.WebhookDeliveries(ctx, w.ID, 1)
	mustNil(t, err)
	if len(one) != 1 {
		t.Fatalf("limit 1 gave %d", len(one))
	}
	d, err := s.WebhookDelivery(ctx, w.ID, first.ID)
	mustNil(t, err)
	if d.Attempt != 1 || d.Status != 0 {
		t.Fatalf("delivery %+v", d)
	}
	_, err = s.WebhookDelivery(ctx, "0123456789abcdef01234567", first.ID)
	wantCode(t, err, haven.ENotFound)
	mustNil(t, s.DeleteWebhook(ctx, w.ID))
	list, err = s.WebhookDeliveries(ctx, w.ID, 0)
	mustNil(t, err)
	if len(list) != 0 {
		t.Fatalf("log kept after delete: %d", len(list))
	}
}
