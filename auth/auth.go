// Package auth decides who a request comes from and what they may do. Every
// access decision in Haven goes through Can, so that private repositories are
// hidden the same way on every endpoint.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/havenhub/haven"
)

// Actor is the identity behind a request. The zero Actor is anonymous.
type Actor struct {
	User    *haven.User
	Role    haven.Role        // the token's role; write for web sessions
	TokenID int64             // 0 when not authenticated by token
	Token   *haven.Token      // the token used, if any
	Orgs    map[string]string // lower-cased org name → role in it ("admin", "write", "contributor", "read")
	// Access is the status of the user's requests for gated repositories, by
	// repository id, loaded with the identity so that CanDownload needs no
	// query; whoever caches actors drops them when a decision is made.
	Access map[int64]haven.AccessStatus

	// The scopes of a fine-grained token, prepared once per identity.
	scopes      []scope
	globalPerms uint32
	scopesReady bool
}

// Anonymous reports whether the request carries no identity.
func (a *Actor) Anonymous() bool { return a == nil || a.User == nil }

// Name is the user name, or "" for anonymous callers.
func (a *Actor) Name() string {
	if a.Anonymous() {
		return ""
	}
	return a.User.Name
}

// Namespaces lists the namespaces whose private repositories the actor may see.
func (a *Actor) Namespaces() []string {
	if a.Anonymous() {
		return nil
	}
	ns := []string{a.User.Name}
	for org := range a.Orgs {
		ns = append(ns, org)
	}
	return ns
}

// Action is what an actor wants to do with a repository.
type Action int

// Actions, from weakest to strongest.
const (
	Read  Action = iota // read files, metadata, history
	Write               // commit, push, create branches and tags
	Admin               // change settings, rename, delete
)

// namespaceRole is the actor's standing in a namespace: "admin" for their
// own, their role for an org they belong to, "" otherwise.
func (a *Actor) namespaceRole(namespace string) string {
	if a.Anonymous() {
		return ""
	}
	if a.User.IsAdmin || strings.EqualFold(a.User.Name, namespace) {
		return "admin"
	}
	return a.Orgs[strings.ToLower(namespace)]
}

// Can reports whether the actor may perform act on repo. A caller who may not
// even read a private repository learns nothing about it: the error is
// RepoNotFound, exactly as for a repository that does not exist.
//
// A fine-grained token narrows the owner's rights: a private repository
// outside its repo.content.read scopes is not found, and writing needs
// repo.write (a 403 naming the permission). Org contributors and readers
// read; contributors propose changes through CanDiscuss, not Can.
func Can(a *Actor, act Action, repo *haven.Repo) error {
	role := a.namespaceRole(repo.Namespace)
	if repo.Private && (role == "" || !a.tokenAllows(haven.PermRepoContentRead, repo)) {
		return RepoNotFound()
	}
	if act == Read {
		return nil
	}
	if a.Anonymous() {
		return haven.Errorf(haven.EUnauthorized, "You must be authenticated to do this. Please log in or pass a token.")
	}
	if a.Role == haven.RoleRead {
		return haven.Errorf(haven.EForbidden, "This token has read access only: a token with write access is needed to modify %s", repo.FullName())
	}
	switch {
	case act == Write && (role == "admin" || role == "write"):
	case act == Admin && role == "admin":
	default:
		return haven.Errorf(haven.EForbidden, "You don't have the rights to modify the %s repository %s", repo.Type, repo.FullName())
	}
	if !a.tokenAllows(haven.PermRepoWrite, repo) {
		return errMissingPermission(haven.PermRepoWrite, fmt.Sprintf("the %s repository %s", repo.Type, repo.FullName()))
	}
	if act == Write && repo.MirrorOf != "" {
		return errReadOnlyMirror(repo)
	}
	return nil
}

// errReadOnlyMirror refuses changes to a mirror's content, which follows
// its source: a local change would be undone, or block, at the next sync.
func errReadOnlyMirror(repo *haven.Repo) error {
	return haven.Errorf(haven.EForbidden, "%s is a read-only mirror of %s: change the source instead, or stop mirroring it", repo.FullName(), repo.MirrorOf)
}

// CanPropose reports whether the actor may open a pull request on repo:
// whoever may take part in its discussions, unless it is a mirror.
func CanPropose(a *Actor, repo *haven.Repo) error {
	if err := CanDiscuss(a, Discuss, repo, ""); err != nil {
		return err
	}
	if repo.MirrorOf != "" {
		return errReadOnlyMirror(repo)
	}
	return nil
}

// CanCreateIn reports whether the actor may create repositories in namespace.
func CanCreateIn(a *Actor, t haven.RepoType, namespace string) error {
	if a.Anonymous() {
		return haven.Errorf(haven.EUnauthorized, "You must be authenticated to create a repository. Please log in or pass a token.")
	}
	if a.Role == haven.RoleRead {
		return haven.Errorf(haven.EForbidden, "This token has read access only: a token with write access is needed to create a repository")
	}
	switch a.namespaceRole(namespace) {
	case "admin", "write":
	default:
		return haven.Errorf(haven.EForbidden, "You don't have the rights to create a %s under the namespace %q", t, namespace)
	}
	if !a.tokenAllowsIn(haven.PermRepoWrite, namespace) {
		return haven.Errorf(haven.EForbidden, "You don't have the rights to create a %s under the namespace %q: this fine-grained token lacks the %q permission on %s", t, namespace, haven.PermRepoWrite, namespace)
	}
	return nil
}

