package discussions_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestMentionsNotify checks who hears of an @name: readers of the
// repository other than the author, from a new discussion, a comment and
// the description of a create_pr commit.
func TestMentionsNotify(t *testing.T) {
	h := newHub(t)
	d := h.do("bob", "POST", "/api/models/alice/tiny/discussions", map[string]any{"title": "Question", "description": "@alice have a look"}, 200)
	num := int(d["num"].(float64))
	h.do("bob", "POST", "/api/models/alice/tiny/discussions/"+strconv.Itoa(num)+"/comment", map[string]any{"comment": "@carol @bob @nobody too"}, 201)
	h.do("alice", "POST", "/api/models/alice/secret/discussions", map[string]any{"title": "Private", "description": "@bob can't see this"}, 200)

	// A create_pr commit's description is the pull request's first comment.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.Encode(map[string]any{"key": "header", "value": map[string]any{"summary": "Fix", "description": "@alice please review"}})
	enc.Encode(map[string]any{"key": "file", "value": map[string]any{"path": "fix.txt", "content": "fix\n"}})
	req, _ := http.NewRequest("POST", h.url+"/api/models/alice/tiny/commit/main?create_pr=1", &b)
	req.Header.Set("Authorization", "Bearer "+h.tokens["bob"])
	req.Header.Set("Content-Type", "application/x-ndjson")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("create_pr commit = %d: %s", res.StatusCode, body)
	}

	subjects := func(name string) string {
		var out []string
		for _, n := range h.told.of(name) {
			out = append(out, n.Subject)
		}
		return strings.Join(out, "; ")
	}
	tests := []struct {
		user string
		want []string // subjects, in order
	}{
		{"alice", []string{"bob mentioned you in alice/tiny#" + strconv.Itoa(num), "bob mentioned you in alice/tiny#" + strconv.Itoa(num+1)}},
		{"carol", []string{"bob mentioned you in alice/tiny#" + strconv.Itoa(num)}},
		{"bob", nil}, // their own mention, and a private repository they cannot read
	}
	for _, tt := range tests {
		if got := subjects(tt.user); got != strings.Join(tt.want, "; ") {
			t.Errorf("%s was told %q, want %q", tt.user, got, strings.Join(tt.want, "; "))
		}
	}
	if ns := h.told.of("alice"); len(ns) == 2 && !strings.Contains(ns[1].Body, "pull request") {
		t.Errorf("the create_pr mention should name a pull request: %q", ns[1].Body)
	}
}
