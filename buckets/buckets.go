// Package buckets serves storage buckets: flat sets of files named by path,
// whose contents live in the Xet CAS and are addressed by their Xet hash,
// without git or history. It answers the Hub's bucket API (/api/buckets/…,
// /buckets/{id}/resolve/…), hands out Xet tokens for buckets, and gives the
// jobs service Materialize and SyncBack to copy a bucket folder into a
// workload's folder and back.
//
// Private buckets are hidden from everyone outside their namespace with the
// answer given for a bucket that does not exist. Every right is decided in
// auth (CanReadBucket, CanWriteBucket, CanAdminBucket, CanCreateBucketIn).
package buckets

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/xet"
	"github.com/havenhub/haven/xet/casapi"
	"github.com/havenhub/haven/xet/casstore"
)

// Config is what the service needs.
type Config struct {
	Meta *meta.Store
	// Blobs is the blob store of the Xet CAS that xet/casapi serves under /v1.
	Blobs     blob.Driver
	PublicURL string // base of URLs in answers, e.g. "http://127.0.0.1:8080"
	// Secret is the server's secret (casapi.Config.Secret): it signs the
	// Xet tokens handed out for buckets, which the CAS checks.
	Secret []byte
	// XetOff says the server does not serve the Xet CAS (haven serve
	// --xet=false): the token endpoints then refuse, since no CAS would take
	// the tokens. Downloads through resolve and jobs' folders still work.
	XetOff bool
	Logger *slog.Logger
}

// Service serves buckets. Create it with New.
type Service struct {
	meta   *meta.Store
	cas    *casstore.Store
	base   string
	secret []byte
	xetOff bool
	log    *slog.Logger
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{
		meta:   cfg.Meta,
		cas:    casstore.New(cfg.Blobs),
		base:   strings.TrimRight(cfg.PublicURL, "/"),
		secret: cfg.Secret,
		xetOff: cfg.XetOff,
		log:    cfg.Logger,
	}
}

// reservedNames are bucket names that the routing of /{ns}/{name}/… paths
// (git and downloads of model repositories) would take before a bucket's
// /buckets/{ns}/{name}/resolve/… URLs reach this package.
var reservedNames = map[string]bool{"info": true, "git-upload-pack": true, "git-receive-pack": true, "resolve": true, "raw": true}

// splitID parses "namespace/name".
func splitID(id string) (ns, name string, err error) {
	ns, name, ok := strings.Cut(id, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return "", "", haven.Errorf(haven.EInvalid, "Invalid bucket id %q: expected namespace/name", id)
	}
	return ns, name, nil
}

// find returns the bucket named id ("namespace/name") if the actor may
// read it; a bucket the actor may not see is not found.
func (s *Service) find(ctx context.Context, a *auth.Actor, id string) (*haven.Bucket, error) {
	ns, name, err := splitID(id)
	if err != nil {
		return nil, err
	}
	return s.findIn(ctx, a, ns, name)
}

