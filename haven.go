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

	// Fields derived from the default branch, refreshed on each push.
	SHA         string         // head of the default branch
	CardData    map[string]any // README front matter
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

// Token roles.
const (
	RoleRead  Role = "read"
	RoleWrite Role = "write"
)

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	switch Role(s) {
	case RoleRead, RoleWrite:
		return Role(s), nil
	}
	return "", Errorf(EInvalid, "Invalid token role %q: expected read or write", s)
}

// Token is an access token. Only its hash is stored; the plain text is shown once.
type Token struct {
	ID          int64
	UserID      int64
	DisplayName string
	Role        Role
	CreatedAt   time.Time
	LastUsedAt  time.Time
}

// Membership is a user's role in an organisation.
type Membership struct {
	Org  User
	Role string // "admin", "write", "read"
}

// TimeFormat is how every date leaves the server: UTC with a "Z" suffix,
// which the Python client requires.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// FormatTime renders t in TimeFormat.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }
