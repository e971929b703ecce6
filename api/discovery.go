package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
)

// Discovery: the quick search behind the search box and the tag groups
// behind the listing filters. Private repositories count and appear only
// for callers who may read them; tag groups are computed from public
// repositories only, so that they reveal nothing.

// quicksearchMax bounds the results per group of a quick search.
const quicksearchMax = 100

// quicksearchCountCap bounds the counts of a quick search, all types
// together: they label a search box, where "10000" and "52000" say the same.
const quicksearchCountCap = 10_000

// quickSearchTypes maps the type parameter to the groups it selects.
var quickSearchTypes = map[string]string{
	"model": "models", "models": "models",
	"dataset": "datasets", "datasets": "datasets",
	"space": "spaces", "spaces": "spaces",
	"org": "orgs", "orgs": "orgs", "organization": "orgs",
	"user": "users", "users": "users",
}

// handleQuickSearch answers GET /api/quicksearch?q=&type=&limit=, and POST
// with the same in a JSON body: repositories whose id contains q (most
// downloaded first), organisations and users whose name does, and how many
// repositories of each type match.
func (s *Server) handleQuickSearch(w http.ResponseWriter, r *http.Request) {
	var (
		p   quickSearchParams
		err error
	)
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		p, err = quickSearchQuery(r.URL.Query())
	case http.MethodPost:
		p, err = quickSearchBody(r)
	default:
		err = errNotFound("Not Found")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	text, limit, want := p.text, p.limit, p.want
	actor := actorOf(r)
	// The groups are independent queries; running them side by side lets
	// the database's readers work in parallel.
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
		out  = map[string]any{}
	)
	set := func(k string, v any, err error) {
		mu.Lock()
		defer mu.Unlock()
		out[k] = v
		if err != nil {
			errs = append(errs, err)
		}
	}
	// The repositories' lists and counts come from one call: the counts
	// read every match anyway and tell the lists how to find theirs.
	var types []haven.RepoType
	for _, t := range haven.RepoTypes {
		set(t.Plural(), []map[string]any{}, nil)
		set(t.Plural()+"Count", 0, nil)
		if want[t.Plural()] {
			types = append(types, t)
		}
	}
	if len(types) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := meta.RepoFilter{Search: text, Sort: "downloads", VisibleTo: actor.Namespaces(), SeeAll: !actor.Anonymous() && actor.User.IsAdmin}
			lists, counts, err := s.meta.QuickSearch(r.Context(), f, types, limit+len(p.exclude), quicksearchCountCap)
			for _, t := range types {
				items := []map[string]any{}
				for _, repo := range lists[t] {
					if p.exclude[repo.FullName()] || len(items) == limit {
						continue
					}
					items = append(items, map[string]any{
						"_id": repoObjectID(repo), "id": repo.FullName(), "private": repo.Private,
						"downloads": repo.Downloads, "likes": repo.Likes, "trendingScore": repo.TrendingScore,
					})
				}
				set(t.Plural(), items, err)
				set(t.Plural()+"Count", counts[t], nil)
			}
		}()
	}
	for _, g := range []struct {
		group string
		orgs  bool
	}{{"orgs", true}, {"users", false}} {
		set(g.group, []map[string]any{}, nil)
		if !want[g.group] || text == "" || limit == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			users, err := s.meta.SearchUsers(r.Context(), text, g.orgs, limit+len(p.exclude))
			items := []map[string]any{}
			for i := range users {
				u := &users[i]
				if p.exclude[u.Name] || len(items) == limit {
					continue
				}
				item := map[string]any{"_id": repoObjectIDFor(u.ID), "name": u.Name, "fullname": fullName(u), "avatarUrl": haven.AvatarURL(u.Name)}
				if !g.orgs {
					item["user"] = u.Name
				}
				items = append(items, item)
			}
			set(g.group, items, err)
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		s.writeError(w, r, errs[0])
		return
	}
	out["q"] = text
	writeJSON(w, http.StatusOK, out)
}

// tagGroupTTL is how long the tag groups of a type are reused: counting
// every tag of every repository is too slow to do on each request.
const tagGroupTTL = time.Minute

// tagGroups caches the answer of the tags-by-type endpoints per type.
var tagGroups = struct {
	sync.Mutex
	m map[tagGroupKey]tagGroupEntry
}{m: map[tagGroupKey]tagGroupEntry{}}

type tagGroupKey struct {
	store *meta.Store
	t     haven.RepoType
}

type tagGroupEntry struct {
	groups  map[string][]map[string]any
	expires time.Time
}

// handleTagsByType answers GET /api/models-tags-by-type and
// /api/datasets-tags-by-type: the tags of public repositories grouped as
// pipeline_tag, library, license, language and other, each tag with its
// count, most used first. ?type= keeps one group.
func (s *Server) handleTagsByType(w http.ResponseWriter, r *http.Request, t haven.RepoType) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.writeError(w, r, errNotFound("Not Found"))
		return
	}
	groups, err := s.tagGroups(r.Context(), t)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if only := r.URL.Query().Get("type"); only != "" {
		g, ok := groups[only]
		if !ok {
			s.writeError(w, r, errInvalid("Invalid tag type %q: expected pipeline_tag, library, license, language or other", only))
			return
		}
		groups = map[string][]map[string]any{only: g}
	}
	writeJSON(w, http.StatusOK, groups)
}

