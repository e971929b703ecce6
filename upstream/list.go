package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/blob"
)

// listPrefix holds one listing entry per cached public repository, so that
// the hub's listings can show them.
const listPrefix = "upstream/repos"

// listFields are the fields of repo info that a listing entry keeps.
var listFields = []string{"_id", "id", "author", "private", "gated", "disabled", "downloads", "likes", "trendingScore",
	"tags", "pipeline_tag", "library_name", "createdAt", "lastModified", "description", "sdk", "upstream"}

// reindexAfter spaces the rewrites of one repository's listing entry.
const reindexAfter = time.Hour

// index keeps the listing entry of a public repository from its info as
// this hub serves it.
func (c *Cache) index(ctx context.Context, t haven.RepoType, info []byte) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(info))
	dec.UseNumber()
	if dec.Decode(&m) != nil {
		return
	}
	id, _ := m["id"].(string)
	if id == "" {
		return
	}
	key := hashedKey(listPrefix+"/"+string(t), c.host, id)
	c.mu.Lock()
	fresh := time.Since(c.indexed[key]) < reindexAfter
	if !fresh {
		if len(c.indexed) >= maxStates {
			clear(c.indexed)
		}
		c.indexed[key] = time.Now()
	}
	c.mu.Unlock()
	if fresh {
		return
	}
	entry := map[string]any{}
	for _, k := range listFields {
		if v, ok := m[k]; ok {
			entry[k] = v
		}
	}
	if b, err := json.Marshal(entry); err == nil {
		c.putBlob(ctx, key, b)
	}
}

// Listed returns the cached public repositories of type t for the hub's
// listings: those of this upstream, in namespaces still fetched, whose id
// contains search and whose namespace is author (each when not empty). It
// implements api.FallbackLister.
func (c *Cache) Listed(ctx context.Context, t haven.RepoType, search, author string) []map[string]any {
	var out []map[string]any
	search = strings.ToLower(search)
	c.blobs.List(ctx, listPrefix+"/"+string(t)+"/", func(i blob.Info) error {
		b, err := c.getBlob(ctx, i.Key)
		if err != nil {
			return nil
		}
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if dec.Decode(&m) != nil || m["upstream"] != c.host {
			return nil
		}
		id, _ := m["id"].(string)
		ns, _, _ := strings.Cut(id, "/")
		if !c.allowed(ns) || author != "" && !strings.EqualFold(ns, author) || !strings.Contains(strings.ToLower(id), search) {
			return nil
		}
		out = append(out, m)
		return nil
	})
	return out
}
