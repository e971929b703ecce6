package meta

import (
	"context"
	"time"

	"github.com/havenhub/haven"
)

// Endpoint is a dedicated inference endpoint as stored. Config is its
// configuration as JSON, without secret values; Secrets is its secret
// values, sealed by the caller.
type Endpoint struct {
	ID        int64
	Namespace string
	Name      string
	Config    string
	Secrets   string
	State     string
	Message   string
	Stable    int // the revision whose model and compute the endpoint shows
	CreatedAt time.Time
	CreatedBy string
	UpdatedAt time.Time
	UpdatedBy string
}

// EndpointRevision is one immutable model and compute of an endpoint,
// pinned to a commit. Stats are its request statistics as JSON.
type EndpointRevision struct {
	EndpointID int64
	Number     int
	Commit     string
	Config     string
	Secrets    string
	State      string
	Message    string
	Stats      string
	CreatedAt  time.Time
}

// TrafficShare is the part of an endpoint's requests one revision takes.
type TrafficShare struct {
	Revision int
	Percent  int
}

func errEndpointNotFound(ns, name string) error {
	return haven.Errorf(haven.ENotFound, "Endpoint %s/%s not found", ns, name)
}

const endpointColumns = "id, namespace, name, config, secrets, state, message, stable, created_at, created_by, updated_at, updated_by"

func scanEndpoint(row interface{ Scan(...any) error }) (*Endpoint, error) {
	var e Endpoint
	if err := row.Scan(&e.ID, &e.Namespace, &e.Name, &e.Config, &e.Secrets, &e.State, &e.Message, &e.Stable,
		&e.CreatedAt, &e.CreatedBy, &e.UpdatedAt, &e.UpdatedBy); err != nil {
		return nil, err
	}
	e.CreatedAt, e.UpdatedAt = e.CreatedAt.UTC(), e.UpdatedAt.UTC()
	return &e, nil
}

