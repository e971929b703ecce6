// Package haven holds the domain types of the Haven hub: repositories, users,
// organisations, tokens and the error type that carries Hub error codes.
//
// It depends on nothing but the standard library. Storage, protocols and
// transports live in subpackages named after what they adapt (meta, blob,
// gitstore, lfs, api) and are wired together only in cmd/haven.
package haven

import (
	"regexp"
	"strings"
	"time"
)

// RepoType is the kind of a repository.
type RepoType string

// The repository types the hub serves.
const (
	Model   RepoType = "model"
	Dataset RepoType = "dataset"
	Space   RepoType = "space"
)

// RepoTypes lists every repository type, in a stable order.
var RepoTypes = []RepoType{Model, Dataset, Space}

// ParseRepoType accepts a singular or plural type name ("model", "models").
// The empty string means model, as on the Hub.
func ParseRepoType(s string) (RepoType, error) {
	switch strings.TrimSuffix(strings.ToLower(s), "s") {
	case "", "model":
		return Model, nil
	case "dataset":
		return Dataset, nil
	case "space":
		return Space, nil
	}
	return "", Errorf(EInvalid, "Invalid repo type: %q", s)
}

// Plural is the name used in API paths ("models").
func (t RepoType) Plural() string { return string(t) + "s" }

// URLPrefix is the prefix of web and git URLs: "" for models, "datasets/" and "spaces/" otherwise.
func (t RepoType) URLPrefix() string {
	if t == Model {
		return ""
	}
	return t.Plural() + "/"
}

// RepoID names a repository: "namespace/name".
type RepoID struct {
	Namespace string
	Name      string
}

func (id RepoID) String() string { return id.Namespace + "/" + id.Name }

// nameRE is the Hub's rule for a namespace or repository name segment.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9_.\-]{1,96}$`)

// ValidName reports whether s is a valid user, organisation or repository name:
// 1–96 characters of letters, digits, '_', '.', '-', without "--" or "..",
// not starting or ending with '-' or '.', and not ending in ".git".
func ValidName(s string) bool {
	if !nameRE.MatchString(s) {
		return false
	}
	if strings.Contains(s, "--") || strings.Contains(s, "..") || strings.HasSuffix(s, ".git") {
		return false
	}
	if strings.HasPrefix(s, "-") || strings.HasPrefix(s, ".") || strings.HasSuffix(s, "-") || strings.HasSuffix(s, ".") {
		return false
	}
	return true
}

// ParseRepoID parses "namespace/name" and validates both parts.
func ParseRepoID(s string) (RepoID, error) {
	ns, name, ok := strings.Cut(s, "/")
	if !ok || !ValidName(ns) || !ValidName(name) {
		return RepoID{}, Errorf(EInvalid, "Invalid repo id: %q (expected namespace/name with letters, digits, '-', '_' and '.')", s)
	}
	return RepoID{Namespace: ns, Name: name}, nil
}

// Repo is the metadata row of a repository. Its content lives in git.
type Repo struct {
	ID        int64
	Type      RepoType
	Namespace string
	Name      string
	Private   bool
	Gated     string // "" (not gated), "auto" or "manual"
	CreatedAt time.Time
	UpdatedAt time.Time
	// DiscussionsDisabled refuses new discussions, pull requests and
	// comments.
	DiscussionsDisabled bool

	// Fields derived from the default branch, refreshed on each push.
	SHA         string         // head of the default branch
	CardData    map[string]any // README front matter
	CardError   string         // why the front matter does not parse; "" if it does
	Tags        []string
	PipelineTag string
	LibraryName string
	SDK         string // Spaces only
	UsedStorage int64

	Downloads         int64 // last 30 days
	DownloadsAllTime  int64
	Likes             int64
	TrendingScore     int64
	DefaultBranchName string

	// MirrorOf is the page URL of the repository this one mirrors, "" when
	// it is not a mirror. A mirror's content only changes through its syncs.
	MirrorOf string
}

// RepoID returns the repository's "namespace/name".
func (r *Repo) RepoID() RepoID { return RepoID{r.Namespace, r.Name} }

// FullName is "namespace/name".
func (r *Repo) FullName() string { return r.Namespace + "/" + r.Name }

// DefaultBranch is the branch that HEAD and the empty revision mean.
func (r *Repo) DefaultBranch() string {
	if r.DefaultBranchName == "" {
		return "main"
	}
	return r.DefaultBranchName
}

// User is a person with an account. Organisations are users with IsOrg set,
// so that one namespace table covers both.
type User struct {
	ID        int64
	Name      string
	FullName  string
	Email     string
	IsOrg     bool
	IsAdmin   bool
	CreatedAt time.Time
}

// Role is what a token may do.
type Role string

// Token roles. A fine-grained token may do only what its FineGrained
// scopes allow, within its owner's rights.
const (
	RoleRead        Role = "read"
	RoleWrite       Role = "write"
	RoleFineGrained Role = "fineGrained"
)

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	switch Role(s) {
	case RoleRead, RoleWrite, RoleFineGrained:
		return Role(s), nil
	}
	return "", Errorf(EInvalid, "Invalid token role %q: expected read, write or fineGrained", s)
}

