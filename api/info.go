package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/card"
	"github.com/havenhub/haven/gitstore"
	"github.com/havenhub/haven/hubhttp"
	"github.com/havenhub/haven/meta"
)

type syncMutex = sync.Mutex

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// expandParams returns the requested properties ("expand" and "expand[]"
// are one key); nil means "the default set".
func expandParams(r *http.Request) map[string]bool {
	if q := r.URL.RawQuery; !strings.Contains(q, "expand") && !strings.Contains(q, "%") {
		return nil // nothing to parse for: most requests
	}
	q := r.URL.Query()
	vals := append(q["expand"], q["expand[]"]...)
	if len(vals) == 0 {
		return nil
	}
	m := map[string]bool{}
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				m[p] = true
			}
		}
	}
	return m
}

// repoFields renders the metadata fields shared by repo info and listings.
func (s *Server) repoFields(repo *haven.Repo) map[string]any {
	tags := repo.Tags
	if tags == nil {
		tags = []string{}
	}
	m := map[string]any{
		"_id":              repoObjectID(repo),
		"id":               repo.FullName(),
		"author":           repo.Namespace,
		"private":          repo.Private,
		"gated":            gatedValue(repo.Gated),
		"disabled":         false,
		"downloads":        repo.Downloads,
		"downloadsAllTime": repo.DownloadsAllTime,
		"likes":            repo.Likes,
		"trendingScore":    repo.TrendingScore,
		"tags":             tags,
		"createdAt":        haven.FormatTime(repo.CreatedAt),
		"lastModified":     haven.FormatTime(repo.UpdatedAt),
		"usedStorage":      repo.UsedStorage,
		"sha":              repo.SHA,
		"xetEnabled":       s.xetOn,
	}
	if repo.CardData != nil {
		m["cardData"] = repo.CardData
	}
	if repo.CardError != "" {
		// Not a field of the Hub's: the clients ignore it, and it says why
		// cardData is missing.
		m["cardDataError"] = repo.CardError
	}
	switch repo.Type {
	case haven.Model:
		if repo.PipelineTag != "" {
			m["pipeline_tag"] = repo.PipelineTag
		}
		if repo.LibraryName != "" {
			m["library_name"] = repo.LibraryName
		}
		if bm := baseModelsField(repo); bm != nil {
			m["baseModels"] = bm
		}
	case haven.Dataset:
		if d, ok := repo.CardData["pretty_name"].(string); ok {
			m["description"] = d
		}
	case haven.Space:
		m["sdk"] = repo.SDK
		if s.spaces != nil {
			for k, v := range s.spaces.Describe(context.Background(), repo) {
				m[k] = v
			}
		} else {
			m["subdomain"] = strings.ToLower(strings.ReplaceAll(repo.FullName(), "/", "-"))
			m["runtime"] = map[string]any{"stage": "NO_APP_FILE", "hardware": map[string]any{"current": nil, "requested": nil}}
		}
	}
	return m
}

// filterExpand keeps only the requested properties, plus "_id" and "id".
func filterExpand(m map[string]any, expand map[string]bool) map[string]any {
	if expand == nil {
		return m
	}
	out := map[string]any{"_id": m["_id"], "id": m["id"]}
	for k := range expand {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	return out
}

// handleRepoInfo answers GET /api/{types}/{id} and /revision/{rev}.
func (s *Server) handleRepoInfo(w http.ResponseWriter, r *http.Request, repo *haven.Repo, segs []string) {
	rev := strings.Join(segs, "/")
	if rev == "" {
		rev = repo.DefaultBranch()
	}
	// A hot repository answers from the cache without touching git. A
	// Space's answer embeds its app's runtime, which changes without commits.
	// So does whether a model is loaded.
	expand := expandParams(r)
	// The author's profile and followers change without commits too.
	cacheable := (repo.Type != haven.Space || s.spaces == nil) && !expand["inference"] && !expand["childrenModelCount"] && !expand["authorData"]
	var kb [256]byte
	if sha, ok := s.cache.rev(repo.ID, rev); ok && cacheable {
		if b, ok := s.cache.renderKey(infoKey(kb[:0], repo, sha, r)); ok {
			writeJSONBytes(w, http.StatusOK, b)
			return
		}
	}
	g, sha, err := s.openRev(r.Context(), repo, rev)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	key := string(infoKey(kb[:0], repo, sha, r))
	if b, ok := s.cache.render(key); ok && cacheable {
		writeJSONBytes(w, http.StatusOK, b)
		return
	}
	m := s.repoFields(repo)
	m["sha"] = sha
	if st := s.safetensorsField(r.Context(), repo); st != nil {
		m["safetensors"] = st
	}
	if expand["childrenModelCount"] && repo.Type == haven.Model {
		// Public descendants only: cached answers carry no identity.
		n, err := s.meta.ChildrenModelCount(r.Context(), repo.FullName())
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		m["childrenModelCount"] = n
	}
	if sha != repo.SHA {
		// Another revision: its own date and card.
		if c, err := g.CommitInfo(sha); err == nil {
			m["lastModified"] = haven.FormatTime(c.Author.When)
		}
		delete(m, "cardData")
		if readme, err := g.ReadFile(sha, "README.md"); err == nil {
			if cd, err := card.Parse(readme); err == nil && cd.Data != nil {
				m["cardData"] = cd.Data
			}
		}
	}
	s.inferenceFields(m, repo, expand, false)
	if expand["authorData"] {
		if a := s.authorData(r.Context(), repo.Namespace, map[string]map[string]any{}); a != nil {
			m["authorData"] = a
		}
	}
	blobs := flag(r.URL.Query().Get("blobs"))
	if expand == nil || expand["siblings"] {
		sibs, err := s.siblingsJSON(repo, g, sha, blobs)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		m["siblings"] = sibs
	}
	b, err := marshalJSON(filterExpand(m, expand))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if cacheable {
		s.cache.putRender(key, b)
	}
	writeJSONBytes(w, http.StatusOK, b)
}

// infoKey names a rendered repo info answer: it depends only on the commit,
// the row's counters and the query. It is appended to b, so that a hit in
// the cache (renderKey) allocates nothing.
func infoKey(b []byte, repo *haven.Repo, sha string, r *http.Request) []byte {
	b = append(b, "info\x00"...)
	b = strconv.AppendInt(b, repo.ID, 10)
	b = append(append(append(b, 0), sha...), 0)
	b = append(append(b, repo.SHA...), 0)
	b = append(strconv.AppendBool(b, repo.Private), 0)
	b = append(append(b, repo.Gated...), 0)
	for _, n := range []int64{repo.Likes, repo.Downloads, repo.DownloadsAllTime, repo.TrendingScore, repo.UpdatedAt.UnixNano()} {
		b = append(strconv.AppendInt(b, n, 10), 0)
	}
	return append(b, r.URL.RawQuery...)
}

// siblingsJSON renders the file list of a commit once per commit.
func (s *Server) siblingsJSON(repo *haven.Repo, g *gitstore.Repo, sha string, blobs bool) (json.RawMessage, error) {
	key := fmt.Sprintf("siblings\x00%d\x00%s\x00%t", repo.ID, sha, blobs)
	if b, ok := s.cache.render(key); ok {
		return b, nil
	}
	entries, err := s.listTree(repo, g, sha, "", true)
	if err != nil {
		return nil, err
	}
	siblings := make([]map[string]any, 0, len(entries))
	for _, e := range entries {
		if e.Type != "file" {
			continue
		}
		sib := map[string]any{"rfilename": e.Path}
		if blobs {
			te := s.toTreeEntry(g, e)
			sib["size"] = te.Size
			sib["blobId"] = e.OID
			if te.LFS != nil {
				sib["lfs"] = map[string]any{"sha256": te.LFS.OID, "size": te.LFS.Size, "pointerSize": te.LFS.PointerSize}
			}
		}
		siblings = append(siblings, sib)
	}
	b, err := marshalJSON(siblings)
	if err != nil {
		return nil, err
	}
	s.cache.putRender(key, b)
	return b, nil
}

// handleListRepos answers GET /api/models, /api/datasets and /api/spaces.
func (s *Server) handleListRepos(w http.ResponseWriter, r *http.Request, t haven.RepoType) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.writeError(w, r, errNotFound("Not Found"))
		return
	}
	q := r.URL.Query()
	actor := actorOf(r)
	f := meta.RepoFilter{
		Type:      t,
		Search:    strings.Join(q["search"], " "),
		Author:    q.Get("author"),
		Sort:      q.Get("sort"),
		VisibleTo: actor.Namespaces(),
		SeeAll:    !actor.Anonymous() && actor.User.IsAdmin,
	}
	for _, v := range q["filter"] {
		for _, tag := range strings.Split(v, ",") {
			if tag = strings.TrimSpace(tag); tag != "" {
				f.Tags = append(f.Tags, tag)
			}
		}
	}
	for _, key := range []string{"pipeline_tag", "library", "language", "license", "task_categories", "size_categories"} {
		if v := q.Get(key); v != "" {
			switch key {
			case "pipeline_tag", "library":
				f.Tags = append(f.Tags, v)
			default:
				f.Tags = append(f.Tags, key+":"+v)
			}
		}
	}
	if g := q.Get("gated"); g != "" {
		b := flag(g)
		f.Gated = &b
	}
	if v := q.Get("cardScore") + q.Get("cardScore>"); v != "" {
		// cardScore=80, cardScore=>=80 or cardScore>=80: repositories whose
		// card scores at least that much.
		f.MinCardScore, _ = strconv.Atoi(strings.TrimPrefix(v, ">="))
	}
	switch f.Sort {
	case "", "lastModified", "createdAt", "downloads", "likes", "trendingScore", "id", "updatedAt", "cardScore":
	case "likes30d":
		f.Sort = "likes"
	default:
		f.Sort = ""
	}
	pageSize := 1000
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 && n < pageSize {
		pageSize = n
	}
	f.Offset = cursorOffset(q.Get("cursor"))
	f.Limit = pageSize + 1
	expand := expandParams(r)
	full := flag(q.Get("full"))
	withCard := flag(q.Get("cardData"))
	// The default item (no expansion, card or full) is written directly
	// (appendBriefItem) rather than built as a map and encoded: a page of
	// 1000 of them spent most of its time there. A model's brief item reads
	// only a few columns; datasets take their description from the card,
	// and a Space's runtime comes from the Spaces service.
	brief := expand == nil && !full && !withCard && t != haven.Space
	f.Brief = brief && t == haven.Model
	read := func() (listingEntry, bool, error) {
		return s.readListPage(r, t, f, pageSize, expand, full, withCard, brief)
	}
	// A page of default items depends on the rows alone (and on who asks,
	// which the key holds), so it is kept under the repositories' change
	// count and answered again while that stays.
	var (
		page    listingEntry
		err     error
		changes int64
		counted bool
	)
	if brief {
		changes, counted, err = s.meta.RepoChanges(r.Context())
	}
	if counted && err == nil {
		page, err = s.cachedListPage(r.Context(), listingKey(f), changes, read)
	} else {
		page, _, err = read()
	}
	switch {
	case errors.Is(err, errUnencodable):
		hubhttp.WriteUnencodable(w)
		return
	case err != nil:
		s.writeError(w, r, err)
		return
	}
	if page.next {
		s.setNextLink(w, r, f.Offset+pageSize)
	}
	writeJSONBytes(w, http.StatusOK, page.body)
}

