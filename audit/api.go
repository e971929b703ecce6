package audit

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/hubhttp"
	"github.com/havenhub/haven/meta"
)

var _ api.Routes = (*Service)(nil)

// RepoAction implements api.Routes; the audit log has no repository
// actions.
func (s *Service) RepoAction(haven.RepoType, string, string) api.RepoHandler { return nil }

// API serves /api/organizations/{org}/audit-log[/export] and
// /api/users/{name}/audit-log[/export]; the core leaves it the other paths
// under those prefixes, which are not found.
func (s *Service) API(first string) http.Handler {
	if first != "organizations" && first != "users" {
		return nil
	}
	return http.HandlerFunc(s.serveAPI)
}

func (s *Service) writeError(w http.ResponseWriter, r *http.Request, err error) {
	hubhttp.WriteError(s.cfg.Logger, w, r, err)
}

func (s *Service) serveAPI(w http.ResponseWriter, r *http.Request) {
	segs := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")[1:]
	if len(segs) < 3 || len(segs) > 4 || segs[2] != "audit-log" || (len(segs) == 4 && segs[3] != "export") {
		s.writeError(w, r, haven.Errorf(haven.ENotFound, "Not Found"))
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.writeError(w, r, haven.Errorf(haven.ENotFound, "Not Found"))
		return
	}
	ns, err := url.PathUnescape(segs[1])
	if err != nil {
		s.writeError(w, r, haven.Errorf(haven.EInvalid, "Invalid URL path"))
		return
	}
	a := hubhttp.Actor(r)
	if err := auth.CanReadAuditLog(a, ns); err != nil {
		s.writeError(w, r, err)
		return
	}
	owner, err := s.cfg.Meta.UserByName(r.Context(), ns)
	if err != nil || owner.IsOrg != (segs[0] == "organizations") {
		s.writeError(w, r, haven.Errorf(haven.ENotFound, "%s not found", ns))
		return
	}
	q := r.URL.Query()
	f, err := Filter(q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f.Namespace = owner.Name
	if f.Action == "" {
		// Reading the log is logged, but out of the default view, as on
		// the Hub: it would bury the actions people look for.
		f.Exclude = []string{haven.AuditLogExport}
	}
	// /export is the Hub's path (a JSON array); format=jsonl and the
	// ndjson Accept type ask for JSON Lines, one entry a line.
	export := len(segs) == 4 || q.Get("format") == "jsonl" || strings.Contains(r.Header.Get("Accept"), "application/x-ndjson")
	if export && q.Get("limit") == "" {
		f.Limit = meta.MaxAuditLimit
	}
	entries, err := s.cfg.Meta.AuditEntries(r.Context(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if export {
		hubhttp.Audit(s, r, haven.AuditEntry{Action: haven.AuditLogExport, Namespace: owner.Name,
			TargetType: haven.AuditTargetUser, Target: owner.Name, Details: map[string]any{"count": len(entries)}})
		s.writeLines(w, r, owner.Name, entries, len(segs) == 4 && q.Get("format") != "jsonl")
		return
	}
	if len(entries) == f.Limit {
		next := url.Values{}
		for k, v := range q {
			next[k] = v
		}
		next.Set("cursor", entries[len(entries)-1].ID)
		w.Header().Set("Link", "<"+s.cfg.PublicURL+r.URL.EscapedPath()+"?"+next.Encode()+`>; rel="next"`)
	}
	out := make([]map[string]any, 0, len(entries))
	for _, e := range entries {
		out = append(out, JSON(e))
	}
	hubhttp.WriteJSON(w, http.StatusOK, out)
}

// Filter reads the filters of a listing from its query: action, from, to,
// limit and cursor.
func Filter(q url.Values) (haven.AuditFilter, error) {
	f := haven.AuditFilter{Action: q.Get("action"), Before: q.Get("cursor"), Limit: meta.DefaultAuditLimit}
	var err error
	if f.From, err = ParseTime(q.Get("from"), false); err != nil {
		return f, err
	}
	if f.To, err = ParseTime(q.Get("to"), true); err != nil {
		return f, err
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return f, haven.Errorf(haven.EInvalid, "Invalid limit %q", v)
		}
		f.Limit = min(n, meta.MaxAuditLimit)
	}
	return f, nil
}

// writeLines answers the export: JSON Lines by default, or one JSON array
// for the Hub's /audit-log/export, as a file to save.
func (s *Service) writeLines(w http.ResponseWriter, r *http.Request, ns string, entries []*haven.AuditEntry, array bool) {
	h := w.Header()
	ext := "jsonl"
	if array {
		h.Set("Content-Type", "application/json; charset=utf-8")
		ext = "json"
	} else {
		h.Set("Content-Type", "application/x-ndjson")
	}
	h.Set("Content-Disposition", `attachment; filename="audit-log-`+strings.ToLower(safeName(ns))+"."+ext+`"`)
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	if array {
		bw.WriteString("[")
	}
	for i, e := range entries {
		if array && i > 0 {
			bw.WriteString(",")
		}
		enc.Encode(JSON(e))
	}
	if array {
		bw.WriteString("]\n")
	}
	bw.Flush()
}

// safeName keeps a name fit for a file name in a header.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, s)
}
