// Package oidc signs people in through an OpenID Connect provider.
//
// The flow is the authorization code flow with PKCE: Begin sends the browser
// to the provider with a fresh state, nonce and code verifier, kept in a
// short-lived cookie of this browser; Finish checks the state, exchanges the
// code with the verifier, verifies the ID token (signature by the provider's
// published keys, issuer, audience, expiry, nonce) and returns the user the
// provider's account is linked to, creating the user on the first sign-in.
// Discovery and token verification are github.com/coreos/go-oidc's; the
// session that follows is the web package's.
package oidc

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
)

// flowCookie carries a sign-in in progress between Begin and Finish.
const flowCookie = "haven_oidc"

// flowTTL bounds how long a person may take at the provider's sign-in page.
const flowTTL = 10 * time.Minute

// Config is what a Provider needs.
type Config struct {
	Issuer       string // the provider's issuer URL, where discovery starts
	ClientID     string
	ClientSecret string
	// RedirectURL is this hub's callback, registered at the provider.
	RedirectURL string
	// Name is shown on the sign-in button; the issuer's host by default.
	Name string
	// GroupsClaim names the claim that lists a person's groups ("groups"
	// by default); GroupRoles maps those groups to organisation roles.
	GroupsClaim string
	GroupRoles  []GroupRole
	// ValidName says whether a user name may be taken (haven.ValidName by
	// default); names that collide with the hub's own paths are refused
	// by the caller's rule.
	ValidName func(string) bool
	Meta      *meta.Store
	Logger    *slog.Logger
	// HTTPClient talks to the provider; one with a timeout by default.
	HTTPClient *http.Client
}

// GroupRole gives the members of a provider's group a role in an
// organisation of the hub.
type GroupRole struct {
	Group, Org, Role string
}

// ParseGroupRole parses "GROUP=ORG:ROLE", the form of --oidc-group-role;
// the role is read, write or admin. The group is cut at the last '=', as
// group names such as LDAP DNs contain '=' themselves.
func ParseGroupRole(s string) (GroupRole, error) {
	i := strings.LastIndexByte(s, '=')
	if i < 0 {
		return GroupRole{}, fmt.Errorf("invalid group mapping %q: expected GROUP=ORG:ROLE", s)
	}
	group, rest := s[:i], s[i+1:]
	org, role, ok := strings.Cut(rest, ":")
	if !ok || group == "" || !haven.ValidName(org) {
		return GroupRole{}, fmt.Errorf("invalid group mapping %q: expected GROUP=ORG:ROLE", s)
	}
	switch role {
	case meta.RoleRead, meta.RoleWrite, meta.RoleAdmin:
	default:
		return GroupRole{}, fmt.Errorf("invalid group mapping %q: the role must be read, write or admin", s)
	}
	return GroupRole{Group: group, Org: org, Role: role}, nil
}

// Provider signs people in through one OpenID Connect provider. Create it
// with New.
type Provider struct {
	cfg    Config
	client *http.Client
	log    *slog.Logger

	// Discovery happens on the first sign-in and is retried until it
	// succeeds, so that the hub starts while the provider is down.
	mu       sync.Mutex
	provider *gooidc.Provider
}

// New returns a Provider; it does not contact the provider yet.
func New(cfg Config) (*Provider, error) {
	if cfg.Issuer == "" || cfg.ClientID == "" {
		return nil, fmt.Errorf("oidc: the issuer and the client id are required")
	}
	u, err := url.Parse(cfg.Issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("oidc: invalid issuer URL %q", cfg.Issuer)
	}
	if cfg.Name == "" {
		cfg.Name = u.Host
	}
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = "groups"
	}
	if cfg.ValidName == nil {
		cfg.ValidName = haven.ValidName
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	p := &Provider{cfg: cfg, client: cfg.HTTPClient, log: cfg.Logger}
	if p.client == nil {
		p.client = &http.Client{Timeout: 30 * time.Second}
	}
	return p, nil
}

// Name is the provider's name for the sign-in button.
func (p *Provider) Name() string { return p.cfg.Name }

// discover returns the provider's metadata, fetching it once.
func (p *Provider) discover(ctx context.Context) (*gooidc.Provider, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.provider != nil {
		return p.provider, nil
	}
	ctx, cancel := context.WithTimeout(gooidc.ClientContext(ctx, p.client), 30*time.Second)
	defer cancel()
	prov, err := gooidc.NewProvider(ctx, p.cfg.Issuer)
	if err != nil {
		return nil, haven.Errorf(haven.EUnavailable, "The sign-in provider cannot be reached: %v", err)
	}
	p.provider = prov
	return prov, nil
}