// errUnencodable is a listing's item that encoding/json refuses (a NaN in
// a card).
var errUnencodable = errors.New("api: the answer could not be encoded")

// errReadEnded is the result of a listing's read that ended without one.
var errReadEnded = errors.New("api: the listing's read ended early")

// readListPage reads and encodes a listing's page; keep says whether it
// may be kept under the repository change count.
func (s *Server) readListPage(r *http.Request, t haven.RepoType, f meta.RepoFilter, pageSize int, expand map[string]bool, full, withCard, brief bool) (page listingEntry, keep bool, err error) {
	repos, err := s.meta.ListRepos(r.Context(), f)
	if err != nil {
		return listingEntry{}, false, err
	}
	lastPage := len(repos) <= pageSize
	if len(repos) > pageSize {
		repos = repos[:pageSize]
	}
	// A default item takes about 300 bytes: one allocation rather than a
	// dozen as the page grows.
	b := append(make([]byte, 0, 2+len(repos)*384), '[')
	authors := map[string]map[string]any{}
	for i, repo := range repos {
		if i > 0 {
			b = append(b, ',')
		}
		if brief {
			b = appendBriefItem(b, repo)
			continue
		}
		if b, err = hubhttp.AppendJSON(b, s.listItem(r, repo, expand, full, withCard, authors)); err != nil {
			return listingEntry{}, false, errUnencodable
		}
	}
	// The fallback's repositories come and go apart from the count.
	_, lists := s.fallback.(FallbackLister)
	keep = !(lastPage && lists)
	if lastPage && len(f.Tags) == 0 && f.Gated == nil && f.MinCardScore == 0 {
		for _, m := range s.fallbackRepos(r, t, f.Search, f.Author, expand) {
			if len(b) > 1 {
				b = append(b, ',')
			}
			if b, err = hubhttp.AppendJSON(b, m); err != nil {
				return listingEntry{}, false, errUnencodable
			}
		}
	}
	return listingEntry{body: append(b, "]\n"...), next: !lastPage}, keep, nil
}

