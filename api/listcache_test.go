package api_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/havenhub/haven/internal/cachestat"
)

// listingCounter is the listing cache's hit and miss counter.
func listingCounter(t *testing.T) *cachestat.Counter {
	for _, c := range cachestat.All() {
		if c.Name() == "listing" {
			return c
		}
	}
	t.Fatal("no listing cache counter")
	return nil
}

// TestListingCacheFollowsChanges checks that a listing answered again from
// the cache shows every change to the repositories at once, and that a
// cached page is only ever answered to callers who may see all of it.
func TestListingCacheFollowsChanges(t *testing.T) {
	h := discoveryHub(t)
	lc := listingCounter(t)
	type item struct {
		ID      string
		Likes   int
		Private bool
	}
	// list asks twice and checks that the second answer, from the cache,
	// is the first's to the byte, Link header included.
	list := func(user, query string) map[string]item {
		t.Helper()
		token := ""
		if user != "" {
			token = h.tokens[user]
		}
		first := h.do("GET", "/api/models"+query, token, "", nil)
		hits := lc.Hits()
		second := h.do("GET", "/api/models"+query, token, "", nil)
		if first.status != 200 || second.status != 200 {
			t.Fatalf("GET /api/models%s as %q: %d, %d %s", query, user, first.status, second.status, second.body)
		}
		if lc.Hits() == hits {
			t.Errorf("GET /api/models%s as %q: the second answer did not come from the cache", query, user)
		}
		if !bytes.Equal(first.body, second.body) || first.header.Get("Link") != second.header.Get("Link") {
			t.Errorf("GET /api/models%s as %q: cached answer differs:\n%s\nLink %q\nthen\n%s\nLink %q", query, user,
				first.body, first.header.Get("Link"), second.body, second.header.Get("Link"))
		}
		var items []item
		first.json(t, &items)
		got := map[string]item{}
		for _, it := range items {
			got[it.ID] = it
		}
		return got
	}
	check := func(step string, got map[string]item, want ...string) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s: listed %v, want %v", step, got, want)
		}
		for _, id := range want {
			if _, ok := got[id]; !ok {
				t.Errorf("%s: %s missing from %v", step, id, got)
			}
		}
	}
	public := []string{"alice/bert-base", "alice/gpt-small", "bob/bert-tiny"}
	withSecret := append([]string{"alice/secret-bert"}, public...)

	// Whoever asked first, each caller gets the page it may see.
	check("anonymous", list("", ""), public...)
	check("owner", list("alice", ""), withSecret...)
	check("anonymous after the owner", list("", ""), public...)
	check("another user", list("bob", ""), public...)

	if r := h.do("POST", "/api/models/bob/bert-tiny/like", h.tokens["alice"], "", nil); r.status != 200 {
		t.Fatalf("like: %d %s", r.status, r.body)
	}
	if got := list("", "")["bob/bert-tiny"]; got.Likes != 1 {
		t.Errorf("after a like: %+v", got)
	}

	h.createRepo(h.tokens["bob"], "fresh", false)
	check("after a new repository", list("", ""), append([]string{"bob/fresh"}, public...)...)

	if r := h.do("PUT", "/api/models/alice/bert-base/settings", h.tokens["alice"], "application/json", []byte(`{"private":true}`)); r.status != 200 {
		t.Fatalf("settings: %d %s", r.status, r.body)
	}
	check("anonymous, after a repository turned private", list("", ""), "alice/gpt-small", "bob/bert-tiny", "bob/fresh")
	if got := list("alice", "")["alice/bert-base"]; !got.Private {
		t.Errorf("owner, after the repository turned private: %+v", got)
	}

	if r := h.do("DELETE", "/api/repos/delete", h.tokens["bob"], "application/json", []byte(`{"name":"fresh"}`)); r.status != 200 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	check("after a deletion", list("", ""), "alice/gpt-small", "bob/bert-tiny")

	// Pages keep their Link to the next page (list compares it).
	if r := h.do("GET", "/api/models?limit=1", "", "", nil); r.header.Get("Link") == "" {
		t.Errorf("first page of one: no Link header")
	}
	pages := list("", "?limit=1")
	for id, it := range list("", "?limit=1&cursor=MQ") {
		pages[id] = it
	}
	check("two pages of one", pages, "alice/gpt-small", "bob/bert-tiny")
}

// TestListingCacheConcurrentReads asks for one page from many clients at
// once right after a change, when none is kept: every one gets the same
// page, the one a single client gets afterwards.
func TestListingCacheConcurrentReads(t *testing.T) {
	h := discoveryHub(t)
	for round := range 3 {
		if r := h.do("POST", "/api/models/bob/bert-tiny/like", h.tokens[[]string{"alice", "bob", "alice"}[round]], "", nil); r.status != 200 {
			t.Fatalf("like: %d %s", r.status, r.body)
		}
		const clients = 16
		bodies := make([][]byte, clients)
		errs := make([]error, clients)
		var wg sync.WaitGroup
		for i := range clients {
			wg.Go(func() {
				res, err := http.Get(h.url + "/api/models")
				if err != nil {
					errs[i] = err
					return
				}
				defer res.Body.Close()
				bodies[i], errs[i] = io.ReadAll(res.Body)
				if res.StatusCode != 200 {
					errs[i] = fmt.Errorf("status %d: %s", res.StatusCode, bodies[i])
				}
			})
		}
		wg.Wait()
		want := h.do("GET", "/api/models", "", "", nil).body
		for i := range clients {
			if errs[i] != nil {
				t.Fatalf("round %d, client %d: %v", round, i, errs[i])
			}
			if !bytes.Equal(bodies[i], want) {
				t.Errorf("round %d, client %d:\n%s\nwant\n%s", round, i, bodies[i], want)
			}
		}
	}
}
