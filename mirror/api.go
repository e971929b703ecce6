package mirror

import (
	"net/http"
	"strconv"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/hubhttp"
)

// The mirror API:
//
//	POST   /api/mirrors                          {"source", "type", "repo", "interval", "token", "private"}: a pull mirror
//	GET    /api/mirrors                          the mirrors of the repositories the caller administers
//	GET    /api/{types}/{ns}/{name}/mirrors      a repository's mirrors (push mirrors for its admins only)
//	POST   /api/{types}/{ns}/{name}/mirrors      {"pushTo", "token", "interval"}: a push mirror
//	POST   /api/{types}/{ns}/{name}/mirrors/{id}/sync
//	DELETE /api/{types}/{ns}/{name}/mirrors/{id}
//
// Tokens are sealed at rest and never shown again.

// RepoAction serves /api/{types}/{ns}/{name}/mirrors[/…].
func (s *Service) RepoAction(_ haven.RepoType, action, method string) api.RepoHandler {
	if action != "mirrors" {
		return nil
	}
	return s.serveRepo
}

// API serves /api/mirrors.
func (s *Service) API(first string) http.Handler {
	if first != "mirrors" {
		return nil
	}
	return http.HandlerFunc(s.serveMirrors)
}

func (s *Service) writeError(w http.ResponseWriter, r *http.Request, err error) {
	hubhttp.WriteError(s.log, w, r, err)
}

// View is a mirror as the API and the pages show it.
type View struct {
	ID            int64   `json:"id"`
	Direction     string  `json:"direction"`
	Repo          string  `json:"repo"`
	RepoType      string  `json:"repoType"`
	URL           string  `json:"url"`
	Remote        string  `json:"remote"`
	RemoteType    string  `json:"remoteType"`
	RemoteID      string  `json:"remoteId"`
	Interval      int64   `json:"interval"`
	HasToken      bool    `json:"hasToken"`
	CreatedAt     string  `json:"createdAt"`
	NextSyncAt    string  `json:"nextSyncAt"`
	LastAttemptAt *string `json:"lastAttemptAt"`
	LastSuccessAt *string `json:"lastSuccessAt"`
	LastError     string  `json:"lastError,omitempty"`
}

func viewOf(m *haven.Mirror, repo *haven.Repo) View {
	v := View{ID: m.ID, Direction: m.Direction, Repo: repo.FullName(), RepoType: string(repo.Type), URL: m.RemoteURL(),
		Remote: m.Remote, RemoteType: string(m.RemoteType), RemoteID: m.RemoteID.String(), Interval: int64(m.Interval / time.Second),
		HasToken: m.Token != "", CreatedAt: haven.FormatTime(m.CreatedAt), NextSyncAt: haven.FormatTime(m.NextSyncAt), LastError: m.LastError}
	if !m.LastAttemptAt.IsZero() {
		t := haven.FormatTime(m.LastAttemptAt)
		v.LastAttemptAt = &t
	}
	if !m.LastSuccessAt.IsZero() {
		t := haven.FormatTime(m.LastSuccessAt)
		v.LastSuccessAt = &t
	}
	return v
}

func (s *Service) serveMirrors(w http.ResponseWriter, r *http.Request) {
	segs, err := hubhttp.Segments(r, 2)
	if err != nil || len(segs) != 0 {
		s.writeError(w, r, haven.Errorf(haven.ENotFound, "Not Found"))
		return
	}
	switch r.Method {
	case http.MethodGet:
		s.listAll(w, r)
	case http.MethodPost:
		s.createPull(w, r)
	default:
		s.writeError(w, r, haven.Errorf(haven.ENotFound, "Not Found"))
	}
}

