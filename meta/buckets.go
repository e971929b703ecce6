package meta

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/havenhub/haven"
)

// errBucketNotFound carries the code the Python client turns into
// BucketNotFoundError on /api/buckets/ URLs.
func errBucketNotFound() error { return haven.Errorf(haven.ERepoNotFound, "Bucket not found") }

const bucketColumns = "id, namespace, name, private, created_at, updated_at, total_size, total_files"

func scanBucket(row interface{ Scan(...any) error }) (*haven.Bucket, error) {
	var b haven.Bucket
	if err := row.Scan(&b.ID, &b.Namespace, &b.Name, &b.Private, &b.CreatedAt, &b.UpdatedAt, &b.Size, &b.Files); err != nil {
		return nil, err
	}
	b.CreatedAt, b.UpdatedAt = b.CreatedAt.UTC(), b.UpdatedAt.UTC()
	return &b, nil
}

// CreateBucket stores a new, empty bucket and fills its ID and times. A
// bucket of the same name (in any case) is a conflict.
func (s *Store) CreateBucket(ctx context.Context, b *haven.Bucket) error {
	if !haven.ValidName(b.Namespace) || !haven.ValidName(b.Name) {
		return haven.Errorf(haven.EInvalid, "Invalid bucket id: %q", b.FullName())
	}
	b.CreatedAt = orNow(b.CreatedAt)
	b.UpdatedAt, b.Size, b.Files = b.CreatedAt, 0, 0
	key := keyOf(b.Namespace, b.Name)
	err := s.conn().queryRow(ctx, `INSERT INTO buckets (namespace, name, ns_key, name_key, private, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		b.Namespace, b.Name, key.ns, key.name, b.Private, b.CreatedAt, b.UpdatedAt).Scan(&b.ID)
	if isUniqueViolation(err) {
		return haven.Errorf(haven.EConflict, "You already created this bucket: %s", b.FullName())
	}
	return err
}

// BucketByName finds a bucket by namespace and name, in any case.
func (s *Store) BucketByName(ctx context.Context, namespace, name string) (*haven.Bucket, error) {
	key := keyOf(namespace, name)
	b, err := scanBucket(s.conn().queryRow(ctx, "SELECT "+bucketColumns+" FROM buckets WHERE ns_key = ? AND name_key = ?", key.ns, key.name))
	return b, noRows(err, errBucketNotFound())
}

// BucketByID finds a bucket by id.
func (s *Store) BucketByID(ctx context.Context, id int64) (*haven.Bucket, error) {
	b, err := scanBucket(s.conn().queryRow(ctx, "SELECT "+bucketColumns+" FROM buckets WHERE id = ?", id))
	return b, noRows(err, errBucketNotFound())
}

// BucketFilter selects buckets of a namespace.
type BucketFilter struct {
	Namespace string
	Search    string // part of the name, in any case
	// WithPrivate includes the namespace's private buckets.
	WithPrivate bool
}

// ListBuckets lists the buckets of a namespace by name.
func (s *Store) ListBuckets(ctx context.Context, f BucketFilter) ([]*haven.Bucket, error) {
	where, args := "ns_key = ?", []any{strings.ToLower(f.Namespace)}
	if !f.WithPrivate {
		where += " AND NOT private"
	}
	if f.Search != "" {
		where += ` AND name_key LIKE ? ESCAPE '\'`
		args = append(args, "%"+escapeLike(strings.ToLower(f.Search))+"%")
	}
	rows, err := s.conn().query(ctx, "SELECT "+bucketColumns+" FROM buckets WHERE "+where+" ORDER BY name_key", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*haven.Bucket
	for rows.Next() {
		b, err := scanBucket(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// DeleteBucket removes a bucket and its file list. The file contents stay
// in the CAS for garbage collection.
func (s *Store) DeleteBucket(ctx context.Context, id int64) error {
	return s.inTx(ctx, func(c conn) error {
		if _, err := c.exec(ctx, "DELETE FROM bucket_files WHERE bucket_id = ?", id); err != nil {
			return err
		}
		return c.execOne(ctx, errBucketNotFound(), "DELETE FROM buckets WHERE id = ?", id)
	})
}

// SetBucketPrivate changes the visibility of a bucket.
func (s *Store) SetBucketPrivate(ctx context.Context, id int64, private bool) error {
	return s.conn().execOne(ctx, errBucketNotFound(), "UPDATE buckets SET private = ?, updated_at = ? WHERE id = ?", private, now(), id)
}

// MoveBucket renames a bucket or gives it to another namespace; a bucket
// of the new name is a conflict.
func (s *Store) MoveBucket(ctx context.Context, id int64, namespace, name string) error {
	if !haven.ValidName(namespace) || !haven.ValidName(name) {
		return haven.Errorf(haven.EInvalid, "Invalid bucket id: %q", namespace+"/"+name)
	}
	key := keyOf(namespace, name)
	err := s.conn().execOne(ctx, errBucketNotFound(), "UPDATE buckets SET namespace = ?, name = ?, ns_key = ?, name_key = ?, updated_at = ? WHERE id = ?",
		namespace, name, key.ns, key.name, now(), id)
	if isUniqueViolation(err) {
		return haven.Errorf(haven.EConflict, "A bucket named %s/%s already exists", namespace, name)
	}
	return err
}

const bucketFileColumns = "path, xet_hash, size, mtime, uploaded_at"

func scanBucketFile(row interface{ Scan(...any) error }) (*haven.BucketFile, error) {
	var f haven.BucketFile
	if err := row.Scan(&f.Path, &f.XetHash, &f.Size, &f.MTime, &f.UploadedAt); err != nil {
		return nil, err
	}
	f.MTime, f.UploadedAt = f.MTime.UTC(), f.UploadedAt.UTC()
	return &f, nil
}

// BucketFiles lists, in path order, the files of a bucket whose path starts
// with prefix (as a string: "a/b" also matches "a/bc"), after the path
// after; limit 0 lists them all.
func (s *Store) BucketFiles(ctx context.Context, bucketID int64, prefix, after string, limit int) ([]*haven.BucketFile, error) {
	where, args := "bucket_id = ?", []any{bucketID}
	if prefix != "" {
		// substr counts characters in both dialects; LIKE would ignore
		// case in SQLite, and paths are case-sensitive.
		where += " AND substr(path, 1, CAST(? AS INTEGER)) = ?"
		args = append(args, utf8.RuneCountInString(prefix), prefix)
	}
	if after != "" {
		where += " AND path > ?"
		args = append(args, after)
	}
	q := "SELECT " + bucketFileColumns + " FROM bucket_files WHERE " + where + " ORDER BY path"
	if limit > 0 {
		q += " LIMIT ?"
		args = append(args, limit)
	}
	rows, err := s.conn().query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*haven.BucketFile
	for rows.Next() {
		f, err := scanBucketFile(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// BucketFilesAt returns the files of a bucket at the given paths, in path
// order; paths without a file are left out.
func (s *Store) BucketFilesAt(ctx context.Context, bucketID int64, paths []string) ([]*haven.BucketFile, error) {
	var out []*haven.BucketFile
	const batch = 500
	for len(paths) > 0 {
		n := min(len(paths), batch)
		args := []any{bucketID}
		for _, p := range paths[:n] {
			args = append(args, p)
		}
		rows, err := s.conn().query(ctx, "SELECT "+bucketFileColumns+" FROM bucket_files WHERE bucket_id = ? AND path IN (?"+
			strings.Repeat(", ?", n-1)+") ORDER BY path", args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			f, err := scanBucketFile(rows)
			if err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, f)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		paths = paths[n:]
	}
	return out, nil
}

// BucketHasHash reports whether a file of the bucket has the Xet hash.
func (s *Store) BucketHasHash(ctx context.Context, bucketID int64, xetHash string) (bool, error) {
	var n int
	err := s.conn().queryRow(ctx, "SELECT COUNT(*) FROM bucket_files WHERE bucket_id = ? AND xet_hash = ?", bucketID, xetHash).Scan(&n)
	return n > 0, err
}

// BucketChange is what one batch does to a bucket's files: Put adds or
// replaces files by path, then Delete removes paths (missing ones are
// ignored).
type BucketChange struct {
	Put    []*haven.BucketFile
	Delete []string
}

// ChangeBucketFiles applies a change in one transaction and updates the
// bucket's totals and time. Files put without an upload time get the
// current time.
func (s *Store) ChangeBucketFiles(ctx context.Context, bucketID int64, ch BucketChange) error {
	t := now()
	return s.inTx(ctx, func(c conn) error {
		for _, f := range ch.Put {
			up := t
			if !f.UploadedAt.IsZero() {
				up = dbTime(f.UploadedAt)
			}
			_, err := c.exec(ctx, `INSERT INTO bucket_files (bucket_id, path, xet_hash, size, mtime, uploaded_at) VALUES (?, ?, ?, ?, ?, ?)
				ON CONFLICT (bucket_id, path) DO UPDATE SET xet_hash = excluded.xet_hash, size = excluded.size,
				mtime = excluded.mtime, uploaded_at = excluded.uploaded_at`,
				bucketID, f.Path, f.XetHash, f.Size, orTime(f.MTime, t), up)
			if isForeignKeyViolation(err) {
				return errBucketNotFound()
			}
			if err != nil {
				return err
			}
		}
		for _, p := range ch.Delete {
			if _, err := c.exec(ctx, "DELETE FROM bucket_files WHERE bucket_id = ? AND path = ?", bucketID, p); err != nil {
				return err
			}
		}
		return c.execOne(ctx, errBucketNotFound(), `UPDATE buckets SET updated_at = ?,
			total_size = (SELECT COALESCE(SUM(size), 0) FROM bucket_files WHERE bucket_id = ?),
			total_files = (SELECT COUNT(*) FROM bucket_files WHERE bucket_id = ?) WHERE id = ?`, t, bucketID, bucketID, bucketID)
	})
}

func orTime(t, def time.Time) time.Time {
	if t.IsZero() {
		return def
	}
	return dbTime(t)
}

// BucketXetHashes returns every Xet hash some bucket file names, each
// once, for the mark phase of garbage collection.
func (s *Store) BucketXetHashes(ctx context.Context) ([]string, error) {
	rows, err := s.conn().query(ctx, "SELECT DISTINCT xet_hash FROM bucket_files")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}