func (s *Service) findIn(ctx context.Context, a *auth.Actor, ns, name string) (*haven.Bucket, error) {
	b, err := s.meta.BucketByName(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	if err := auth.CanReadBucket(a, b); err != nil {
		return nil, err
	}
	return b, nil
}

// Create makes a new bucket in namespace. private nil means the
// namespace's default (private for organisations that chose so).
func (s *Service) Create(ctx context.Context, a *auth.Actor, namespace, name string, private *bool) (*haven.Bucket, error) {
	owner, err := s.meta.UserByName(ctx, namespace)
	if haven.IsCode(err, haven.ENotFound) {
		return nil, haven.Errorf(haven.ENotFound, "Namespace %q not found", namespace)
	}
	if err != nil {
		return nil, err
	}
	if err := auth.CanCreateBucketIn(a, owner.Name); err != nil {
		return nil, err
	}
	if !haven.ValidName(name) || reservedNames[strings.ToLower(name)] {
		return nil, haven.Errorf(haven.EInvalid, "Invalid bucket name %q", name)
	}
	b := &haven.Bucket{Namespace: owner.Name, Name: name}
	switch {
	case private != nil:
		b.Private = *private
	case owner.IsOrg:
		if b.Private, err = s.meta.OrgDefaultPrivate(ctx, owner.ID); err != nil {
			return nil, err
		}
	}
	if err := s.meta.CreateBucket(ctx, b); err != nil {
		return nil, err
	}
	return b, nil
}

// Info returns the bucket named id if the actor may read it.
func (s *Service) Info(ctx context.Context, a *auth.Actor, id string) (*haven.Bucket, error) {
	return s.find(ctx, a, id)
}

// List returns the buckets of namespace that the actor may see.
func (s *Service) List(ctx context.Context, a *auth.Actor, namespace, search string) ([]*haven.Bucket, error) {
	f := meta.BucketFilter{Namespace: namespace, Search: search}
	f.WithPrivate = auth.CanReadBucket(a, &haven.Bucket{Namespace: namespace, Private: true}) == nil
	return s.meta.ListBuckets(ctx, f)
}

// Delete removes a bucket. File contents stay in the CAS until garbage
// collection.
func (s *Service) Delete(ctx context.Context, a *auth.Actor, id string) error {
	b, err := s.find(ctx, a, id)
	if err != nil {
		return err
	}
	if err := auth.CanAdminBucket(a, b); err != nil {
		return err
	}
	return s.meta.DeleteBucket(ctx, b.ID)
}

// SetPrivate changes the visibility of a bucket.
func (s *Service) SetPrivate(ctx context.Context, a *auth.Actor, id string, private bool) error {
	b, err := s.find(ctx, a, id)
	if err != nil {
		return err
	}
	if err := auth.CanAdminBucket(a, b); err != nil {
		return err
	}
	return s.meta.SetBucketPrivate(ctx, b.ID, private)
}

// Move renames a bucket or gives it to another namespace, in which the
// actor must be allowed to create buckets.
func (s *Service) Move(ctx context.Context, a *auth.Actor, from, to string) error {
	b, err := s.find(ctx, a, from)
	if err != nil {
		return err
	}
	if err := auth.CanAdminBucket(a, b); err != nil {
		return err
	}
	ns, name, err := splitID(to)
	if err != nil {
		return err
	}
	owner, err := s.meta.UserByName(ctx, ns)
	if err != nil {
		return err
	}
	if err := auth.CanCreateBucketIn(a, owner.Name); err != nil {
		return err
	}
	if !haven.ValidName(name) || reservedNames[strings.ToLower(name)] {
		return haven.Errorf(haven.EInvalid, "Invalid bucket name %q", name)
	}
	return s.meta.MoveBucket(ctx, b.ID, owner.Name, name)
}

// XetToken returns a CAS token for the bucket named id: a write token if
// the actor may write it, else a read token if the actor may read it.
func (s *Service) XetToken(ctx context.Context, a *auth.Actor, id string, write bool) (token string, exp time.Time, err error) {
	b, err := s.find(ctx, a, id)
	if err != nil {
		return "", exp, err
	}
	if write {
		if err := auth.CanWriteBucket(a, b); err != nil {
			return "", exp, err
		}
	}
	exp = time.Now().Add(casapi.TokenTTL)
	return casapi.Token(s.secret, casapi.Claims{Bucket: b.ID, Write: write, Exp: exp.Unix()}), exp, nil
}

// emptyFile is the Xet hash of a file without content; clients may name it
// without uploading anything.
var emptyFile = xet.FileHash(nil)

// stat returns the size of a file stored in the CAS, or EInvalid when the
// CAS does not have it.
func (s *Service) stat(ctx context.Context, hash string) (int64, error) {
	h, err := xet.ParseHash(strings.ToLower(hash))
	if err != nil {
		return 0, haven.Errorf(haven.EInvalid, "Invalid Xet hash %q", hash)
	}
	if h == emptyFile {
		return 0, nil
	}
	f, err := s.cas.File(ctx, h)
	if errors.Is(err, blob.ErrNotFound) {
		return 0, haven.Errorf(haven.EInvalid, "Xet file %s is not stored: upload it first", hash)
	}
	if err != nil {
		return 0, err
	}
	return f.Size, nil
}
