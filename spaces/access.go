package spaces

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/havenhub/haven"
)

// A private Space served on a domain of its own cannot see the hub's
// session cookie. The Space page therefore frames it with a short-lived
// signature (?__sign=…) that the proxy trades, on the Space's own domain,
// for a cookie that lets that browser read that one Space until it
// expires. The page signs only for callers auth.Can lets read the Space.
const (
	signParam    = "__sign"
	accessCookie = "haven_space_access"
	accessTTL    = time.Hour
)

// accessSigner signs and checks Space access tokens: "{repo id}.{expiry
// unix}.{mac}", the mac keyed by the deployment secret.
type accessSigner struct{ key []byte }

func newAccessSigner(secret []byte) *accessSigner {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("haven space access v1"))
	return &accessSigner{key: mac.Sum(nil)}
}

func (a *accessSigner) mac(payload string) string {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// sign grants access to the Space repoID until exp.
func (a *accessSigner) sign(repoID int64, exp time.Time) string {
	payload := strconv.FormatInt(repoID, 10) + "." + strconv.FormatInt(exp.Unix(), 10)
	return payload + "." + a.mac(payload)
}

// check reports whether token grants access to repoID now, and until when.
func (a *accessSigner) check(token string, repoID int64, now time.Time) (time.Time, bool) {
	i := strings.LastIndexByte(token, '.')
	if i < 0 {
		return time.Time{}, false
	}
	payload, mac := token[:i], token[i+1:]
	if !hmac.Equal([]byte(mac), []byte(a.mac(payload))) {
		return time.Time{}, false
	}
	id, expS, ok := strings.Cut(payload, ".")
	if !ok || id != strconv.FormatInt(repoID, 10) {
		return time.Time{}, false
	}
	exp, err := strconv.ParseInt(expS, 10, 64)
	if err != nil || now.Unix() >= exp {
		return time.Time{}, false
	}
	return time.Unix(exp, 0), true
}

// Embed is the URL a page frames or links for a Space its viewer may read:
// the app's host, signed when the Space is private and served on a domain
// of its own, where the hub's session does not reach.
func (s *Service) Embed(repo *haven.Repo) string {
	host := s.Host(repo)
	if s.cfg.Domain == "" || !repo.Private {
		return host
	}
	return host + "/?" + signParam + "=" + url.QueryEscape(s.access.sign(repo.ID, time.Now().Add(accessTTL)))
}

// trade answers a request that carries a signature: a valid one becomes
// the access cookie of the Space's domain and the browser is sent on
// without it. It reports whether it answered.
func (s *Service) trade(w http.ResponseWriter, r *http.Request, repo *haven.Repo) bool {
	token := r.URL.Query().Get(signParam)
	if token == "" || s.cfg.Domain == "" {
		return false
	}
	exp, ok := s.access.check(token, repo.ID, time.Now())
	if !ok {
		s.appError(w, r, haven.Errorf(haven.EForbidden, "This link to the Space has expired: open the Space from its page again"))
		return true
	}
	http.SetCookie(w, &http.Cookie{
		Name: accessCookie, Value: token, Path: "/", Expires: exp, HttpOnly: true,
		Secure: r.TLS != nil || strings.HasPrefix(s.cfg.PublicURL, "https:"),
		// The Space is framed by the hub's page: on another site the cookie
		// must be allowed in that frame.
		SameSite: sameSiteFor(s.cfg.PublicURL),
	})
	q := r.URL.Query()
	q.Del(signParam)
	u := *r.URL
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.RequestURI(), http.StatusFound)
	return true
}

// granted reports whether the request carries a valid access cookie for
// repo.
func (s *Service) granted(r *http.Request, repo *haven.Repo) bool {
	if s.cfg.Domain == "" {
		return false
	}
	c, err := r.Cookie(accessCookie)
	if err != nil {
		return false
	}
	_, ok := s.access.check(c.Value, repo.ID, time.Now())
	return ok
}

// sameSiteFor is Lax, or None where the hub is served over https: a
// Space's domain may then be another site than the page framing it, and
// browsers only send SameSite=None cookies over https.
func sameSiteFor(publicURL string) http.SameSite {
	if strings.HasPrefix(publicURL, "https:") {
		return http.SameSiteNoneMode
	}
	return http.SameSiteLaxMode
}
