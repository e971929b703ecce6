package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestCollectionPages(t *testing.T) {
	s := newSite(t)
	s.createRepo("alice", "tiny", false)
	s.createRepo("alice", "hidden", true)
	create := func(title string, private bool) string {
		body, _ := json.Marshal(map[string]any{"title": title, "namespace": "alice", "private": private})
		p := s.apiDo("POST", "/api/collections", s.tokens["alice"], "application/json", body)
		if p.status != 200 {
			t.Fatalf("create %q: %d %s", title, p.status, p.body)
		}
		var c struct{ Slug string }
		json.Unmarshal([]byte(p.body), &c)
		return c.Slug
	}
	add := func(slug, typ, id, note string) {
		body, _ := json.Marshal(map[string]any{"item": map[string]string{"type": typ, "id": id}, "note": note})
		if p := s.apiDo("POST", "/api/collections/"+slug+"/items", s.tokens["alice"], "application/json", body); p.status != 200 {
			t.Fatalf("add %s to %s: %d %s", id, slug, p.status, p.body)
		}
	}
	public := create("Favourite models", false)
	secret := create("Secret plans", true)
	add(public, "model", "alice/tiny", "The **best** <script>alert(1)</script>")
	add(public, "model", "alice/hidden", "only for alice")
	if p := s.apiDo("POST", "/api/collections/"+public+"/upvote", s.tokens["bob"], "application/json", nil); p.status != 200 {
		t.Fatalf("bob's upvote: %d %s", p.status, p.body)
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
		{"public collection, anonymous", anon, "/collections/" + public, 200,
			[]string{"Favourite models", "alice/tiny", "<strong>best</strong>"}, []string{"<script>alert", "alice/hidden", "data-remove-item"}},
		{"public collection, owner", alice, "/collections/" + public, 200,
			[]string{"alice/hidden", "only for alice", "data-remove-item", "data-delete-collection", `aria-pressed="false">▲ Upvote <span data-upvotes>1</span>`}, nil},
		{"public collection, upvoter", bob, "/collections/" + public, 200,
			[]string{`aria-pressed="true">▲ Upvote <span data-upvotes>1</span>`}, []string{"data-delete-collection"}},
		{"public collection, upvotes for visitors", anon, "/collections/" + public, 200,
			[]string{"▲ 1"}, []string{"data-upvote"}},
		{"old slug", anon, "/collections/alice/old-title-" + public[strings.LastIndex(public, "-")+1:], 200,
			[]string{"Favourite models"}, nil},
		{"private collection, owner", alice, "/collections/" + secret, 200, []string{"Secret plans"}, nil},
		{"private collection, other", bob, "/collections/" + secret, 404, nil, []string{"Secret plans"}},
		{"private collection, anonymous", anon, "/collections/" + secret, 404, nil, []string{"Secret plans"}},
		{"namespace, owner", alice, "/collections/alice", 200, []string{"Favourite models", "Secret plans", "data-new-collection"}, nil},
		{"namespace, other", bob, "/collections/alice", 200, []string{"Favourite models"}, []string{"Secret plans", "data-new-collection"}},
		{"repo page, signed in", bob, "/alice/tiny", 200, []string{`data-add-collection`, `data-item-id="alice/tiny"`}, nil},
		{"repo page, anonymous", anon, "/alice/tiny", 200, nil, []string{"data-add-collection"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.b.get(tt.path)
			if p.status != tt.status {
				t.Fatalf("status %d, want %d\n%s", p.status, tt.status, p.body)
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

	// The pages' script adds items with the session, as the menu does.
	body, _ := json.Marshal(map[string]any{"item": map[string]string{"type": "paper", "id": "2307.09288"}})
	if p := alice.do("POST", "/api/collections/"+public+"/items", "application/json", body, "X-Haven-Origin", s.url); p.status != http.StatusOK {
		t.Fatalf("add with the session: %d %s", p.status, p.body)
	}
	if p := bob.do("POST", "/api/collections/"+public+"/items", "application/json", body, "X-Haven-Origin", s.url); p.status != http.StatusForbidden {
		t.Fatalf("bob adds to alice's collection: %d %s", p.status, p.body)
	}
}
