package api_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"testing"
)

// discoveryHub is a hub with cards that give its repositories tags:
// alice/bert-base (fill-mask, transformers, mit, en), alice/gpt-small
// (text-generation, transformers, apache-2.0), alice/secret-bert (private,
// fill-mask) and bob/bert-tiny (no card).
func discoveryHub(t *testing.T) *hub {
	h := newHub(t)
	cards := []struct {
		token, name string
		private     bool
		readme      string
	}{
		{h.tokens["alice"], "bert-base", false, "---\npipeline_tag: fill-mask\nlibrary_name: transformers\nlicense: mit\nlanguage: en\ntags: [encoder]\n---\n# BERT\n"},
		{h.tokens["alice"], "gpt-small", false, "---\npipeline_tag: text-generation\nlibrary_name: transformers\nlicense: apache-2.0\n---\n"},
		{h.tokens["alice"], "secret-bert", true, "---\npipeline_tag: fill-mask\ntags: [hidden-tag]\n---\n"},
		{h.tokens["bob"], "bert-tiny", false, ""},
	}
	for _, c := range cards {
		h.createRepo(c.token, c.name, c.private)
		if c.readme == "" {
			continue
		}
		owner := "alice"
		if c.token == h.tokens["bob"] {
			owner = "bob"
		}
		if r := h.commit(c.token, owner+"/"+c.name, "main", header("card"), file("README.md", c.readme)); r.status != 200 {
			t.Fatalf("commit card of %s: %d %s", c.name, r.status, r.body)
		}
	}
	return h
}

type quickSearch struct {
	Models        []struct{ ID string }
	Datasets      []struct{ ID string }
	Spaces        []struct{ ID string }
	Orgs          []struct{ Name string }
	Users         []struct{ User string }
	ModelsCount   int
	DatasetsCount int
	SpacesCount   int
}

func ids(q quickSearch) []string {
	var out []string
	for _, m := range q.Models {
		out = append(out, m.ID)
	}
	sort.Strings(out)
	return out
}

func TestQuickSearch(t *testing.T) {
	h := discoveryHub(t)
	tests := []struct {
		name       string
		query      string
		token      string
		status     int
		models     []string // sorted
		modelCount int
		users      []string
	}{
		{"substring", "q=bert", "", 200, []string{"alice/bert-base", "bob/bert-tiny"}, 2, nil},
		{"case-insensitive", "q=BERT", "", 200, []string{"alice/bert-base", "bob/bert-tiny"}, 2, nil},
		{"private for its owner", "q=bert", "alice", 200, []string{"alice/bert-base", "alice/secret-bert", "bob/bert-tiny"}, 3, nil},
		{"private hidden from others", "q=secret", "bob", 200, nil, 0, nil},
		{"limit caps items, not counts", "q=bert&limit=1", "", 200, []string{"bob/bert-tiny"}, 2, nil}, // equal downloads: newest first
		{"limit 0 gives counts only", "q=bert&limit=0", "", 200, nil, 2, nil},
		{"users by name, repos by id", "q=ali", "", 200, []string{"alice/bert-base", "alice/gpt-small"}, 2, []string{"alice"}},
		{"type=user keeps users only", "q=b&type=user", "", 200, nil, 0, []string{"bob"}},
		{"type=model keeps models only", "q=bob&type=model", "", 200, []string{"bob/bert-tiny"}, 1, nil},
		{"empty query lists popular repos", "q=", "", 200, []string{"alice/bert-base", "alice/gpt-small", "bob/bert-tiny"}, 3, nil},
		{"types together", "q=b&type=model&type=user", "", 200, []string{"alice/bert-base", "bob/bert-tiny"}, 2, []string{"bob"}},
		{"exclude leaves out ids", "q=bert&exclude=bob/bert-tiny&limit=1", "", 200, []string{"alice/bert-base"}, 2, nil},
		{"exclude leaves out users", "q=b&type=user&exclude=bob", "", 200, nil, 0, nil},
		{"bad type", "q=x&type=cats", "", 400, nil, 0, nil},
		{"bad limit", "q=x&limit=lots", "", 400, nil, 0, nil},
	}
	for _, tc := range tests {
		for _, method := range []string{"GET", "POST"} {
			t.Run(method+" "+tc.name, func(t *testing.T) {
				token := ""
				if tc.token != "" {
					token = h.tokens[tc.token]
				}
				var r resp
				if method == "GET" {
					r = h.do("GET", "/api/quicksearch?"+tc.query, token, "", nil)
				} else {
					r = h.do("POST", "/api/quicksearch", token, "application/json", quickSearchBody(t, tc.query))
				}
				checkQuickSearch(t, r, tc.status, tc.models, tc.modelCount, tc.users)
			})
		}
	}
}

