package discussions_test

import (
	"context"
	"net/url"
	"reflect"
	"testing"

	"github.com/havenhub/haven"
)

// TestPinLockReactDelete follows a discussion through pins, a lock,
// reactions and its deletion, with who may do each and what the listing
// and details show.
func TestPinLockReactDelete(t *testing.T) {
	h := newHub(t)
	base := "/api/models/alice/tiny/discussions"
	for _, title := range []string{"Old question", "Popular idea", "Newest"} {
		h.do("bob", "POST", base, map[string]any{"title": title, "description": "About " + title}, 200)
	}
	list := func(query string) []int {
		t.Helper()
		out := h.do("", "GET", base+query, nil, 200)
		var got []int
		for _, d := range out["discussions"].([]any) {
			got = append(got, int(d.(map[string]any)["num"].(float64)))
		}
		return got
	}

	// Pins: for writers; pinned discussions come first.
	h.do("bob", "POST", base+"/1/pin", map[string]any{"pinned": true}, 403)
	h.do("alice", "POST", base+"/1/pin", map[string]any{}, 400)
	ev := h.do("alice", "POST", base+"/1/pin", map[string]any{"pinned": true}, 200)
	if ev["type"] != "pinning-change" || !reflect.DeepEqual(ev["data"], map[string]any{"pinned": true}) {
		t.Fatalf("pin event = %v", ev)
	}
	h.do("alice", "POST", base+"/1/pin", map[string]any{"pinned": true}, 400)
	if got := list(""); !reflect.DeepEqual(got, []int{1, 3, 2}) {
		t.Fatalf("listing with #1 pinned = %v", got)
	}
	if d := h.do("", "GET", base+"/1", nil, 200); d["pinned"] != true || d["locked"] != false {
		t.Fatalf("details of a pinned discussion: pinned %v locked %v", d["pinned"], d["locked"])
	}

	// Locks: only writers comment and react on a locked discussion.
	h.do("bob", "POST", base+"/2/lock", map[string]any{"locked": true}, 403)
	h.do("alice", "POST", base+"/2/lock", map[string]any{"locked": true}, 200)
	h.do("bob", "POST", base+"/2/comment", map[string]any{"comment": "let me in"}, 403)
	h.do("alice", "POST", base+"/2/comment", map[string]any{"comment": "owners still may"}, 201)
	details := h.do("", "GET", base+"/2", nil, 200)
	if details["locked"] != true {
		t.Fatalf("locked = %v", details["locked"])
	}
	opening := details["events"].([]any)[0].(map[string]any)["id"].(string)
	react := base + "/2/comment/" + opening + "/reaction"
	h.do("carol", "POST", react, map[string]any{"action": "add", "reaction": "🔥"}, 403)
	h.do("alice", "POST", base+"/2/lock", map[string]any{"locked": false}, 200)

	// Reactions: any participant, idempotent, from the Hub's set.
	h.do("", "POST", react, map[string]any{"action": "add", "reaction": "🔥"}, 401)
	h.do("bob", "POST", react, map[string]any{"action": "add", "reaction": "hello"}, 400)
	h.do("bob", "POST", react, map[string]any{"action": "like", "reaction": "🔥"}, 400)
	h.do("bob", "POST", base+"/2/comment/000000000000000000000000/reaction", map[string]any{"action": "add", "reaction": "🔥"}, 404)
	for _, u := range []string{"bob", "carol", "carol"} {
		h.do(u, "POST", react, map[string]any{"action": "add", "reaction": "🔥"}, 200)
	}
	out := h.do("alice", "POST", react, map[string]any{"action": "add", "reaction": "🚀"}, 200)
	wantReactions := []any{
		map[string]any{"reaction": "🔥", "users": []any{"bob", "carol"}, "count": float64(2)},
		map[string]any{"reaction": "🚀", "users": []any{"alice"}, "count": float64(1)},
	}
	if !reflect.DeepEqual(out["reactions"], wantReactions) {
		t.Fatalf("reactions = %v, want %v", out["reactions"], wantReactions)
	}
	// The answer's comment is the comment of the details.
	details = h.do("", "GET", base+"/2", nil, 200)
	if !reflect.DeepEqual(out["updatedComment"], details["events"].([]any)[0]) {
		t.Fatalf("updatedComment = %v\nin details: %v", out["updatedComment"], details["events"].([]any)[0])
	}
	h.do("alice", "POST", react, map[string]any{"action": "remove", "reaction": "🚀"}, 200)
	h.do("alice", "POST", react, map[string]any{"action": "remove", "reaction": "🚀"}, 200)
	listing := h.do("", "GET", base+"?sort=reactions", nil, 200)["discussions"].([]any)
	second := listing[1].(map[string]any) // #1 stays first, pinned
	if second["num"] != float64(2) || second["numReactionUsers"] != float64(2) ||
		!reflect.DeepEqual(second["topReactions"], []any{map[string]any{"reaction": "🔥", "count": float64(2)}}) {
		t.Fatalf("listing by reactions, second item: %v", second)
	}

	// Sorts and search.
	for _, tc := range []struct {
		query string
		want  []int
	}{
		{"?sort=recently-created", []int{1, 3, 2}},
		{"?sort=reactions", []int{1, 2, 3}},
		{"?sort=trending", []int{1, 2, 3}},
		{"?search=" + url.QueryEscape("popular"), []int{2}},
		{"?search=nothing-like-it", nil},
	} {
		if got := list(tc.query); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s = %v, want %v", tc.query, got, tc.want)
		}
	}
	h.do("", "GET", base+"?sort=random", nil, 400)

	// Deletion: for admins of the repository only.
	h.do("bob", "DELETE", base+"/3", nil, 403)
	h.do("alice", "DELETE", base+"/3", nil, 200)
	h.do("", "GET", base+"/3", nil, 404)
	h.do("alice", "DELETE", base+"/3", nil, 404)

	// Each change is in the audit log.
	es, err := h.st.Meta.AuditEntries(context.Background(), haven.AuditFilter{Namespace: "alice", Action: "discussion"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, e.Action+" "+e.Target+" by "+e.ActorName)
	}
	want := []string{
		"discussion.delete alice/tiny#3 by alice",
		"discussion.lock alice/tiny#2 by alice",
		"discussion.lock alice/tiny#2 by alice",
		"discussion.pin alice/tiny#1 by alice",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("audit = %v, want %v", got, want)
	}
}
