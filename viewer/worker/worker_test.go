package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/gitstore"
	"github.com/havenhub/haven/internal/storetest"
	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/viewer"
)

// env is a hub's storage in a temporary folder.
type env struct {
	t     *testing.T
	meta  *meta.Store
	git   *gitstore.Store
	blobs blob.Driver
	w     *Worker
	cache *viewer.Cache
	owner *haven.User
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st := storetest.Open(t)
	dir, m, g, b := st.Dir, st.Meta, st.Git, st.Blobs
	cache, err := viewer.NewCache(filepath.Join(dir, "viewer", "cache"), b)
	if err != nil {
		t.Fatal(err)
	}
	u := &haven.User{Name: "alice"}
	if err := m.CreateUser(ctx, u, ""); err != nil {
		t.Fatal(err)
	}
	w := New(Config{Meta: m, Git: g, Blobs: b, Dir: filepath.Join(dir, "viewer"), Cache: cache, Kind: viewer.JobKind})
	return &env{t: t, meta: m, git: g, blobs: b, w: w, cache: cache, owner: u}
}

// dataset creates a dataset with the given files and returns it with its head.
func (e *env) dataset(name string, files map[string]string) *haven.Repo {
	e.t.Helper()
	ctx := context.Background()
	id := haven.RepoID{Namespace: "alice", Name: name}
	if err := e.git.Init(ctx, haven.Dataset, id); err != nil {
		e.t.Fatal(err)
	}
	g, err := e.git.Open(ctx, haven.Dataset, id)
	if err != nil {
		e.t.Fatal(err)
	}
	var ops []gitstore.Op
	for p, c := range files {
		ops = append(ops, gitstore.Op{Kind: gitstore.OpPut, Path: p, Content: []byte(c)})
	}
	sha, err := g.Commit(ctx, gitstore.CommitRequest{Ref: "refs/heads/main", Ops: ops, Title: "data",
		Author: gitstore.Signature{Name: "alice", Email: "alice@example.com"}})
	if err != nil {
		e.t.Fatal(err)
	}
	r := &haven.Repo{Type: haven.Dataset, Namespace: "alice", Name: name}
	if err := e.meta.CreateRepo(ctx, r); err != nil {
		e.t.Fatal(err)
	}
	if err := e.meta.UpdateRepoContent(ctx, r.ID, meta.RepoContent{SHA: sha}); err != nil {
		e.t.Fatal(err)
	}
	r.SHA = sha
	return r
}

func (e *env) convert(r *haven.Repo) *viewer.State {
	e.t.Helper()
	st, err := e.w.Convert(context.Background(), r.ID, r.SHA)
	if err != nil {
		e.t.Fatal(err)
	}
	if st == nil {
		e.t.Fatal("Convert did nothing")
	}
	return st
}