// CreateEndpoint stores a new endpoint with its first revision, which takes
// all of its traffic, and fills in the ID and times. An endpoint of the same
// name in the namespace (in any case) is a conflict.
func (s *Store) CreateEndpoint(ctx context.Context, e *Endpoint, first *EndpointRevision) error {
	if !haven.ValidName(e.Namespace) || !haven.ValidName(e.Name) {
		return haven.Errorf(haven.EInvalid, "Invalid endpoint name: %q", e.Name)
	}
	e.CreatedAt = orNow(e.CreatedAt)
	e.UpdatedAt, e.Stable = e.CreatedAt, first.Number
	key := keyOf(e.Namespace, e.Name)
	return s.inTx(ctx, func(c conn) error {
		err := c.queryRow(ctx, `INSERT INTO endpoints (namespace, name, ns_key, name_key, config, secrets, state, message, stable,
			created_at, created_by, updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			e.Namespace, e.Name, key.ns, key.name, e.Config, e.Secrets, e.State, e.Message, e.Stable,
			e.CreatedAt, e.CreatedBy, e.UpdatedAt, e.UpdatedBy).Scan(&e.ID)
		if isUniqueViolation(err) {
			return haven.Errorf(haven.EConflict, "An endpoint named %s already exists in %s", e.Name, e.Namespace)
		}
		if err != nil {
			return err
		}
		first.EndpointID = e.ID
		if err := addRevision(ctx, c, first); err != nil {
			return err
		}
		return setTraffic(ctx, c, e.ID, []TrafficShare{{first.Number, 100}})
	})
}

// EndpointByName finds an endpoint by namespace and name, in any case.
func (s *Store) EndpointByName(ctx context.Context, namespace, name string) (*Endpoint, error) {
	key := keyOf(namespace, name)
	e, err := scanEndpoint(s.conn().queryRow(ctx, "SELECT "+endpointColumns+" FROM endpoints WHERE ns_key = ? AND name_key = ?", key.ns, key.name))
	return e, noRows(err, errEndpointNotFound(namespace, name))
}

// Endpoints lists the endpoints of a namespace by name, or every endpoint
// of the hub when namespace is "".
func (s *Store) Endpoints(ctx context.Context, namespace string) ([]*Endpoint, error) {
	q, args := "SELECT "+endpointColumns+" FROM endpoints ORDER BY ns_key, name_key", []any(nil)
	if namespace != "" {
		q, args = "SELECT "+endpointColumns+" FROM endpoints WHERE ns_key = ? ORDER BY name_key", []any{keyOf(namespace, "").ns}
	}
	rows, err := s.conn().query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Endpoint
	for rows.Next() {
		e, err := scanEndpoint(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// SaveEndpoint writes an endpoint's configuration, secrets, state, message,
// stable revision and updater; UpdatedAt is set to now unless given.
func (s *Store) SaveEndpoint(ctx context.Context, e *Endpoint) error {
	e.UpdatedAt = orNow(e.UpdatedAt)
	return s.conn().execOne(ctx, errEndpointNotFound(e.Namespace, e.Name),
		"UPDATE endpoints SET config = ?, secrets = ?, state = ?, message = ?, stable = ?, updated_at = ?, updated_by = ? WHERE id = ?",
		e.Config, e.Secrets, e.State, e.Message, e.Stable, e.UpdatedAt, e.UpdatedBy, e.ID)
}

// SetEndpointState records an endpoint's state and its message, leaving
// the rest (and its update time) alone.
func (s *Store) SetEndpointState(ctx context.Context, id int64, state, message string) error {
	return s.conn().execOne(ctx, haven.Errorf(haven.ENotFound, "Endpoint not found"),
		"UPDATE endpoints SET state = ?, message = ? WHERE id = ?", state, message, id)
}

// DeleteEndpoint removes an endpoint with its revisions and traffic.
func (s *Store) DeleteEndpoint(ctx context.Context, id int64) error {
	return s.inTx(ctx, func(c conn) error {
		if _, err := c.exec(ctx, "DELETE FROM endpoint_traffic WHERE endpoint_id = ?", id); err != nil {
			return err
		}
		if _, err := c.exec(ctx, "DELETE FROM endpoint_revisions WHERE endpoint_id = ?", id); err != nil {
			return err
		}
		return c.execOne(ctx, haven.Errorf(haven.ENotFound, "Endpoint not found"), "DELETE FROM endpoints WHERE id = ?", id)
	})
}

func addRevision(ctx context.Context, c conn, r *EndpointRevision) error {
	r.CreatedAt = orNow(r.CreatedAt)
	_, err := c.exec(ctx, `INSERT INTO endpoint_revisions (endpoint_id, number, commit_sha, config, secrets, state, message, stats, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.EndpointID, r.Number, r.Commit, r.Config, r.Secrets, r.State, r.Message, r.Stats, r.CreatedAt)
	if isUniqueViolation(err) {
		return haven.Errorf(haven.EConflict, "Revision %d of the endpoint exists", r.Number)
	}
	return err
}

// AddEndpointRevision stores a new revision of an endpoint.
func (s *Store) AddEndpointRevision(ctx context.Context, r *EndpointRevision) error {
	return addRevision(ctx, s.conn(), r)
}

// EndpointRevisions lists an endpoint's revisions, oldest first.
func (s *Store) EndpointRevisions(ctx context.Context, id int64) ([]*EndpointRevision, error) {
	rows, err := s.conn().query(ctx, `SELECT endpoint_id, number, commit_sha, config, secrets, state, message, stats, created_at
		FROM endpoint_revisions WHERE endpoint_id = ? ORDER BY number`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*EndpointRevision
	for rows.Next() {
		var r EndpointRevision
		if err := rows.Scan(&r.EndpointID, &r.Number, &r.Commit, &r.Config, &r.Secrets, &r.State, &r.Message, &r.Stats, &r.CreatedAt); err != nil {
			return nil, err
		}
		r.CreatedAt = r.CreatedAt.UTC()
		out = append(out, &r)
	}
	return out, rows.Err()
}

// SetRevisionState records a revision's state and message.
func (s *Store) SetRevisionState(ctx context.Context, id int64, number int, state, message string) error {
	return s.conn().execOne(ctx, haven.Errorf(haven.ENotFound, "Revision %d not found", number),
		"UPDATE endpoint_revisions SET state = ?, message = ? WHERE endpoint_id = ? AND number = ?", state, message, id, number)
}

// SetRevisionStats saves a revision's statistics.
func (s *Store) SetRevisionStats(ctx context.Context, id int64, number int, stats string) error {
	_, err := s.conn().exec(ctx, "UPDATE endpoint_revisions SET stats = ? WHERE endpoint_id = ? AND number = ?", stats, id, number)
	return err
}

func setTraffic(ctx context.Context, c conn, id int64, split []TrafficShare) error {
	if _, err := c.exec(ctx, "DELETE FROM endpoint_traffic WHERE endpoint_id = ?", id); err != nil {
		return err
	}
	for _, t := range split {
		if _, err := c.exec(ctx, "INSERT INTO endpoint_traffic (endpoint_id, revision, percent) VALUES (?, ?, ?)", id, t.Revision, t.Percent); err != nil {
			return err
		}
	}
	return nil
}

// SetEndpointTraffic replaces how an endpoint's requests are split.
func (s *Store) SetEndpointTraffic(ctx context.Context, id int64, split []TrafficShare) error {
	return s.inTx(ctx, func(c conn) error { return setTraffic(ctx, c, id, split) })
}

// EndpointTraffic returns how an endpoint's requests are split, by revision.
func (s *Store) EndpointTraffic(ctx context.Context, id int64) ([]TrafficShare, error) {
	rows, err := s.conn().query(ctx, "SELECT revision, percent FROM endpoint_traffic WHERE endpoint_id = ? ORDER BY revision", id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []TrafficShare
	for rows.Next() {
		var t TrafficShare
		if err := rows.Scan(&t.Revision, &t.Percent); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}
