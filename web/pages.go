package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/meta"
)

// visible narrows a filter to what the actor may see.
func visible(a *auth.Actor, f meta.RepoFilter) meta.RepoFilter {
	f.VisibleTo = a.Namespaces()
	f.SeeAll = !a.Anonymous() && a.User.IsAdmin
	return f
}

func pluralLabel(t haven.RepoType) string { return typeLabel(t) + "s" }

type homeSection struct {
	Type     haven.RepoType
	Label    string
	Trending []*haven.Repo
	Recent   []*haven.Repo
}

type homeData struct{ Sections []homeSection }

// home answers GET /: trending and recently updated repositories of each type.
func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	a := actorOf(r)
	var d homeData
	for _, t := range haven.RepoTypes {
		sec := homeSection{Type: t, Label: pluralLabel(t)}
		var err error
		sec.Trending, err = h.meta.ListRepos(r.Context(), visible(a, meta.RepoFilter{Type: t, Sort: "trendingScore", Limit: 5}))
		if err == nil {
			sec.Recent, err = h.meta.ListRepos(r.Context(), visible(a, meta.RepoFilter{Type: t, Sort: "lastModified", Limit: 5}))
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		d.Sections = append(d.Sections, sec)
	}
	h.render(w, r, http.StatusOK, "home", "", d)
}

// listSorts maps the sort names of the listing pages to RepoFilter sorts.
var listSorts = []struct{ Value, Label, Sort string }{
	{"trending", "Trending", "trendingScore"},
	{"downloads", "Most downloads", "downloads"},
	{"likes", "Most likes", "likes"},
	{"updated", "Recently updated", "lastModified"},
	{"created", "Recently created", "createdAt"},
	{"cardScore", "Best documented", "cardScore"}, // models and datasets: Spaces' cards are not scored
}

// facetParams are the listing parameters that filter by tag, with the kind
// of tag each offers and how a value becomes a stored tag.
var facetParams = []struct{ Param, Kind, Label, Prefix string }{
	{"pipeline_tag", meta.TagPipeline, "Tasks", ""},
	{"library", meta.TagLibrary, "Libraries", ""},
	{"license", meta.TagLicense, "Licenses", "license:"},
	{"language", meta.TagLanguage, "Languages", "language:"},
	{"tag", meta.TagOther, "Other tags", ""},
}

type option struct {
	Value, Label string
	Selected     bool
}

type facetItem struct {
	Label string
	Count int64
	URL   string
	On    bool
}

type facetGroup struct {
	Label string
	Items []facetItem
}

type pageLink struct {
	N       int
	URL     string
	Current bool
}

type listingData struct {
	Type           haven.RepoType
	Label          string
	Repos          []*haven.Repo
	Total          int
	More           bool // there are more than Total
	Search, Author string
	Sort           string
	Sorts          []option
	Facets         []facetGroup
	Active         []facetItem
	Pages          []pageLink
	Prev, Next     string
	Hidden         map[string][]string // tag filters kept when the toolbar is sent
	Stages         map[int64]string    // the stage of each Space's app
}

// countCap bounds the counting of search results: beyond it a page says
// "10000+", which keeps broad searches as fast as narrow ones.
const countCap = 10_000

// listPageSize is the number of repositories per listing page.
const listPageSize = 30

// maxFacetItems bounds the tags offered per group.
const maxFacetItems = 40

// listing answers GET /models, /datasets and /spaces: search, tag filters,
// author, sort and pages.
func (h *Handler) listing(w http.ResponseWriter, r *http.Request, t haven.RepoType) {
	q := r.URL.Query()
	d := listingData{Type: t, Label: pluralLabel(t), Search: strings.TrimSpace(q.Get("search")), Author: strings.TrimSpace(q.Get("author"))}
	f := meta.RepoFilter{Type: t, Search: d.Search, Author: d.Author, Sort: "trendingScore"}
	d.Sort = "trending"
	for _, s := range listSorts {
		if s.Sort == "cardScore" && t == haven.Space {
			continue
		}
		if q.Get("sort") == s.Value {
			d.Sort, f.Sort = s.Value, s.Sort
		}
		d.Sorts = append(d.Sorts, option{s.Value, s.Label, false})
	}
	for i := range d.Sorts {
		d.Sorts[i].Selected = d.Sorts[i].Value == d.Sort
	}
	active := map[string]bool{} // stored tag → filtered on
	d.Hidden = map[string][]string{}
	for _, fp := range facetParams {
		for _, v := range q[fp.Param] {
			if v = strings.TrimSpace(v); v == "" {
				continue
			}
			d.Hidden[fp.Param] = append(d.Hidden[fp.Param], v)
			tag := fp.Prefix + v
			f.Tags = append(f.Tags, tag)
			active[tag] = true
			d.Active = append(d.Active, facetItem{Label: v, URL: toggleParam(q, fp.Param, v), On: true})
		}
	}
	// "filter" takes stored tags as they are, like the API's listings (the
	// model tree links to "base_model:{relation}:{id}").
	for _, v := range q["filter"] {
		if v = strings.TrimSpace(v); v != "" {
			d.Hidden["filter"] = append(d.Hidden["filter"], v)
			f.Tags = append(f.Tags, v)
			active[v] = true
			d.Active = append(d.Active, facetItem{Label: v, URL: toggleParam(q, "filter", v), On: true})
		}
	}
	pageNo, _ := strconv.Atoi(q.Get("p"))
	pageNo = max(pageNo, 1)
	f.Offset, f.Limit = (pageNo-1)*listPageSize, listPageSize
	f = visible(actorOf(r), f)
	// The page and its count are independent queries: side by side, the
	// database's readers work on both at once.
	var (
		wg       sync.WaitGroup
		countErr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.Total, countErr = h.meta.CountReposUpTo(r.Context(), f, countCap+1)
	}()
	var err error
	d.Repos, err = h.meta.ListRepos(r.Context(), f)
	wg.Wait()
	d.More = d.Total > countCap
	d.Total = min(d.Total, countCap)
	if err == nil {
		err = countErr
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if d.Stages, err = h.spaceStages(r.Context(), d.Repos); err != nil {
		h.fail(w, r, err)
		return
	}
	counts, err := h.facets.get(r.Context(), h.meta, t)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	for _, fp := range facetParams {
		if t != haven.Model && fp.Kind == meta.TagPipeline {
			continue // datasets and Spaces have no pipeline tags
		}
		g := facetGroup{Label: fp.Label}
		for _, tc := range counts {
			if tc.Kind != fp.Kind || len(g.Items) >= maxFacetItems {
				continue
			}
			v := strings.TrimPrefix(tc.Tag, fp.Prefix)
			g.Items = append(g.Items, facetItem{Label: v, Count: tc.Count, URL: toggleParam(q, fp.Param, v), On: active[tc.Tag]})
		}
		if len(g.Items) > 0 {
			d.Facets = append(d.Facets, g)
		}
	}
	d.Pages, d.Prev, d.Next = pager(q, pageNo, d.Total, listPageSize)
	h.render(w, r, http.StatusOK, "listing", d.Label, d)
}

// toggleParam returns "?query" with value v of key added, or removed when
// present, and the page number reset.
func toggleParam(q url.Values, key, v string) string {
	out := url.Values{}
	for k, vs := range q {
		if k != "p" {
			out[k] = append([]string(nil), vs...)
		}
	}
	vals, found := out[key], false
	var kept []string
	for _, x := range vals {
		if x == v {
			found = true
			continue
		}
		kept = append(kept, x)
	}
	if !found {
		kept = append(kept, v)
	}
	if len(kept) == 0 {
		delete(out, key)
	} else {
		out[key] = kept
	}
	if len(out) == 0 {
		return "?"
	}
	return "?" + out.Encode()
}

// pager builds page links around the current page.
func pager(q url.Values, current, total, size int) (links []pageLink, prev, next string) {
	pages := (total + size - 1) / size
	if pages <= 1 {
		return nil, "", ""
	}
	at := func(n int) string {
		out := url.Values{}
		for k, vs := range q {
			out[k] = vs
		}
		out.Set("p", strconv.Itoa(n))
		return "?" + out.Encode()
	}
	lo, hi := max(current-3, 1), min(current+3, pages)
	for n := lo; n <= hi; n++ {
		links = append(links, pageLink{N: n, URL: at(n), Current: n == current})
	}
	if current > 1 {
		prev = at(current - 1)
	}
	if current < pages {
		next = at(current + 1)
	}
	return links, prev, next
}

// facetCache keeps the tag counts of each type for a minute: counting
// every tag of every repository is too slow to do on each listing.
type facetCache struct {
	mu sync.Mutex
	m  map[haven.RepoType]facetEntry
}

type facetEntry struct {
	counts  []meta.TagCount
	expires time.Time
}

const facetTTL = time.Minute

func (c *facetCache) get(ctx context.Context, m *meta.Store, t haven.RepoType) ([]meta.TagCount, error) {
	c.mu.Lock()
	e, ok := c.m[t]
	c.mu.Unlock()
	if ok && time.Now().Before(e.expires) {
		return e.counts, nil
	}
	counts, err := m.TagCounts(ctx, t)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = map[haven.RepoType]facetEntry{}
	}
	c.m[t] = facetEntry{counts, time.Now().Add(facetTTL)}
	c.mu.Unlock()
	return counts, nil
}