func (s *Server) tagGroups(ctx context.Context, t haven.RepoType) (map[string][]map[string]any, error) {
	key := tagGroupKey{s.meta, t}
	tagGroups.Lock()
	e, ok := tagGroups.m[key]
	tagGroups.Unlock()
	if ok && time.Now().Before(e.expires) {
		return e.groups, nil
	}
	counts, err := s.meta.TagCounts(ctx, t)
	if err != nil {
		return nil, err
	}
	groups := map[string][]map[string]any{}
	for _, k := range []string{meta.TagPipeline, meta.TagLibrary, meta.TagLicense, meta.TagLanguage, meta.TagOther} {
		groups[k] = []map[string]any{}
	}
	for _, tc := range counts {
		label := tc.Tag
		if _, v, ok := strings.Cut(tc.Tag, ":"); ok && (tc.Kind == meta.TagLicense || tc.Kind == meta.TagLanguage) {
			label = v
		}
		groups[tc.Kind] = append(groups[tc.Kind], map[string]any{"id": tc.Tag, "label": label, "type": tc.Kind, "count": tc.Count})
	}
	tagGroups.Lock()
	tagGroups.m[key] = tagGroupEntry{groups, time.Now().Add(tagGroupTTL)}
	tagGroups.Unlock()
	return groups, nil
}

// RefreshTrending recomputes the trending scores (and the other windowed
// counters) every interval until ctx ends. Likes and downloads update their
// repository's score at once; this lets old activity drop out of the window.
func (s *Server) RefreshTrending(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.meta.RefreshCounters(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("refreshing trending scores", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// quickSearchParams is what a quick search asks for.
type quickSearchParams struct {
	text    string
	limit   int
	want    map[string]bool // the groups to answer
	exclude map[string]bool // repository ids and user or organisation names to leave out
}

// quickSearchQuery reads a quick search from a query: q, limit, and type
// and exclude, each of which may be given more than once.
func quickSearchQuery(q url.Values) (quickSearchParams, error) {
	limit := q.Get("limit")
	if limit == "" {
		limit = "10"
	}
	return newQuickSearch(q.Get("q"), limit, q["type"], q["exclude"])
}

// quickSearchBody reads a quick search from a POST's JSON body: q, limit,
// type (a name or a list of names) and exclude. The Hub's other filters
// (lang, library, namespace, …) are refused rather than ignored, so that
// no one takes an unfiltered answer for a filtered one.
func quickSearchBody(r *http.Request) (quickSearchParams, error) {
	var body map[string]json.RawMessage
	if err := decodeJSON(r, &body); err != nil {
		return quickSearchParams{}, err
	}
	var (
		q, limit      string
		types, extras []string
	)
	for k, v := range body {
		if string(v) == "null" {
			continue
		}
		var err error
		switch k {
		case "q":
			err = json.Unmarshal(v, &q)
		case "limit":
			var n json.Number
			if err = json.Unmarshal(v, &n); err == nil {
				limit = n.String()
			}
		case "type":
			var one string
			if json.Unmarshal(v, &one) == nil {
				types = []string{one}
			} else {
				err = json.Unmarshal(v, &types)
			}
		case "exclude":
			err = json.Unmarshal(v, &extras)
		default:
			return quickSearchParams{}, errInvalid("Quick search by %q is not supported by this server", k)
		}
		if err != nil {
			return quickSearchParams{}, errInvalid("Invalid %q in quick search: %v", k, err)
		}
	}
	if limit == "" {
		limit = "10"
	}
	return newQuickSearch(q, limit, types, extras)
}

func newQuickSearch(q, limit string, types, exclude []string) (quickSearchParams, error) {
	p := quickSearchParams{text: strings.TrimSpace(q)}
	n, err := strconv.Atoi(limit)
	if err != nil || n < 0 {
		return p, errInvalid("Invalid limit %q: expected a number from 0 to %d", limit, quicksearchMax)
	}
	p.limit = min(n, quicksearchMax)
	p.want = map[string]bool{"models": true, "datasets": true, "spaces": true, "orgs": true, "users": true}
	if len(types) > 0 {
		p.want = map[string]bool{}
		for _, t := range types {
			group, ok := quickSearchTypes[strings.ToLower(t)]
			if !ok {
				return p, errInvalid("Invalid type %q: expected model, dataset, space, org or user", t)
			}
			p.want[group] = true
		}
	}
	if len(exclude) > quicksearchMax {
		return p, errInvalid("Invalid exclude: at most %d ids", quicksearchMax)
	}
	p.exclude = map[string]bool{}
	for _, id := range exclude {
		p.exclude[id] = true
	}
	return p, nil
}