// cachedListPage answers a page kept under the repository change count
// changes, or reads it. Requests for a page that is being read wait for
// that read rather than read it too: right after a change, every request
// for a popular page misses at once.
func (s *Server) cachedListPage(ctx context.Context, key string, changes int64, read func() (listingEntry, bool, error)) (listingEntry, error) {
	if page, hit := s.cache.listing(key, changes); hit {
		return page, nil
	}
	fl, first := s.cache.joinListing(key, changes)
	if !first {
		select {
		case <-fl.done:
			if fl.err == nil {
				return fl.page, nil
			}
			// The first read failed, perhaps only for its own request
			// (gone away): read on this one's.
			page, _, err := read()
			return page, err
		case <-ctx.Done():
			return listingEntry{}, ctx.Err()
		}
	}
	fl.err = errReadEnded // until read returns: it may panic
	defer s.cache.endListing(key, changes, fl)
	page, keep, err := read()
	page.changes = changes
	fl.page, fl.keep, fl.err = page, keep, err
	return page, err
}

// listingKey identifies a listing's page by everything that selects and
// orders its rows, who asks included.
func listingKey(f meta.RepoFilter) string {
	var b strings.Builder
	field := func(s string) {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	field(string(f.Type))
	field(f.Search)
	field(f.Author)
	field(f.Sort)
	b.WriteString(strconv.Itoa(len(f.Tags)))
	b.WriteByte('|')
	for _, tag := range f.Tags {
		field(tag)
	}
	switch {
	case f.Gated == nil:
		b.WriteByte('-')
	case *f.Gated:
		b.WriteByte('t')
	default:
		b.WriteByte('f')
	}
	fmt.Fprintf(&b, "%d,%d,%d,%t,%t,%d|", f.MinCardScore, f.Offset, f.Limit, f.SeeAll, f.Brief, len(f.VisibleTo))
	for _, ns := range f.VisibleTo {
		field(ns)
	}
	return b.String()
}

// listItem is a listing's item for repo as a map, with the fields that
// expand, full and withCard ask for.
func (s *Server) listItem(r *http.Request, repo *haven.Repo, expand map[string]bool, full, withCard bool, authors map[string]map[string]any) map[string]any {
	m := s.repoFields(repo)
	if expand["authorData"] {
		if a := s.authorData(r.Context(), repo.Namespace, authors); a != nil {
			m["authorData"] = a
		}
	}
	if expand == nil {
		delete(m, "usedStorage")
		delete(m, "downloadsAllTime")
		delete(m, "disabled")
		delete(m, "xetEnabled")
		delete(m, "runtime")
		delete(m, "baseModels")
		if !withCard && !full {
			delete(m, "cardData")
		}
		if !full {
			delete(m, "sha")
		}
	}
	if full || (expand != nil && expand["siblings"]) {
		if sibs, err := s.siblingNames(r, repo); err == nil {
			m["siblings"] = sibs
		}
	}
	if expand["safetensors"] {
		if st := s.safetensorsField(r.Context(), repo); st != nil {
			m["safetensors"] = st
		}
	}
	s.inferenceFields(m, repo, expand, true)
	return filterExpand(m, expand)
}

// appendBriefItem appends the default listing item of a model or dataset,
// the bytes that encoding listItem's map (no expansion, card or full)
// gives: its keys in sorted order. TestBriefItemMatchesMap holds the two
// together.
func appendBriefItem(b []byte, repo *haven.Repo) []byte {
	b = append(b, `{"_id":"`...)
	b = appendObjectID(b, repo.ID)
	b = append(b, `","author":`...)
	b = hubhttp.AppendJSONString(b, repo.Namespace)
	if repo.CardError != "" {
		b = append(b, `,"cardDataError":`...)
		b = hubhttp.AppendJSONString(b, repo.CardError)
	}
	b = append(b, `,"createdAt":`...)
	b = appendTime(b, repo.CreatedAt)
	if repo.Type == haven.Dataset {
		if d, ok := repo.CardData["pretty_name"].(string); ok {
			b = append(b, `,"description":`...)
			b = hubhttp.AppendJSONString(b, d)
		}
	}
	b = append(b, `,"downloads":`...)
	b = strconv.AppendInt(b, repo.Downloads, 10)
	b = append(b, `,"gated":`...)
	if repo.Gated == "" {
		b = append(b, "false"...)
	} else {
		b = hubhttp.AppendJSONString(b, repo.Gated)
	}
	b = append(b, `,"id":`...)
	b = appendFullName(b, repo)
	b = append(b, `,"lastModified":`...)
	b = appendTime(b, repo.UpdatedAt)
	if repo.Type == haven.Model && repo.LibraryName != "" {
		b = append(b, `,"library_name":`...)
		b = hubhttp.AppendJSONString(b, repo.LibraryName)
	}
	b = append(b, `,"likes":`...)
	b = strconv.AppendInt(b, repo.Likes, 10)
	if repo.Type == haven.Model && repo.PipelineTag != "" {
		b = append(b, `,"pipeline_tag":`...)
		b = hubhttp.AppendJSONString(b, repo.PipelineTag)
	}
	b = append(b, `,"private":`...)
	b = strconv.AppendBool(b, repo.Private)
	b = append(b, `,"tags":[`...)
	for i, tag := range repo.Tags {
		if i > 0 {
			b = append(b, ',')
		}
		b = hubhttp.AppendJSONString(b, tag)
	}
	b = append(b, `],"trendingScore":`...)
	b = strconv.AppendInt(b, repo.TrendingScore, 10)
	return append(b, '}')
}

// appendTime appends haven.FormatTime(t) as a JSON string, without
// parsing the layout for each of a page's 2000 times.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		b = append(b, '"')
		b = t.AppendFormat(b, haven.TimeFormat)
		return append(b, '"')
	}
	hour, minute, sec := t.Clock()
	ms := t.Nanosecond() / 1e6
	d := [26]byte{'"', byte('0' + year/1000), byte('0' + year/100%10), byte('0' + year/10%10), byte('0' + year%10), '-',
		byte('0' + month/10), byte('0' + month%10), '-', byte('0' + day/10), byte('0' + day%10), 'T',
		byte('0' + hour/10), byte('0' + hour%10), ':', byte('0' + minute/10), byte('0' + minute%10), ':',
		byte('0' + sec/10), byte('0' + sec%10), '.', byte('0' + ms/100), byte('0' + ms/10%10), byte('0' + ms%10), 'Z', '"'}
	return append(b, d[:]...)
}