func TestConvertFormats(t *testing.T) {
	e := newEnv(t)
	csv := "name,age,ok,score\n"
	for i := 0; i < 30; i++ {
		csv += strings.Repeat("x", i%3) + "person,"
		csv += []string{"1", "2", "3"}[i%3] + ",true,0.5\n"
	}
	tests := []struct {
		name     string
		files    map[string]string
		splits   map[string]int64 // split → rows
		features string
	}{
		{"csv", map[string]string{"data/train.csv": csv, "data/test.csv": "name,age,ok,score\nbob,3,false,1.5\n"},
			map[string]int64{"train": 30, "test": 1},
			`{"name":{"dtype":"string","_type":"Value"},"age":{"dtype":"int64","_type":"Value"},"ok":{"dtype":"bool","_type":"Value"},"score":{"dtype":"float64","_type":"Value"}}`},
		{"jsonl", map[string]string{"train.jsonl": `{"a":1,"b":"x","c":[1,2],"d":{"e":"f"}}` + "\n" + `{"a":2,"b":"y","c":[],"d":{"e":"g"}}` + "\n"},
			map[string]int64{"train": 2},
			`{"a":{"dtype":"int64","_type":"Value"},"b":{"dtype":"string","_type":"Value"},"c":{"feature":{"dtype":"int64","_type":"Value"},"_type":"List"},"d":{"e":{"dtype":"string","_type":"Value"}}}`},
		{"text", map[string]string{"notes.txt": "first line\r\nsecond\n\nfourth\n"},
			map[string]int64{"train": 4},
			`{"text":{"dtype":"string","_type":"Value"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := e.convert(e.dataset(tc.name, tc.files))
			if st.Error != nil {
				t.Fatalf("state error: %+v", st.Error)
			}
			if len(st.Configs) != 1 || st.Configs[0].Error != nil {
				b, _ := json.Marshal(st.Configs)
				t.Fatalf("configs: %s", b)
			}
			c := st.Configs[0]
			if got := string(c.Features.MarshalObject()); got != tc.features {
				t.Errorf("features\n got %s\nwant %s", got, tc.features)
			}
			if len(c.Splits) != len(tc.splits) {
				t.Fatalf("splits: %+v", c.Splits)
			}
			for _, sp := range c.Splits {
				if sp.NumRows != tc.splits[sp.Name] {
					t.Errorf("split %s: %d rows, want %d", sp.Name, sp.NumRows, tc.splits[sp.Name])
				}
				if len(sp.Files) != 1 || sp.Files[0].Path != "default/"+sp.Name+"/0000.parquet" {
					t.Errorf("split %s files: %+v", sp.Name, sp.Files)
				}
				if sp.Statistics == nil {
					t.Errorf("split %s: no statistics (%v)", sp.Name, sp.StatsError)
				}
			}
			if st.ParquetSHA == "" {
				t.Error("no refs/convert/parquet commit")
			}
		})
	}
}

func TestConvertFailuresAreRecorded(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name  string
		files map[string]string
		code  string // on the state, or on its only config
	}{
		{"nodata", map[string]string{"README.md": "# nothing"}, "DataFilesNotFoundError"},
		{"disabled", map[string]string{"README.md": "---\nviewer: false\n---\n", "a.csv": "a\n1\n"}, "NotSupportedDisabledViewerError"},
		{"images", map[string]string{"img/a.png": "x", "img/b.png": "y"}, "DatasetGenerationError"},
		{"badjson", map[string]string{"train.jsonl": "{not json\n"}, "DatasetGenerationError"},
		{"mismatch", map[string]string{"train.csv": "a,b\n1,2\n", "test.csv": "c\nx\n"}, "DatasetGenerationCastError"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.dataset(tc.name, tc.files)
			st := e.convert(r)
			got := ""
			if st.Error != nil {
				got = st.Error.Code
			} else if len(st.Configs) == 1 && st.Configs[0].Error != nil {
				got = st.Configs[0].Error.Code
			}
			if got != tc.code {
				b, _ := json.Marshal(st)
				t.Fatalf("code %q, want %q: %s", got, tc.code, b)
			}
			// Recorded once: converting the same revision again does nothing.
			if again, err := e.w.Convert(context.Background(), r.ID, r.SHA); err != nil || again != nil {
				t.Errorf("second conversion: %v, %v", again, err)
			}
			saved, err := viewer.LoadState(context.Background(), e.blobs, r.ID, r.SHA)
			if err != nil || saved.SHA != r.SHA {
				t.Errorf("saved state: %+v, %v", saved, err)
			}
		})
	}
}

func TestConvertConfigsAndExportRef(t *testing.T) {
	e := newEnv(t)
	card := "---\nconfigs:\n- config_name: en\n  data_files:\n  - split: train\n    path: en/*.csv\n- config_name: fr\n  data_files: fr/*.csv\n---\n"
	r := e.dataset("cfgs", map[string]string{"README.md": card, "en/a.csv": "x\n1\n2\n", "fr/b.csv": "y\nz\n"})
	st := e.convert(r)
	if st.Error != nil || len(st.Configs) != 2 {
		t.Fatalf("state: %+v", st)
	}
	g, err := e.git.Open(context.Background(), haven.Dataset, r.RepoID())
	if err != nil {
		t.Fatal(err)
	}
	refs, err := g.Refs()
	if err != nil || len(refs.Converts) != 1 || refs.Converts[0].Name != "parquet" || refs.Converts[0].Target != st.ParquetSHA {
		t.Fatalf("converts: %+v %v", refs.Converts, err)
	}
	entries, err := g.List(st.ParquetSHA, "", true)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, en := range entries {
		if en.Type == gitstore.TypeFile {
			paths = append(paths, en.Path)
		}
	}
	want := []string{".gitattributes", "en/train/0000.parquet", "fr/train/0000.parquet"}
	if strings.Join(paths, " ") != strings.Join(want, " ") {
		t.Errorf("export files %v, want %v", paths, want)
	}
	// The shards are LFS objects in the blob store.
	for _, c := range st.Configs {
		f := c.Splits[0].Files[0]
		if info, err := e.blobs.Stat(context.Background(), blob.LFSKey(f.OID)); err != nil || info.Size != f.Size {
			t.Errorf("%s: blob %+v, %v", f.Path, info, err)
		}
	}
}

func TestConvertCapMakesPartialSplits(t *testing.T) {
	var big strings.Builder
	big.WriteString("text,n\n")
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&big, "%s %d,%d\n", strings.Repeat("row text ", 10), i, i)
	}
	tests := []struct {
		name        string
		cap         int64
		partial     bool
		dir         string
		wantAllRows bool
	}{
		{"nocap", 0, false, "default/train/0000.parquet", true},
		{"roomy", 1 << 30, false, "default/train/0000.parquet", true},
		{"tiny", 20_000, true, "default/partial-train/0000.parquet", false},
		{"onerow", 1, true, "default/partial-train/0000.parquet", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.w.cfg.MaxSplitBytes = tc.cap
			st := e.convert(e.dataset("cap"+tc.name, map[string]string{"train.csv": big.String()}))
			if st.Error != nil || len(st.Configs) != 1 || st.Configs[0].Error != nil {
				b, _ := json.Marshal(st)
				t.Fatalf("state: %s", b)
			}
			c := &st.Configs[0]
			sp := c.Splits[0]
			if sp.Partial != tc.partial || c.Partial() != tc.partial || sp.Files[0].Path != tc.dir {
				t.Fatalf("partial %v (config %v), files %+v", sp.Partial, c.Partial(), sp.Files)
			}
			if tc.wantAllRows {
				if sp.NumRows != 2000 || sp.EstimatedNumRows != 0 {
					t.Errorf("rows %d, estimated %d", sp.NumRows, sp.EstimatedNumRows)
				}
				return
			}
			if sp.NumRows < 1 || sp.NumRows >= 2000 || sp.EstimatedNumRows != 2000 || sp.Files[0].NumRows != sp.NumRows {
				t.Errorf("rows %d (file %d), estimated %d", sp.NumRows, sp.Files[0].NumRows, sp.EstimatedNumRows)
			}
			if tc.cap > 1 && sp.NumBytesMemory > tc.cap {
				t.Errorf("%d bytes exported, cap %d", sp.NumBytesMemory, tc.cap)
			}
		})
	}
}
