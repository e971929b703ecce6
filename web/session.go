package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/internal/cachestat"
)

// SessionCookie names the cookie that carries the session id.
const SessionCookie = "haven_session"

// sessionTTL is how long a sign-in lasts.
const sessionTTL = 30 * 24 * time.Hour

// sessionCacheTTL bounds how long a resolved session is reused without
// asking the database; signing out forgets it at once, here and, through
// SessionEnded, on the other servers.
const sessionCacheTTL = 5 * time.Second

// sessionStats counts the lookups of the session cache (/metrics).
var sessionStats = cachestat.New("session")

// CSRFHeader may carry the public origin on requests from scripts that
// cannot send an Origin header; browsers do not let other sites set it
// without a preflight, which the API does not grant for this header.
const CSRFHeader = "X-Haven-Origin"

// hashSession is how session ids are stored.
func hashSession(id string) string {
	sum := sha256.Sum256([]byte("haven-session:" + id))
	return hex.EncodeToString(sum[:])
}

// newSessionID returns 256 random bits, URL-safe.
func newSessionID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Actor resolves the identity of a request without an Authorization
// header: the user of its session cookie, or an anonymous actor. It
// implements the API's session hook.
//
// A cookie alone does not prove that the visitor meant the request: a
// request with a foreign Origin is anonymous, so that other sites can
// neither read private data through CORS nor act for the visitor, and an
// unsafe method must come from the hub's own pages (Origin, Referer, or
// CSRFHeader). GETs never change state, so they need no further check.
func (h *Handler) Actor(r *http.Request) (*auth.Actor, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return &auth.Actor{}, nil
	}
	if o := r.Header.Get("Origin"); o != "" && o != h.origin {
		return &auth.Actor{}, nil
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions && !h.sameOrigin(r) {
		return nil, haven.Errorf(haven.EForbidden, "Cross-site request refused: send the request from the hub's pages or with a token")
	}
	return h.sessionActor(r, hashSession(c.Value))
}

// sameOrigin reports whether an unsafe request comes from the hub's own
// pages.
func (h *Handler) sameOrigin(r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != "" {
		return o == h.origin
	}
	if v := r.Header.Get(CSRFHeader); v != "" {
		return v == h.origin
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		return ref == h.origin || strings.HasPrefix(ref, h.origin+"/")
	}
	return false
}

// ForgetSessions drops the briefly remembered identities of sessions, e.g.
// after a decision on an access request changes what a user may download.
func (h *Handler) ForgetSessions() { h.sessions.Clear() }

// ForgetSession drops the remembered identity of the session stored under
// hash, e.g. after it signed out on another server.
func (h *Handler) ForgetSession(hash string) { h.sessions.Delete(hash) }

func (h *Handler) sessionActor(r *http.Request, hash string) (*auth.Actor, error) {
	if e, ok := h.sessions.Load(hash); ok && time.Now().Before(e.(sessionEntry).expires) {
		sessionStats.Hit()
		return e.(sessionEntry).actor, nil
	}
	sessionStats.Miss()
	_, user, err := h.meta.SessionByHash(r.Context(), hash)
	if haven.IsCode(err, haven.ENotFound) {
		return &auth.Actor{}, nil // expired or signed out elsewhere
	}
	if err != nil {
		return nil, err
	}
	a, err := auth.ForUser(r.Context(), h.meta, user, nil)
	if err != nil {
		return nil, err
	}
	h.sessions.Store(hash, sessionEntry{a, time.Now().Add(sessionCacheTTL)})
	return a, nil
}

// startSession signs the browser in as user.
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, user *haven.User) error {
	// Signing in is rare enough to sweep away expired sessions as well.
	if _, err := h.meta.DeleteExpiredSessions(r.Context()); err != nil {
		return err
	}
	id := newSessionID()
	expires := time.Now().Add(sessionTTL)
	if err := h.meta.CreateSession(r.Context(), user.ID, hashSession(id), expires); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name:     SessionCookie,
		Value:    id,
		Path:     "/",
		Expires:  expires,
		MaxAge:   int(sessionTTL / time.Second),
		HttpOnly: true,
		Secure:   h.secureCookies(),
		SameSite: http.SameSiteLaxMode,
	})
	return nil
}

// endSession signs the browser out.
func (h *Handler) endSession(w http.ResponseWriter, r *http.Request) error {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: h.secureCookies(), SameSite: http.SameSiteLaxMode})
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	hash := hashSession(c.Value)
	h.sessions.Delete(hash)
	if err := h.meta.DeleteSession(r.Context(), hash); err != nil {
		return err
	}
	if h.SessionEnded != nil {
		h.SessionEnded(hash)
	}
	return nil
}

// localPath keeps a redirect target on this site: a path, never a URL or a
// protocol-relative "//host".
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	if u, err := url.Parse(next); err != nil || u.Host != "" || u.Scheme != "" {
		return "/"
	}
	return next
}

type loginData struct {
	Next, Username, Error string
	External              string // name of the external sign-in provider, if any
}

// dummyHash is compared against when the user does not exist, so that the
// answer takes as long as for a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("no such user"), bcrypt.DefaultCost)