type profileSection struct {
	Type  haven.RepoType
	Label string
	Repos []*haven.Repo
	Total int
}

type profileData struct {
	User     *haven.User
	Sections []profileSection
	Members  []haven.User
	Orgs     []haven.Membership
	IsMe     bool
	// MembersURL links to the members page, for the organisation's members
	// and the hub's administrators, who may open it.
	MembersURL string
	Extra      profileExtra
}

// profileRepoLimit bounds the repositories listed per type on a profile.
const profileRepoLimit = 60

// profile answers GET /{name}: a user's or organisation's repositories.
func (h *Handler) profile(w http.ResponseWriter, r *http.Request, name string) {
	u, err := h.meta.UserByName(r.Context(), name)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	a := actorOf(r)
	d := profileData{User: u, IsMe: !a.Anonymous() && a.User.ID == u.ID}
	for _, t := range haven.RepoTypes {
		f := visible(a, meta.RepoFilter{Type: t, Author: u.Name, Sort: "lastModified", Limit: profileRepoLimit})
		sec := profileSection{Type: t, Label: pluralLabel(t)}
		if sec.Repos, err = h.meta.ListRepos(r.Context(), f); err == nil {
			sec.Total, err = h.meta.CountReposUpTo(r.Context(), f, countCap)
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		d.Sections = append(d.Sections, sec)
	}
	if u.IsOrg {
		d.Members, _, err = h.meta.Members(r.Context(), u.ID)
		if !a.Anonymous() && (a.User.IsAdmin || a.Orgs[strings.ToLower(u.Name)] != "") {
			d.MembersURL = membersURL(u.Name)
		}
	} else {
		d.Orgs, err = h.meta.Memberships(r.Context(), u.ID)
	}
	if err == nil {
		d.Extra, err = h.profileExtras(r, u)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "profile", u.Name, d)
}

type newRepoData struct {
	Owners []string
	Type   string
}

// newRepo answers GET /new: the form whose script calls /api/repos/create.
func (h *Handler) newRepo(w http.ResponseWriter, r *http.Request) {
	a := actorOf(r)
	if a.Anonymous() {
		h.fail(w, r, haven.Errorf(haven.EUnauthorized, "Sign in to create a repository."))
		return
	}
	d := newRepoData{Owners: []string{a.User.Name}, Type: "model"}
	ms, err := h.meta.Memberships(r.Context(), a.User.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	for _, m := range ms {
		if m.Role == meta.RoleAdmin || m.Role == meta.RoleWrite {
			d.Owners = append(d.Owners, m.Org.Name)
		}
	}
	if t, err := haven.ParseRepoType(r.URL.Query().Get("type")); err == nil {
		d.Type = string(t)
	}
	h.render(w, r, http.StatusOK, "newrepo", "New repository", d)
}
