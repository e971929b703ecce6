// Package oidctest runs a real OpenID Connect provider for tests: the
// provider of github.com/zitadel/oidc (its op package, with the in-memory
// storage and the user name and password form of its example server),
// serving discovery, the authorization code flow with PKCE, signed ID
// tokens, published keys and userinfo on a local port.
package oidctest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
)

// User is an account at the provider.
type User struct {
	Subject, Username, Password, GivenName, FamilyName, Email string
	Groups                                                    []string
}

// Provider is a running provider.
type Provider struct {
	Issuer string
	users  *users
}

// Start runs a provider until the test ends, with one confidential web
// client that may send people back to redirectURI.
func Start(t testing.TB, clientID, clientSecret, redirectURI string, accounts ...User) *Provider {
	t.Helper()
	us := &users{byID: map[string]*User{}}
	for i := range accounts {
		us.add(accounts[i])
	}
	clients := map[string]*storage.Client{clientID: storage.WebClient(clientID, clientSecret, redirectURI)}
	st := &groupStorage{Storage: storage.NewStorageWithClients(us, clients), users: us}
	ts := httptest.NewUnstartedServer(nil)
	issuer := "http://" + ts.Listener.Addr().String()
	ts.Config.Handler = exampleop.SetupServer(issuer, st, nil, false)
	ts.Start()
	t.Cleanup(ts.Close)
	return &Provider{Issuer: issuer, users: us}
}

// SetGroups changes the groups of a user from now on.
func (p *Provider) SetGroups(subject string, groups ...string) {
	p.users.mu.Lock()
	defer p.users.mu.Unlock()
	p.users.byID[subject].Groups = groups
}

// SignIn goes through the provider's sign-in form for the page at loginURL
// (a page of the relying party that sends the browser to the provider),
// with the client's cookies, and returns the answer of the relying party
// where the provider sent the browser back. Redirects are followed as the
// client's CheckRedirect says.
func SignIn(ctx context.Context, c *http.Client, loginURL, username, password string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loginURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	// The provider's form page carries the id of the authorization request.
	id := resp.Request.URL.Query().Get("authRequestID")
	if id == "" {
		return nil, &url.Error{Op: "sign in", URL: resp.Request.URL.String(), Err: http.ErrNoLocation}
	}
	form := url.Values{"id": {id}, "username": {username}, "password": {password}}
	u := *resp.Request.URL
	u.RawQuery = ""
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.Do(req)
}

// users is the provider's user store.
type users struct {
	mu   sync.Mutex
	byID map[string]*User
}

func (us *users) add(u User) { us.byID[u.Subject] = &u }

func (us *users) example(u *User) *storage.User {
	if u == nil {
		return nil
	}
	return &storage.User{ID: u.Subject, Username: u.Username, Password: u.Password, FirstName: u.GivenName,
		LastName: u.FamilyName, Email: u.Email, EmailVerified: true}
}

func (us *users) GetUserByID(id string) *storage.User {
	us.mu.Lock()
	defer us.mu.Unlock()
	return us.example(us.byID[id])
}

func (us *users) GetUserByUsername(name string) *storage.User {
	us.mu.Lock()
	defer us.mu.Unlock()
	for _, u := range us.byID {
		if u.Username == name {
			return us.example(u)
		}
	}
	return nil
}

func (us *users) ExampleClientID() string { return "service" }

// groupStorage adds a "groups" claim to the userinfo answer.
type groupStorage struct {
	*storage.Storage
	users *users
}

func (s *groupStorage) SetUserinfoFromToken(ctx context.Context, info *zoidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, info, tokenID, subject, origin); err != nil {
		return err
	}
	s.users.mu.Lock()
	defer s.users.mu.Unlock()
	if u := s.users.byID[info.Subject]; u != nil && u.Groups != nil {
		info.AppendClaims("groups", u.Groups)
	}
	return nil
}