// appendObjectID appends repoObjectID's 24 digits.
func appendObjectID(b []byte, id int64) []byte {
	var d [20]byte
	n := strconv.AppendInt(d[:0], id, 10)
	for range 24 - len(n) {
		b = append(b, '0')
	}
	return append(b, n...)
}

// appendFullName appends "namespace/name" as a JSON string.
func appendFullName(b []byte, repo *haven.Repo) []byte {
	if plainJSON(repo.Namespace) && plainJSON(repo.Name) {
		b = append(b, '"')
		b = append(b, repo.Namespace...)
		b = append(b, '/')
		b = append(b, repo.Name...)
		return append(b, '"')
	}
	return hubhttp.AppendJSONString(b, repo.FullName())
}

// plainJSON reports whether s is printable ASCII that a JSON string holds
// as it is.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			return false
		}
	}
	return true
}

func (s *Server) siblingNames(r *http.Request, repo *haven.Repo) ([]map[string]any, error) {
	g, sha, err := s.openRev(r.Context(), repo, "")
	if err != nil {
		return nil, err
	}
	entries, err := s.listTree(repo, g, sha, "", true)
	if err != nil {
		return nil, err
	}
	sibs := []map[string]any{}
	for _, e := range entries {
		if e.Type == "file" {
			sibs = append(sibs, map[string]any{"rfilename": e.Path})
		}
	}
	return sibs, nil
}