func (s *Service) listAll(w http.ResponseWriter, r *http.Request) {
	a := hubhttp.Actor(r)
	if a.Anonymous() {
		s.writeError(w, r, haven.Errorf(haven.EUnauthorized, "You must be authenticated to list mirrors. Please log in or pass a token."))
		return
	}
	all, err := s.cfg.Meta.ListMirrors(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := []View{}
	repos := map[int64]*haven.Repo{}
	for _, m := range all {
		repo, ok := repos[m.RepoID]
		if !ok {
			if repo, err = s.cfg.Meta.RepoByID(r.Context(), m.RepoID); err != nil {
				continue
			}
			repos[m.RepoID] = repo
		}
		if auth.Can(a, auth.Admin, repo) == nil {
			out = append(out, viewOf(m, repo))
		}
	}
	hubhttp.WriteJSON(w, http.StatusOK, out)
}

func (s *Service) createPull(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Source   string `json:"source"`
		Type     string `json:"type"`
		Repo     string `json:"repo"`
		Interval int64  `json:"interval"`
		Token    string `json:"token"`
		Private  bool   `json:"private"`
	}
	if err := hubhttp.DecodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	spec, err := NewPullSpec(req.Source, req.Type, req.Repo, time.Duration(req.Interval)*time.Second, req.Token, req.Private)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := auth.CanCreateIn(hubhttp.Actor(r), spec.Source.Type, spec.As.Namespace); err != nil {
		s.writeError(w, r, err)
		return
	}
	m, repo, err := s.AddPull(r.Context(), spec)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.SyncSoon(r.Context(), m.ID); err != nil {
		s.log.WarnContext(r.Context(), "mirror: queueing the first sync", "mirror", m.ID, "err", err)
	}
	hubhttp.WriteJSON(w, http.StatusCreated, viewOf(m, repo))
}

// NewPullSpec reads a pull mirror's settings, as the API and the command
// line take them.
func NewPullSpec(source, typ, as string, interval time.Duration, token string, private bool) (PullSpec, error) {
	var t haven.RepoType
	if typ != "" {
		var err error
		if t, err = haven.ParseRepoType(typ); err != nil {
			return PullSpec{}, err
		}
	}
	ref, err := ParseRemote(source, t)
	if err != nil {
		return PullSpec{}, err
	}
	spec := PullSpec{Source: ref, Interval: interval, Token: token, Private: private}
	if as != "" {
		id, err := haven.ParseRepoID(as)
		if err != nil {
			return PullSpec{}, err
		}
		spec.As = id
	}
	return spec, nil
}

func (s *Service) serveRepo(w http.ResponseWriter, r *http.Request, repo *haven.Repo, rest []string) {
	a := hubhttp.Actor(r)
	switch {
	case len(rest) == 0 && r.Method == http.MethodGet:
		list, err := s.cfg.Meta.MirrorsOfRepo(r.Context(), repo.ID)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		admin := auth.Can(a, auth.Admin, repo) == nil
		out := []View{}
		for _, m := range list {
			if m.Direction == haven.MirrorPull || admin {
				out = append(out, viewOf(m, repo))
			}
		}
		hubhttp.WriteJSON(w, http.StatusOK, out)
	case len(rest) == 0 && r.Method == http.MethodPost:
		if err := auth.Can(a, auth.Admin, repo); err != nil {
			s.writeError(w, r, err)
			return
		}
		var req struct {
			PushTo   string `json:"pushTo"`
			Token    string `json:"token"`
			Interval int64  `json:"interval"`
		}
		if err := hubhttp.DecodeJSON(r, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
		target, err := ParseRemote(req.PushTo, repo.Type)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		m, err := s.AddPush(r.Context(), repo, target, req.Token, time.Duration(req.Interval)*time.Second)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := s.SyncSoon(r.Context(), m.ID); err != nil {
			s.log.WarnContext(r.Context(), "mirror: queueing the first push", "mirror", m.ID, "err", err)
		}
		hubhttp.WriteJSON(w, http.StatusCreated, viewOf(m, repo))
	case len(rest) == 1 && r.Method == http.MethodDelete, len(rest) == 2 && rest[1] == "sync" && r.Method == http.MethodPost:
		if err := auth.Can(a, auth.Admin, repo); err != nil {
			s.writeError(w, r, err)
			return
		}
		m, err := s.mirrorOf(r, repo, rest[0])
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if len(rest) == 2 {
			err = s.SyncSoon(r.Context(), m.ID)
		} else {
			err = s.cfg.Meta.DeleteMirror(r.Context(), m.ID)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		hubhttp.WriteJSON(w, http.StatusOK, map[string]any{})
	default:
		s.writeError(w, r, haven.Errorf(haven.ENotFound, "Not Found"))
	}
}

// mirrorOf finds mirror id of repo: a mirror of another repository is not
// found, whatever its id.
func (s *Service) mirrorOf(r *http.Request, repo *haven.Repo, id string) (*haven.Mirror, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil, haven.Errorf(haven.ENotFound, "Mirror not found")
	}
	m, err := s.cfg.Meta.MirrorByID(r.Context(), n)
	if err != nil || m.RepoID != repo.ID {
		return nil, haven.Errorf(haven.ENotFound, "Mirror not found")
	}
	return m, nil
}
