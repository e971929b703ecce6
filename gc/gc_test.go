package gc_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/gc"
	"github.com/havenhub/haven/gitstore"
	"github.com/havenhub/haven/internal/storetest"
	"github.com/havenhub/haven/lfs"
	"github.com/havenhub/haven/xet/casstore"
)

// TestDroppedObjectsSharedBetweenRepos: an object that one repository's
// history no longer refers to is removed only when no other repository
// refers to it.
func TestDroppedObjectsSharedBetweenRepos(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t)
	if err := st.Meta.CreateUser(ctx, &haven.User{Name: "alice"}, ""); err != nil {
		t.Fatal(err)
	}
	object := func(content string) lfs.Pointer {
		sum := sha256.Sum256([]byte(content))
		p := lfs.Pointer{OID: hex.EncodeToString(sum[:]), Size: int64(len(content))}
		if err := st.Blobs.Put(ctx, blob.LFSKey(p.OID), strings.NewReader(content), p.Size); err != nil {
			t.Fatal(err)
		}
		return p
	}
	shared, own := object("shared weights"), object("weights of a alone")
	repos := map[string]*gitstore.Repo{}
	for _, name := range []string{"a", "b"} {
		r := &haven.Repo{Type: haven.Model, Namespace: "alice", Name: name}
		if err := st.Meta.CreateRepo(ctx, r); err != nil {
			t.Fatal(err)
		}
		if err := st.Git.Init(ctx, r.Type, r.RepoID()); err != nil {
			t.Fatal(err)
		}
		g, err := st.Git.Open(ctx, r.Type, r.RepoID())
		if err != nil {
			t.Fatal(err)
		}
		ops := []gitstore.Op{{Kind: gitstore.OpPut, Path: "shared.bin", Content: shared.Bytes()}}
		if name == "a" {
			ops = append(ops, gitstore.Op{Kind: gitstore.OpPut, Path: "own.bin", Content: own.Bytes()})
		}
		if _, err := g.Commit(ctx, gitstore.CommitRequest{Ref: "refs/heads/main", Author: gitstore.Signature{Name: "Alice", Email: "a@example.com"},
			Title: "weights", Ops: ops}); err != nil {
			t.Fatal(err)
		}
		repos[name] = g
	}
	c := &gc.Collector{Meta: st.Meta, Git: st.Git, Blobs: st.Blobs, CAS: casstore.New(st.Blobs)}
	steps := []struct {
		name      string
		repo      string
		drop      []string
		wantLeft  map[string]bool // object → still stored
		wantFreed int
	}{
		{"a drops both", "a", []string{shared.OID, own.OID}, map[string]bool{shared.OID: true, own.OID: false}, 1},
		{"b drops the shared one", "b", []string{shared.OID}, map[string]bool{shared.OID: false, own.OID: false}, 1},
	}
	for _, s := range steps {
		oids := map[string]bool{}
		for _, o := range s.drop {
			oids[o] = true
		}
		if _, err := repos[s.repo].DropLFSFiles(ctx, oids); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		stats, err := c.Run(ctx)
		if err != nil {
			t.Fatalf("%s: gc: %v", s.name, err)
		}
		if stats.LFSObjects != s.wantFreed {
			t.Errorf("%s: gc removed %d objects, want %d", s.name, stats.LFSObjects, s.wantFreed)
		}
		for oid, want := range s.wantLeft {
			_, err := st.Blobs.Stat(ctx, blob.LFSKey(oid))
			if got := err == nil; got != want {
				t.Errorf("%s: object %s stored = %v (%v), want %v", s.name, oid[:8], got, err, want)
			}
		}
	}
}
