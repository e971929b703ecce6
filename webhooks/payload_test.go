package webhooks

import (
	"encoding/json"
	"testing"

	"github.com/havenhub/haven"
)

func TestBuildPayload(t *testing.T) {
	ids := map[string]int64{"acme": 7, "bob": 9, "bob2": 11}
	lookup := func(name string) int64 { return ids[name] }
	repo := repoSnapshot{ID: 42, Type: haven.Model, Namespace: "acme", Name: "bert-ft", SHA: "575d", Tags: []string{"pytorch"}}
	space := repoSnapshot{ID: 43, Type: haven.Space, Namespace: "acme", Name: "demo", Private: true}
	tests := []struct {
		name string
		ev   eventJob
		want string
	}{
		{"content", eventJob{Scope: "repo.content", Action: "update", Repo: repo,
			UpdatedRefs: []haven.RefUpdate{{Ref: "refs/heads/main", OldSHA: "ce9a", NewSHA: "575d"}, {Ref: "refs/pr/5", NewSHA: "227c"}}},
			`{"event":{"action":"update","scope":"repo.content"},
			 "repo":{"type":"model","name":"acme/bert-ft","id":"000000000000000000000042","private":false,
			  "url":{"web":"https://hub.example/acme/bert-ft","api":"https://hub.example/api/models/acme/bert-ft"},
			  "headSha":"575d","owner":{"id":"000000000000000000000007"},"tags":["pytorch"]},
			 "updatedRefs":[{"ref":"refs/heads/main","oldSha":"ce9a","newSha":"575d"},{"ref":"refs/pr/5","oldSha":null,"newSha":"227c"}],
			 "webhook":{"id":"6390e855e30d9209411de93b","version":3}}`},
		{"deleted tag", eventJob{Scope: "repo.content", Action: "update", Repo: space,
			UpdatedRefs: []haven.RefUpdate{{Ref: "refs/tags/v1", OldSHA: "aaaa"}}},
			`{"event":{"action":"update","scope":"repo.content"},
			 "repo":{"type":"space","name":"acme/demo","id":"000000000000000000000043","private":true,
			  "url":{"web":"https://hub.example/spaces/acme/demo","api":"https://hub.example/api/spaces/acme/demo"},
			  "owner":{"id":"000000000000000000000007"},"tags":[]},
			 "updatedRefs":[{"ref":"refs/tags/v1","oldSha":"aaaa","newSha":null}],
			 "webhook":{"id":"6390e855e30d9209411de93b","version":3}}`},
		{"config", eventJob{Scope: "repo.config", Action: "update", Repo: repo, UpdatedConfig: map[string]any{"private": true}},
			`{"event":{"action":"update","scope":"repo.config"},
			 "repo":{"type":"model","name":"acme/bert-ft","id":"000000000000000000000042","private":false,
			  "url":{"web":"https://hub.example/acme/bert-ft","api":"https://hub.example/api/models/acme/bert-ft"},
			  "headSha":"575d","owner":{"id":"000000000000000000000007"},"tags":["pytorch"]},
			 "updatedConfig":{"private":true},
			 "webhook":{"id":"6390e855e30d9209411de93b","version":3}}`},
		{"move", eventJob{Scope: "repo", Action: "move", Repo: repo, MovedTo: "bob/bert"},
			`{"event":{"action":"move","scope":"repo"},
			 "repo":{"type":"model","name":"acme/bert-ft","id":"000000000000000000000042","private":false,
			  "url":{"web":"https://hub.example/acme/bert-ft","api":"https://hub.example/api/models/acme/bert-ft"},
			  "headSha":"575d","owner":{"id":"000000000000000000000007"},"tags":["pytorch"]},
			 "movedTo":{"name":"bob/bert","owner":{"id":"000000000000000000000009"}},
			 "webhook":{"id":"6390e855e30d9209411de93b","version":3}}`},
		{"comment", eventJob{Scope: "discussion.comment", Action: "create", Repo: repo,
			Discussion: &discussionSnap{ObjectID: "d1d1d1d1d1d1d1d1d1d1d1d1", Num: 3, Title: "Typo", Status: "open", Author: "bob"},
			Comment:    &commentSnap{ObjectID: "c2c2c2c2c2c2c2c2c2c2c2c2", Author: "bob2", Body: "<b>fixed</b>"}},
			`{"event":{"action":"create","scope":"discussion.comment"},
			 "repo":{"type":"model","name":"acme/bert-ft","id":"000000000000000000000042","private":false,
			  "url":{"web":"https://hub.example/acme/bert-ft","api":"https://hub.example/api/models/acme/bert-ft"},
			  "owner":{"id":"000000000000000000000007"},"tags":["pytorch"]},
			 "discussion":{"id":"d1d1d1d1d1d1d1d1d1d1d1d1","num":3,"title":"Typo",
			  "url":{"web":"https://hub.example/acme/bert-ft/discussions/3","api":"https://hub.example/api/models/acme/bert-ft/discussions/3"},
			  "status":"open","author":{"id":"000000000000000000000009"},"isPullRequest":false},
			 "comment":{"id":"c2c2c2c2c2c2c2c2c2c2c2c2","author":{"id":"000000000000000000000011"},"hidden":false,"content":"<b>fixed</b>",
			  "url":{"web":"https://hub.example/acme/bert-ft/discussions/3#c2c2c2c2c2c2c2c2c2c2c2c2"}},
			 "webhook":{"id":"6390e855e30d9209411de93b","version":3}}`},
		{"merged pull request, hidden comment", eventJob{Scope: "discussion.comment", Action: "update", Repo: repo,
			Discussion: &discussionSnap{ObjectID: "d1d1d1d1d1d1d1d1d1d1d1d1", Num: 4, Title: "Add", Status: "merged", Author: "bob",
				IsPullRequest: true, TargetRef: "refs/heads/main", MergeCommit: "abcd"},
			Comment: &commentSnap{ObjectID: "c2c2c2c2c2c2c2c2c2c2c2c2", Author: "bob", Body: "secret", Hidden: true}},
			`{"event":{"action":"update","scope":"discussion.comment"},
			 "repo":{"type":"model","name":"acme/bert-ft","id":"000000000000000000000042","private":false,
			  "url":{"web":"https://hub.example/acme/bert-ft","api":"https://hub.example/api/models/acme/bert-ft"},
			  "owner":{"id":"000000000000000000000007"},"tags":["pytorch"]},
			 "discussion":{"id":"d1d1d1d1d1d1d1d1d1d1d1d1","num":4,"title":"Add",
			  "url":{"web":"https://hub.example/acme/bert-ft/discussions/4","api":"https://hub.example/api/models/acme/bert-ft/discussions/4"},
			  "status":"merged","author":{"id":"000000000000000000000009"},"isPullRequest":true,
			  "changes":{"base":"refs/heads/main","mergeCommitId":"abcd"}},
			 "comment":{"id":"c2c2c2c2c2c2c2c2c2c2c2c2","author":{"id":"000000000000000000000009"},"hidden":true,
			  "url":{"web":"https://hub.example/acme/bert-ft/discussions/4#c2c2c2c2c2c2c2c2c2c2c2c2"}},
			 "webhook":{"id":"6390e855e30d9209411de93b","version":3}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := marshal(buildPayload("https://hub.example", &tt.ev, "6390e855e30d9209411de93b", lookup))
			if err != nil {
				t.Fatal(err)
			}
			var a, b any
			if err := json.Unmarshal(got, &a); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tt.want), &b); err != nil {
				t.Fatal(err)
			}
			ga, _ := json.Marshal(a)
			gb, _ := json.Marshal(b)
			if string(ga) != string(gb) {
				t.Errorf("payload\n got %s\nwant %s", ga, gb)
			}
		})
	}
}