// The Hub's permission strings of fine-grained tokens.
const (
	PermRepoContentRead          = "repo.content.read"
	PermRepoWrite                = "repo.write"
	PermRepoAccessRead           = "repo.access.read"
	PermDiscussionWrite          = "discussion.write"
	PermPostWrite                = "post.write"
	PermCollectionRead           = "collection.read"
	PermCollectionWrite          = "collection.write"
	PermUserWebhooksRead         = "user.webhooks.read"
	PermUserWebhooksWrite        = "user.webhooks.write"
	PermOrgRead                  = "org.read"
	PermOrgWrite                 = "org.write"
	PermInferenceServerlessWrite = "inference.serverless.write"
	PermInferenceEndpointsInfer  = "inference.endpoints.infer.write"
	PermInferenceEndpointsWrite  = "inference.endpoints.write"
	PermResourceGroupWrite       = "resourceGroup.write"
	PermJobWrite                 = "job.write"
	PermOrgServiceAccountsRead   = "org.serviceAccounts.read"
	PermOrgServiceAccountsWrite  = "org.serviceAccounts.write"
)

// Permissions lists every permission string a fine-grained token may hold.
var Permissions = []string{
	PermRepoContentRead, PermRepoWrite, PermRepoAccessRead, PermDiscussionWrite, PermPostWrite,
	PermCollectionRead, PermCollectionWrite, PermUserWebhooksRead, PermUserWebhooksWrite,
	PermOrgRead, PermOrgWrite, PermInferenceServerlessWrite, PermInferenceEndpointsInfer,
	PermInferenceEndpointsWrite, PermResourceGroupWrite, PermJobWrite,
	PermOrgServiceAccountsRead, PermOrgServiceAccountsWrite,
}

// GlobalPermissions are those a fine-grained token may hold for every
// public repository rather than for a named entity.
var GlobalPermissions = []string{PermDiscussionWrite, PermPostWrite}

// FineGrained is what a fine-grained token may do, as whoami-v2 reports it.
type FineGrained struct {
	CanReadGatedRepos bool         `json:"canReadGatedRepos"`
	Global            []string     `json:"global"`
	Scoped            []TokenScope `json:"scoped"`
}

// TokenScope gives permissions on one entity: a user or org (every
// repository of that namespace) or one repository.
type TokenScope struct {
	Entity      TokenEntity `json:"entity"`
	Permissions []string    `json:"permissions"`
}

// TokenEntity names what a scope applies to. Type is "user", "org",
// "model", "dataset" or "space"; Name is a namespace or a repository id.
type TokenEntity struct {
	Type string `json:"type"`
	Name string `json:"name"`
}

// Validate checks the entity types and permission strings of f.
func (f *FineGrained) Validate() error {
	known := func(p string, set []string) bool {
		for _, q := range set {
			if p == q {
				return true
			}
		}
		return false
	}
	for _, p := range f.Global {
		if !known(p, GlobalPermissions) {
			return Errorf(EInvalid, "Invalid global permission %q: expected one of %s", p, strings.Join(GlobalPermissions, ", "))
		}
	}
	for _, sc := range f.Scoped {
		switch sc.Entity.Type {
		case "user", "org":
			if !ValidName(sc.Entity.Name) {
				return Errorf(EInvalid, "Invalid namespace %q in a token scope", sc.Entity.Name)
			}
		case "model", "dataset", "space":
			ns, name, ok := strings.Cut(sc.Entity.Name, "/")
			if !ok || !ValidName(ns) || name == "" {
				return Errorf(EInvalid, "Invalid repository %q in a token scope: expected NAMESPACE/NAME", sc.Entity.Name)
			}
		default:
			return Errorf(EInvalid, "Invalid token scope type %q: expected user, org, model, dataset or space", sc.Entity.Type)
		}
		for _, p := range sc.Permissions {
			if !known(p, Permissions) {
				return Errorf(EInvalid, "Invalid permission %q", p)
			}
		}
	}
	return nil
}

// Token is an access token. Only its hash is stored; the plain text is shown once.
type Token struct {
	ID          int64
	UserID      int64
	DisplayName string
	Role        Role
	CreatedAt   time.Time
	LastUsedAt  time.Time
	ExpiresAt   time.Time    // zero for a token that does not expire
	FineGrained *FineGrained // the scopes of a RoleFineGrained token, else nil
}

// Expired reports whether the token has expired at now.
func (t *Token) Expired(now time.Time) bool {
	return !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt)
}

// Membership is a user's role in an organisation.
type Membership struct {
	Org  User
	Role string // "admin", "write", "contributor", "read"
}

// TimeFormat is how every date leaves the server: UTC with a "Z" suffix,
// which the Python client requires.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// FormatTime renders t in TimeFormat.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// ScopePermissions are the permissions behind the simple access levels
// that the tokens page and `haven token create` offer for a repository or
// namespace: "read" reads contents, "write" also writes them and takes part
// in discussions.
func ScopePermissions(level string) ([]string, error) {
	switch level {
	case "read":
		return []string{PermRepoContentRead}, nil
	case "write":
		return []string{PermRepoContentRead, PermRepoWrite, PermDiscussionWrite}, nil
	}
	return nil, Errorf(EInvalid, "Invalid access level %q: expected read or write", level)
}

// ParseRepoScope reads a repository scope written "NS/NAME:LEVEL", with
// "datasets/" or "spaces/" before NS for those types.
func ParseRepoScope(s string) (TokenScope, error) {
	id, level, ok := strings.Cut(s, ":")
	if !ok {
		return TokenScope{}, Errorf(EInvalid, "Invalid repository scope %q: expected NS/NAME:read or NS/NAME:write", s)
	}
	typ := "model"
	if kind, rest, ok := strings.Cut(id, "/"); ok && (kind == "datasets" || kind == "spaces") {
		typ, id = strings.TrimSuffix(kind, "s"), rest
	}
	perms, err := ScopePermissions(level)
	if err != nil {
		return TokenScope{}, err
	}
	sc := TokenScope{Entity: TokenEntity{Type: typ, Name: id}, Permissions: perms}
	fg := FineGrained{Scoped: []TokenScope{sc}}
	return sc, fg.Validate()
}