// RepoNotFound is the error every endpoint gives for a repository the caller may not see.
func RepoNotFound() error {
	return haven.Errorf(haven.ERepoNotFound, "Repository not found")
}

// Store is what authentication needs from the metadata store.
type Store interface {
	TokenByHash(ctx context.Context, hash string) (*haven.Token, *haven.User, error)
	Memberships(ctx context.Context, userID int64) ([]haven.Membership, error)
	TouchToken(ctx context.Context, tokenID int64, at time.Time) error
	AccessStatuses(ctx context.Context, userID int64) (map[int64]haven.AccessStatus, error)
}

// ErrInvalidToken is the Hub's exact message for a token it does not know;
// the Python client tells it apart from "repository not found" by this text.
const ErrInvalidToken = "Invalid credentials in Authorization header"

// FromToken looks up a plain token and builds the actor behind it.
func FromToken(ctx context.Context, s Store, plain string) (*Actor, error) {
	if !strings.HasPrefix(plain, TokenPrefix) {
		return nil, haven.Errorf(haven.EUnauthorized, ErrInvalidToken)
	}
	tok, user, err := s.TokenByHash(ctx, HashToken(plain))
	if err != nil {
		if haven.IsCode(err, haven.ENotFound) {
			return nil, haven.Errorf(haven.EUnauthorized, ErrInvalidToken)
		}
		return nil, err
	}
	// An expired token is answered as an unknown one, as on the Hub.
	if tok.Expired(time.Now()) {
		return nil, haven.Errorf(haven.EUnauthorized, ErrInvalidToken)
	}
	return ForUser(ctx, s, user, tok)
}

// ForUser builds the actor for a known user, with the role of tok (or write
// access when tok is nil, as for a signed-in browser session).
func ForUser(ctx context.Context, s Store, user *haven.User, tok *haven.Token) (*Actor, error) {
	ms, err := s.Memberships(ctx, user.ID)
	if err != nil {
		return nil, err
	}
	a := &Actor{User: user, Role: haven.RoleWrite, Orgs: make(map[string]string, len(ms))}
	if tok != nil {
		a.Role, a.TokenID, a.Token = tok.Role, tok.ID, tok
		if tok.FineGrained != nil {
			a.scopes, a.globalPerms = compileScopes(tok.FineGrained)
			a.scopesReady = true
		}
	}
	for _, m := range ms {
		a.Orgs[strings.ToLower(m.Org.Name)] = m.Role
	}
	if a.Access, err = s.AccessStatuses(ctx, user.ID); err != nil {
		return nil, err
	}
	return a, nil
}

// TokenPrefix starts every token; the JS client refuses tokens without it.
const TokenPrefix = "hf_"

const tokenAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// NewToken returns a fresh random token ("hf_" and 34 letters, about 194 bits)
// and the hash under which it is stored.
func NewToken() (plain, hash string) {
	var b strings.Builder
	b.WriteString(TokenPrefix)
	max := big.NewInt(int64(len(tokenAlphabet)))
	for range 34 {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err) // crypto/rand never fails on supported platforms
		}
		b.WriteByte(tokenAlphabet[n.Int64()])
	}
	plain = b.String()
	return plain, HashToken(plain)
}

// HashToken is how tokens are stored. Tokens carry enough entropy that a
// plain SHA-256 cannot be reversed by guessing.
func HashToken(plain string) string {
	sum := sha256.Sum256([]byte(plain))
	return hex.EncodeToString(sum[:])
}

// CanDownload reports whether the actor may read the files of repo, not only
// its metadata. The files of a gated repository are for the members of its
// namespace (and site admins) and for users whose access request was
// accepted; everyone else gets GatedRepo, worded as the Hub words it for
// their request's status. pageURL is where to ask.
func CanDownload(a *Actor, repo *haven.Repo, pageURL string) error {
	if err := Can(a, Read, repo); err != nil {
		return err
	}
	if repo.Gated == "" {
		return nil
	}
	// A fine-grained token reads gated repositories only with
	// canReadGatedRepos or a read scope on the repository, even after
	// its owner was let in.
	if a.fineGrained() && !a.tokenAllows(haven.PermRepoContentRead, repo) &&
		(a.Token == nil || a.Token.FineGrained == nil || !a.Token.FineGrained.CanReadGatedRepos) {
		return haven.Errorf(haven.EGatedRepo, "Access to %s %s is restricted: this fine-grained token lacks the canReadGatedRepos permission (read access to public gated repositories).", repo.Type, repo.FullName())
	}
	if a.namespaceRole(repo.Namespace) != "" {
		return nil
	}
	if a.Anonymous() {
		return haven.Errorf(haven.EGatedRepo, "Access to %s %s is restricted. You must have access to it and be authenticated to access it. Please log in.", repo.Type, repo.FullName())
	}
	switch a.Access[repo.ID] {
	case haven.AccessAccepted:
		return nil
	case haven.AccessPending:
		return haven.Errorf(haven.EGatedRepo, "Your request to access %s %s is awaiting a review from the repo authors.", repo.Type, repo.FullName())
	case haven.AccessRejected:
		return haven.Errorf(haven.EGatedRepo, "Your request to access %s %s has been rejected by the repo's authors.", repo.Type, repo.FullName())
	}
	return haven.Errorf(haven.EGatedRepo, "Access to %s %s is restricted and you are not in the authorized list. Visit %s to ask for access.", repo.Type, repo.FullName(), pageURL)
}

// CanDecideAccess reports whether the actor may see and decide the access
// requests of repo: those who may write to it, with a write token.
func CanDecideAccess(a *Actor, repo *haven.Repo) error {
	return Can(a, Write, repo)
}
