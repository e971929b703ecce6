package meta

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/havenhub/haven"
)

func errWebhookNotFound() error { return haven.Errorf(haven.ENotFound, "Webhook not found") }

const webhookColumns = `w.id, w.owner_id, u.name, w.url, w.domains, w.secret, w.disabled, w.last_trigger_at,
	w.created_at, w.updated_at, w.job_source_id, w.job_secrets`

const webhookFrom = " FROM webhooks w JOIN users u ON u.id = w.owner_id"

func scanWebhook(row scanner) (*haven.Webhook, error) {
	var w haven.Webhook
	var domains string
	var last sql.NullTime
	if err := row.Scan(&w.ID, &w.OwnerID, &w.Owner, &w.URL, &domains, &w.Secret, &w.Disabled, &last,
		&w.CreatedAt, &w.UpdatedAt, &w.JobSourceID, &w.JobSecrets); err != nil {
		return nil, err
	}
	if domains != "" {
		w.Domains = strings.Split(domains, ",")
	}
	if last.Valid {
		w.LastTriggerAt = last.Time.UTC()
	}
	w.CreatedAt, w.UpdatedAt = w.CreatedAt.UTC(), w.UpdatedAt.UTC()
	return &w, nil
}

// webhooks runs a query of webhook rows and fills in what each watches.
func (s *Store) webhooks(ctx context.Context, query string, args ...any) ([]*haven.Webhook, error) {
	rows, err := s.conn().query(ctx, "SELECT "+webhookColumns+webhookFrom+" "+query, args...)
	if err != nil {
		return nil, err
	}
	var out []*haven.Webhook
	byID := map[string]*haven.Webhook{}
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, w)
		byID[w.ID] = w
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(out) == 0 {
		return out, err
	}
	args = args[:0]
	for _, w := range out {
		args = append(args, w.ID)
	}
	rows, err = s.conn().query(ctx, "SELECT webhook_id, type, name FROM webhook_watches WHERE webhook_id IN ("+
		placeholders(len(args))+") ORDER BY webhook_id, position", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var it haven.WatchedItem
		if err := rows.Scan(&id, &it.Type, &it.Name); err != nil {
			return nil, err
		}
		byID[id].Watched = append(byID[id].Watched, it)
	}
	return out, rows.Err()
}

func writeWatches(ctx context.Context, c conn, w *haven.Webhook) error {
	if _, err := c.exec(ctx, "DELETE FROM webhook_watches WHERE webhook_id = ?", w.ID); err != nil {
		return err
	}
	for i, it := range w.Watched {
		if _, err := c.exec(ctx, "INSERT INTO webhook_watches (webhook_id, position, type, name, name_key) VALUES (?, ?, ?, ?, ?)",
			w.ID, i, it.Type, it.Name, strings.ToLower(it.Name)); err != nil {
			return err
		}
	}
	return nil
}