// quickSearchBody is the JSON body of a POST asking what query does: a
// list for a parameter given more than once, a number for a numeric limit.
func quickSearchBody(t *testing.T, query string) []byte {
	t.Helper()
	v, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	body := map[string]any{}
	for k, vs := range v {
		switch {
		case k == "exclude" || len(vs) > 1:
			body[k] = vs
		case k == "limit":
			if n, err := strconv.Atoi(vs[0]); err == nil {
				body[k] = n
				continue
			}
			body[k] = vs[0]
		default:
			body[k] = vs[0]
		}
	}
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checkQuickSearch(t *testing.T, r resp, status int, models []string, modelCount int, wantUsers []string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if status != 200 {
		return
	}
	var q quickSearch
	r.json(t, &q)
	if got := ids(q); !reflect.DeepEqual(got, models) {
		t.Errorf("models %v, want %v", got, models)
	}
	if q.ModelsCount != modelCount {
		t.Errorf("modelsCount %d, want %d", q.ModelsCount, modelCount)
	}
	var users []string
	for _, u := range q.Users {
		users = append(users, u.User)
	}
	if !reflect.DeepEqual(users, wantUsers) {
		t.Errorf("users %v, want %v", users, wantUsers)
	}
}

// TestQuickSearchPostRefuses checks that a POST's filters Haven does not
// apply are refused, not ignored, as is a body that is not JSON.
func TestQuickSearchPostRefuses(t *testing.T) {
	h := discoveryHub(t)
	for _, body := range []string{`{"q":"bert","library":"transformers"}`, `{"q":"bert","lang":["en"]}`, `{"q":1}`, `not json`} {
		r := h.do("POST", "/api/quicksearch", "", "application/json", []byte(body))
		if r.status != http.StatusBadRequest || r.header.Get("X-Error-Message") == "" {
			t.Errorf("%s: status %d, X-Error-Message %q; want 400 with a message", body, r.status, r.header.Get("X-Error-Message"))
		}
	}
	// A null is no filter.
	r := h.do("POST", "/api/quicksearch", "", "application/json", []byte(`{"q":"bert","library":null}`))
	checkQuickSearch(t, r, 200, []string{"alice/bert-base", "bob/bert-tiny"}, 2, nil)
}

// TestQuickSearchShape checks that every group is present even when empty,
// as clients index them without checking.
func TestQuickSearchShape(t *testing.T) {
	h := discoveryHub(t)
	var m map[string]any
	h.do("GET", "/api/quicksearch?q=nothing-matches", "", "", nil).json(t, &m)
	for _, k := range []string{"models", "datasets", "spaces", "orgs", "users", "modelsCount", "datasetsCount", "spacesCount"} {
		if _, ok := m[k]; !ok {
			t.Errorf("answer has no %q: %v", k, m)
		}
	}
}

type tagItem struct {
	ID    string
	Label string
	Type  string
	Count int
}

func TestTagsByType(t *testing.T) {
	h := discoveryHub(t)
	var groups map[string][]tagItem
	r := h.do("GET", "/api/models-tags-by-type", "", "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	r.json(t, &groups)
	find := func(group, id string) *tagItem {
		for i := range groups[group] {
			if groups[group][i].ID == id {
				return &groups[group][i]
			}
		}
		return nil
	}
	tests := []struct {
		group, id, label string
		count            int
	}{
		{"pipeline_tag", "fill-mask", "fill-mask", 1}, // the private repository is not counted
		{"pipeline_tag", "text-generation", "text-generation", 1},
		{"library", "transformers", "transformers", 2},
		{"license", "license:mit", "mit", 1},
		{"license", "license:apache-2.0", "apache-2.0", 1},
		{"language", "language:en", "en", 1},
		{"other", "encoder", "encoder", 1},
	}
	for _, tc := range tests {
		got := find(tc.group, tc.id)
		if got == nil {
			t.Errorf("%s has no %s: %v", tc.group, tc.id, groups[tc.group])
			continue
		}
		if got.Label != tc.label || got.Count != tc.count || got.Type != tc.group {
			t.Errorf("%s/%s = %+v, want label %q count %d", tc.group, tc.id, *got, tc.label, tc.count)
		}
	}
	if find("other", "hidden-tag") != nil {
		t.Error("a tag of a private repository is listed")
	}
	if libs := groups["library"]; len(libs) > 0 && libs[0].ID != "transformers" {
		t.Errorf("groups are not ordered by count: %v", libs)
	}

	// ?type= keeps one group; an unknown group is an error.
	var one map[string][]tagItem
	h.do("GET", "/api/models-tags-by-type?type=license", "", "", nil).json(t, &one)
	if len(one) != 1 || len(one["license"]) != 2 {
		t.Errorf("?type=license gave %v", one)
	}
	if r := h.do("GET", "/api/models-tags-by-type?type=colour", "", "", nil); r.status != http.StatusBadRequest {
		t.Errorf("?type=colour: status %d, want 400", r.status)
	}
	var ds map[string][]tagItem
	h.do("GET", "/api/datasets-tags-by-type", "", "", nil).json(t, &ds)
	for g, items := range ds {
		if len(items) != 0 {
			t.Errorf("datasets group %s has %v; there are no datasets", g, items)
		}
	}
}

// TestListSortTrending checks that likes raise a repository in
// sort=trendingScore, the order the home page and listings use.
func TestListSortTrending(t *testing.T) {
	h := discoveryHub(t)
	for _, u := range []string{"alice", "bob"} {
		if r := h.do("POST", "/api/models/bob/bert-tiny/like", h.tokens[u], "", nil); r.status != 200 {
			t.Fatalf("like: %d %s", r.status, r.body)
		}
	}
	h.do("POST", "/api/models/alice/gpt-small/like", h.tokens["bob"], "", nil)
	var list []struct {
		ID            string
		TrendingScore int
	}
	h.do("GET", "/api/models?sort=trendingScore&"+url.Values{"limit": {"3"}}.Encode(), "", "", nil).json(t, &list)
	if len(list) < 2 || list[0].ID != "bob/bert-tiny" || list[1].ID != "alice/gpt-small" {
		t.Fatalf("sort=trendingScore gave %+v", list)
	}
	if list[0].TrendingScore <= list[1].TrendingScore {
		t.Errorf("trending scores not decreasing: %+v", list)
	}
}

// TestListReposCardAndTags checks what a model listing carries depending on
// its parameters (the card only when asked for), and that several tags
// together keep only the repositories that have them all.
func TestListReposCardAndTags(t *testing.T) {
	h := discoveryHub(t)
	tests := []struct {
		name     string
		query    string
		token    string
		ids      []string // sorted
		withCard bool
	}{
		{"default leaves the card out", "search=bert-base", "", []string{"alice/bert-base"}, false},
		{"cardData=true", "search=bert-base&cardData=true", "", []string{"alice/bert-base"}, true},
		{"full=true", "search=bert-base&full=true", "", []string{"alice/bert-base"}, true},
		{"expand cardData", "search=bert-base&expand[]=cardData", "", []string{"alice/bert-base"}, true},
		{"three tags", "filter=fill-mask&filter=transformers&filter=license:mit&limit=5", "", []string{"alice/bert-base"}, false},
		{"tags and search", "filter=fill-mask&search=bert", "", []string{"alice/bert-base"}, false},
		{"tags and search, owner", "filter=fill-mask&search=bert", "alice", []string{"alice/bert-base", "alice/secret-bert"}, false},
		{"a tag nobody has with a common one", "filter=fill-mask&filter=license:apache-2.0", "", nil, false},
		{"pipeline_tag and library", "pipeline_tag=text-generation&library=transformers&sort=downloads", "", []string{"alice/gpt-small"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			token := ""
			if tc.token != "" {
				token = h.tokens[tc.token]
			}
			r := h.do("GET", "/api/models?"+tc.query, token, "", nil)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			var got []struct {
				ID       string         `json:"id"`
				CardData map[string]any `json:"cardData"`
			}
			r.json(t, &got)
			var ids []string
			for _, m := range got {
				ids = append(ids, m.ID)
				if (m.CardData != nil) != tc.withCard {
					t.Errorf("%s: cardData %v, want present %t", m.ID, m.CardData, tc.withCard)
				}
				if tc.withCard && m.CardData["license"] != "mit" {
					t.Errorf("%s: cardData %v", m.ID, m.CardData)
				}
			}
			sort.Strings(ids)
			if !reflect.DeepEqual(ids, tc.ids) {
				t.Errorf("ids %v, want %v", ids, tc.ids)
			}
		})
	}
}
