package meta

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"

	"github.com/havenhub/haven"
)

// Audit log listings are at most this long per page.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 100000
)

// AddAuditEntry appends e to the audit log and fills its ID and Time.
func (s *Store) AddAuditEntry(ctx context.Context, e *haven.AuditEntry) error {
	return insertAuditEntry(ctx, s.conn(), e)
}

func insertAuditEntry(ctx context.Context, c conn, e *haven.AuditEntry) error {
	e.ID = newObjectID()
	e.Time = orNow(e.Time)
	if e.ActorType == "" {
		e.ActorType = haven.AuditActorTypeUser
	}
	details := []byte("{}")
	if len(e.Details) > 0 {
		b, err := json.Marshal(e.Details)
		if err != nil {
			return err
		}
		details = b
	}
	_, err := c.exec(ctx, `INSERT INTO audit_log (id, created_at, action, actor_id, actor_name, actor_type, token_id,
		ip, user_agent, namespace, namespace_key, target_type, target, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.Time, e.Action, e.ActorID, e.ActorName, e.ActorType, e.TokenID, e.IP, e.UserAgent, e.Namespace,
		strings.ToLower(e.Namespace), e.TargetType, e.Target, string(details))
	return err
}

// AuditEntries lists the entries f selects, newest first. A filter without
// a namespace or actor selects nothing, so that a mistake never lists the
// whole log.
func (s *Store) AuditEntries(ctx context.Context, f haven.AuditFilter) ([]*haven.AuditEntry, error) {
	var where []string
	var args []any
	switch {
	case f.Namespace != "":
		where, args = append(where, "namespace_key = ?"), append(args, strings.ToLower(f.Namespace))
	case f.ActorID != 0:
		where, args = append(where, "actor_id = ?"), append(args, f.ActorID)
	default:
		return nil, nil
	}
	if f.Namespace != "" && f.ActorID != 0 {
		where, args = append(where, "actor_id = ?"), append(args, f.ActorID)
	}
	if f.Action != "" {
		// An exact action, or every action of a scope: "repo" matches
		// "repo.create" ('/' is the character after '.').
		where = append(where, "(action = ? OR (action >= ? AND action < ?))")
		args = append(args, f.Action, f.Action+".", f.Action+"/")
	}
	for _, a := range f.Exclude {
		where, args = append(where, "action <> ?"), append(args, a)
	}
	if !f.From.IsZero() {
		where, args = append(where, "created_at >= ?"), append(args, dbTime(f.From))
	}
	if !f.To.IsZero() {
		where, args = append(where, "created_at <= ?"), append(args, dbTime(f.To))
	}
	if f.Before != "" {
		where, args = append(where, "seq < (SELECT seq FROM audit_log WHERE id = ?)"), append(args, f.Before)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultAuditLimit
	}
	limit = min(limit, MaxAuditLimit)
	rows, err := s.conn().query(ctx, `SELECT id, created_at, action, actor_id, actor_name, actor_type, token_id, ip, user_agent,
		namespace, target_type, target, details FROM audit_log WHERE `+strings.Join(where, " AND ")+" ORDER BY seq DESC LIMIT ?",
		append(args, limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*haven.AuditEntry
	for rows.Next() {
		var e haven.AuditEntry
		var details sql.NullString
		if err := rows.Scan(&e.ID, &e.Time, &e.Action, &e.ActorID, &e.ActorName, &e.ActorType, &e.TokenID, &e.IP, &e.UserAgent,
			&e.Namespace, &e.TargetType, &e.Target, &details); err != nil {
			return nil, err
		}
		e.Time = e.Time.UTC()
		if details.String != "" && details.String != "{}" {
			if err := json.Unmarshal([]byte(details.String), &e.Details); err != nil {
				return nil, err
			}
		}
		out = append(out, &e)
	}
	return out, rows.Err()
}