// login answers GET and POST /login.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	d := loginData{Next: localPath(r.FormValue("next"))}
	if h.External != nil {
		d.External = h.External.Name()
	}
	if r.Method == http.MethodGet {
		if !actorOf(r).Anonymous() {
			http.Redirect(w, r, d.Next, http.StatusSeeOther)
			return
		}
		h.render(w, r, http.StatusOK, "login", "Sign in", d)
		return
	}
	d.Username = strings.TrimSpace(r.PostFormValue("username"))
	password := r.PostFormValue("password")
	// Limits are checked before the password, so that a refused attempt
	// costs no hashing and tells nothing about the password.
	ctx, now, addr, account := r.Context(), time.Now(), clientAddress(r), strings.ToLower(d.Username)
	addrWait, err := h.signIns.address.wait(ctx, addr, now)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	accountWait, err := h.signIns.account.wait(ctx, account, now)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if wait := max(addrWait, accountWait); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		d.Error = "Too many failed sign-ins for this account or from your address. Try again in " + retryText(wait) + "."
		h.render(w, r, http.StatusTooManyRequests, "login", "Sign in", d)
		return
	}
	user, err := h.meta.UserByName(r.Context(), d.Username)
	hash := ""
	if err == nil && !user.IsOrg {
		hash, err = h.meta.PasswordHash(r.Context(), user.ID)
	}
	if err != nil && !haven.IsCode(err, haven.ENotFound) {
		h.fail(w, r, err)
		return
	}
	if hash == "" {
		bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		// A name without an account counts against the address only, which
		// bounds the account limiter by the number of users.
		h.countFailure(ctx, h.signIns.address, addr, now)
		d.Error = "Wrong user name or password."
		h.render(w, r, http.StatusUnauthorized, "login", "Sign in", d)
		return
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil {
		h.countFailure(ctx, h.signIns.address, addr, now)
		h.countFailure(ctx, h.signIns.account, account, now)
		h.record(r, &auth.Actor{}, haven.AuditEntry{Action: haven.AuditSignInFailed, Namespace: user.Name,
			TargetType: haven.AuditTargetUser, Target: user.Name, Details: map[string]any{"method": "password"}})
		d.Error = "Wrong user name or password."
		h.render(w, r, http.StatusUnauthorized, "login", "Sign in", d)
		return
	}
	// The owner got in: their account's count starts again. The address
	// keeps its count, or one valid account would reset it for the rest.
	if err := h.signIns.account.clear(ctx, account); err != nil {
		h.log.WarnContext(r.Context(), "clearing failed sign-ins", "account", account, "err", err)
	}
	if err := h.startSession(w, r, user); err != nil {
		h.fail(w, r, err)
		return
	}
	h.recordSignIn(r, user, "password")
	http.Redirect(w, r, d.Next, http.StatusSeeOther)
}

// logout answers POST /logout.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if err := h.endSession(w, r); err != nil {
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

type passwordData struct {
	Error, Done string
}

// minPassword is the shortest password accepted from the settings page.
const minPassword = 8

// password answers GET and POST /settings/password: a signed-in user sets
// a new password, which ends every other session.
func (h *Handler) password(w http.ResponseWriter, r *http.Request) {
	a := actorOf(r)
	if a.Anonymous() {
		h.fail(w, r, haven.Errorf(haven.EUnauthorized, "Sign in to change your password."))
		return
	}
	var d passwordData
	if r.Method != http.MethodPost {
		h.render(w, r, http.StatusOK, "password", "Password", d)
		return
	}
	old, err := h.meta.PasswordHash(r.Context(), a.User.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	current, next, confirm := r.PostFormValue("current"), r.PostFormValue("new"), r.PostFormValue("confirm")
	switch {
	case old != "" && bcrypt.CompareHashAndPassword([]byte(old), []byte(current)) != nil:
		d.Error = "The current password is wrong."
	case len(next) < minPassword:
		d.Error = "The new password must have at least 8 characters."
	case len(next) > 72:
		d.Error = "The new password must have at most 72 bytes."
	case next != confirm:
		d.Error = "The two new passwords differ."
	}
	if d.Error != "" {
		h.render(w, r, http.StatusBadRequest, "password", "Password", d)
		return
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(next), bcrypt.DefaultCost)
	if err == nil {
		err = h.meta.SetPasswordHash(r.Context(), a.User.ID, string(hash))
	}
	if err == nil {
		err = h.meta.DeleteUserSessions(r.Context(), a.User.ID)
	}
	if err == nil {
		h.sessions.Clear()
		err = h.startSession(w, r, a.User)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d.Done = "Your password was changed; other sign-ins were ended."
	h.render(w, r, http.StatusOK, "password", "Password", d)
}

// countFailure counts a failed sign-in. A count that cannot be stored is
// logged: the visitor was refused either way.
func (h *Handler) countFailure(ctx context.Context, l *failLimiter, key string, now time.Time) {
	if err := l.fail(ctx, key, now); err != nil {
		h.log.Warn("counting a failed sign-in", "err", err)
	}
}