func (p *Provider) oauth(prov *gooidc.Provider) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     p.cfg.ClientID,
		ClientSecret: p.cfg.ClientSecret,
		Endpoint:     prov.Endpoint(),
		RedirectURL:  p.cfg.RedirectURL,
		Scopes:       []string{gooidc.ScopeOpenID, "profile", "email"},
	}
}

// flow is a sign-in in progress, kept in the browser's flowCookie. Its
// values are secrets of this browser: another site cannot read or set
// them, which is what makes the state and nonce checks mean something.
type flow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Next     string `json:"next"`
}

func random() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (p *Provider) secure() bool { return strings.HasPrefix(p.cfg.RedirectURL, "https:") }

// Begin sends the browser to the provider's sign-in page; next is where
// Finish will say to go afterwards.
func (p *Provider) Begin(w http.ResponseWriter, r *http.Request, next string) error {
	prov, err := p.discover(r.Context())
	if err != nil {
		return err
	}
	f := flow{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier(), Next: next}
	js, err := json.Marshal(f)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name:     flowCookie,
		Value:    base64.RawURLEncoding.EncodeToString(js),
		Path:     cookiePath(p.cfg.RedirectURL),
		MaxAge:   int(flowTTL / time.Second),
		HttpOnly: true,
		Secure:   p.secure(),
		// Lax: the provider sends the browser back with a top-level GET.
		SameSite: http.SameSiteLaxMode,
	})
	u := p.oauth(prov).AuthCodeURL(f.State, gooidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier))
	http.Redirect(w, r, u, http.StatusSeeOther)
	return nil
}

// cookiePath is the path of the callback, so the flow cookie goes nowhere
// else.
func cookiePath(redirect string) string {
	if u, err := url.Parse(redirect); err == nil && u.Path != "" {
		return u.Path
	}
	return "/"
}

// errRestart is the answer to a callback that does not belong to a sign-in
// begun in this browser.
func errRestart(why string) error {
	return haven.Errorf(haven.EForbidden, "Sign-in refused: %s. Start the sign-in again.", why)
}

// Finish completes the sign-in at the callback: it returns the signed-in
// user and where to go next, or an error to show; it writes nothing but
// the removal of the flow cookie.
func (p *Provider) Finish(w http.ResponseWriter, r *http.Request) (*haven.User, string, error) {
	c, err := r.Cookie(flowCookie)
	if err != nil {
		return nil, "", errRestart("no sign-in was started in this browser, or it took too long")
	}
	http.SetCookie(w, &http.Cookie{Name: flowCookie, Value: "", Path: cookiePath(p.cfg.RedirectURL), MaxAge: -1,
		HttpOnly: true, Secure: p.secure(), SameSite: http.SameSiteLaxMode})
	var f flow
	js, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || json.Unmarshal(js, &f) != nil || f.State == "" || f.Nonce == "" || f.Verifier == "" {
		return nil, "", errRestart("the sign-in cookie is damaged")
	}
	q := r.URL.Query()
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1 {
		return nil, "", errRestart("the answer does not belong to the sign-in started in this browser (state)")
	}
	if e := q.Get("error"); e != "" {
		return nil, "", haven.Errorf(haven.EForbidden, "The provider refused the sign-in: %s %s", e, q.Get("error_description"))
	}
	prov, err := p.discover(r.Context())
	if err != nil {
		return nil, "", err
	}
	ctx := gooidc.ClientContext(r.Context(), p.client)
	conf := p.oauth(prov)
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(f.Verifier))
	if err != nil {
		p.log.WarnContext(r.Context(), "oidc: code exchange failed", "err", err)
		return nil, "", haven.Errorf(haven.EForbidden, "Sign-in refused: the provider did not accept the sign-in code")
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, "", haven.Errorf(haven.EForbidden, "Sign-in refused: the provider sent no ID token")
	}
	idt, err := prov.Verifier(&gooidc.Config{ClientID: p.cfg.ClientID}).Verify(ctx, raw)
	if err != nil {
		p.log.WarnContext(r.Context(), "oidc: ID token refused", "err", err)
		return nil, "", haven.Errorf(haven.EForbidden, "Sign-in refused: the ID token is not valid")
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.Nonce)) != 1 {
		return nil, "", errRestart("the ID token was not issued for the sign-in started in this browser (nonce)")
	}
	cl, err := p.claims(ctx, prov, idt, conf.TokenSource(ctx, tok))
	if err != nil {
		return nil, "", err
	}
	user, err := p.user(r.Context(), cl)
	if err != nil {
		return nil, "", err
	}
	if err := p.grant(r.Context(), user, cl.groups); err != nil {
		return nil, "", err
	}
	if err := p.claimInvitations(r.Context(), user, cl); err != nil {
		return nil, "", err
	}
	return user, f.Next, nil
}