// CreateWebhook adds w, owned by w.OwnerID, and fills its ID (unless
// set), Owner and times.
func (s *Store) CreateWebhook(ctx context.Context, w *haven.Webhook) error {
	if w.ID == "" {
		w.ID = newObjectID()
	}
	t := now()
	err := s.inTx(ctx, func(c conn) error {
		if err := c.queryRow(ctx, "SELECT name FROM users WHERE id = ?", w.OwnerID).Scan(&w.Owner); err != nil {
			return noRows(err, errUserIDNotFound(w.OwnerID))
		}
		if _, err := c.exec(ctx, `INSERT INTO webhooks (id, owner_id, url, domains, secret, disabled, created_at, updated_at, job_source_id, job_secrets)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, w.ID, w.OwnerID, w.URL, strings.Join(w.Domains, ","), w.Secret, w.Disabled, t, t, w.JobSourceID, w.JobSecrets); err != nil {
			return err
		}
		return writeWatches(ctx, c, w)
	})
	if err != nil {
		return err
	}
	w.CreatedAt, w.UpdatedAt = t, t
	return nil
}

// UpdateWebhook stores the URL or job, watched items, domains, secret and
// disabled flag of w.
func (s *Store) UpdateWebhook(ctx context.Context, w *haven.Webhook) error {
	t := now()
	err := s.inTx(ctx, func(c conn) error {
		if err := c.execOne(ctx, errWebhookNotFound(), `UPDATE webhooks SET url = ?, domains = ?, secret = ?, disabled = ?,
			updated_at = ?, job_source_id = ?, job_secrets = ? WHERE id = ?`, w.URL, strings.Join(w.Domains, ","), w.Secret, w.Disabled, t,
			w.JobSourceID, w.JobSecrets, w.ID); err != nil {
			return err
		}
		return writeWatches(ctx, c, w)
	})
	if err == nil {
		w.UpdatedAt = t
	}
	return err
}

// WebhookByID finds a webhook.
func (s *Store) WebhookByID(ctx context.Context, id string) (*haven.Webhook, error) {
	ws, err := s.webhooks(ctx, "WHERE w.id = ?", strings.ToLower(id))
	if err != nil {
		return nil, err
	}
	if len(ws) == 0 {
		return nil, errWebhookNotFound()
	}
	return ws[0], nil
}

// ListWebhooks lists the webhooks of a user, oldest first.
func (s *Store) ListWebhooks(ctx context.Context, ownerID int64) ([]*haven.Webhook, error) {
	return s.webhooks(ctx, "WHERE w.owner_id = ? ORDER BY w.created_at, w.id", ownerID)
}

// DeleteWebhook removes a webhook and its delivery log.
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	return s.inTx(ctx, func(c conn) error {
		// Children first: SQLite enforces foreign keys only when asked to.
		for _, q := range []string{"DELETE FROM webhook_deliveries WHERE webhook_id = ?", "DELETE FROM webhook_watches WHERE webhook_id = ?"} {
			if _, err := c.exec(ctx, q, id); err != nil {
				return err
			}
		}
		return c.execOne(ctx, errWebhookNotFound(), "DELETE FROM webhooks WHERE id = ?", id)
	})
}

// WatchingWebhooks lists the enabled webhooks that watch a repository of
// type t named "namespace/name", directly or through its namespace, and
// listen to domain; it marks them triggered now.
func (s *Store) WatchingWebhooks(ctx context.Context, t haven.RepoType, fullName, domain string) ([]*haven.Webhook, error) {
	ns, _, _ := strings.Cut(fullName, "/")
	ws, err := s.webhooks(ctx, `WHERE w.disabled = ? AND w.id IN (SELECT webhook_id FROM webhook_watches
		WHERE (type = ? AND name_key = ?) OR (type IN ('user', 'org') AND name_key = ?)) ORDER BY w.created_at, w.id`,
		false, string(t), strings.ToLower(fullName), strings.ToLower(ns))
	if err != nil {
		return nil, err
	}
	out := ws[:0]
	for _, w := range ws {
		for _, d := range w.Domains {
			if d == domain {
				out = append(out, w)
				break
			}
		}
	}
	if len(out) > 0 {
		args := []any{now()}
		for _, w := range out {
			args = append(args, w.ID)
		}
		if _, err := s.conn().exec(ctx, "UPDATE webhooks SET last_trigger_at = ? WHERE id IN ("+placeholders(len(out))+")", args...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

const deliveryColumns = "id, webhook_id, event, payload, status, duration_ms, response, error, attempt, created_at"

func scanDelivery(row scanner) (*haven.WebhookDelivery, error) {
	var d haven.WebhookDelivery
	var payload string
	var ms int64
	if err := row.Scan(&d.ID, &d.WebhookID, &d.Event, &payload, &d.Status, &ms, &d.Response, &d.Error, &d.Attempt, &d.CreatedAt); err != nil {
		return nil, err
	}
	d.Payload, d.Duration, d.CreatedAt = []byte(payload), time.Duration(ms)*time.Millisecond, d.CreatedAt.UTC()
	return &d, nil
}

// AddWebhookDelivery records an attempt to deliver and fills its ID and
// CreatedAt.
func (s *Store) AddWebhookDelivery(ctx context.Context, d *haven.WebhookDelivery) error {
	d.ID, d.CreatedAt = newObjectID(), now()
	_, err := s.conn().exec(ctx, "INSERT INTO webhook_deliveries ("+deliveryColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		d.ID, d.WebhookID, d.Event, string(d.Payload), d.Status, d.Duration.Milliseconds(), d.Response, d.Error, d.Attempt, d.CreatedAt)
	return err
}

// WebhookDeliveries lists a webhook's delivery log, newest first, at most
// limit entries (0: all).
func (s *Store) WebhookDeliveries(ctx context.Context, webhookID string, limit int) ([]*haven.WebhookDelivery, error) {
	q := "SELECT " + deliveryColumns + " FROM webhook_deliveries WHERE webhook_id = ? ORDER BY created_at DESC, id DESC"
	args := []any{webhookID}
	if limit > 0 {
		q += " LIMIT ?"
		args = append(args, limit)
	}
	rows, err := s.conn().query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*haven.WebhookDelivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// WebhookDelivery finds one entry of a webhook's delivery log.
func (s *Store) WebhookDelivery(ctx context.Context, webhookID, id string) (*haven.WebhookDelivery, error) {
	d, err := scanDelivery(s.conn().queryRow(ctx, "SELECT "+deliveryColumns+" FROM webhook_deliveries WHERE webhook_id = ? AND id = ?",
		webhookID, strings.ToLower(id)))
	return d, noRows(err, haven.Errorf(haven.ENotFound, "Delivery not found"))
}
