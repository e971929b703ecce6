// Package worker converts datasets for the viewer in the background. It
// leases "dataset updated" jobs from the metadata store's queue, finds the
// configs and splits of the new revision, converts every split to parquet
// with DuckDB in bounded memory, stores the files as LFS objects referenced
// from refs/convert/parquet, computes column statistics, and records the
// outcome — success or the error with its code — as the revision's
// viewer.State. A failure is recorded once and never retried forever.
package worker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/card"
	"github.com/havenhub/haven/gitstore"
	"github.com/havenhub/haven/lfs"
	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/viewer"
	"github.com/havenhub/haven/viewer/discover"
	"github.com/havenhub/haven/viewer/duck"
)

// Config is what the worker needs.
type Config struct {
	Meta  *meta.Store
	Git   *gitstore.Store
	Blobs blob.Driver
	// Dir holds the worker's scratch space and the local cache of parquet
	// files (Cache) that queries read.
	Dir   string
	Cache *viewer.Cache
	// Kind is the queue job kind to lease.
	Kind string
	// MemoryLimit bounds DuckDB during a conversion ("1GB" by default).
	MemoryLimit string
	// RowGroupSize is the largest number of rows per parquet row group
	// (100,000 by default); rows of large lines get smaller groups.
	RowGroupSize int
	// MaxSplitBytes caps the export of a converted split, in bytes of
	// uncompressed data (the upstream viewer's 5 GB of Arrow data): the
	// split keeps its first rows that fit and is marked partial. Parquet
	// files are exported as they are, never cut. 0 means no cap.
	MaxSplitBytes int64
	Logger        *slog.Logger
	// OnDone, if set, is called after a revision's state is saved (the
	// HTTP side warms its search index with it).
	OnDone func(st *viewer.State)
}

// Worker runs conversion jobs.
type Worker struct {
	cfg  Config
	name string
}

// maxAttempts bounds how often one job is leased: a job whose worker died
// (the lease ran out) more than this is recorded as failed.
const maxAttempts = 3

// lease is how long a job belongs to a worker before another may take it.
const lease = 30 * time.Minute

// New returns a worker.
func New(cfg Config) *Worker {
	if cfg.MemoryLimit == "" {
		cfg.MemoryLimit = "1GB"
	}
	if cfg.RowGroupSize == 0 {
		cfg.RowGroupSize = 100_000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	host, _ := os.Hostname()
	return &Worker{cfg: cfg, name: fmt.Sprintf("viewer-%s-%d", host, os.Getpid())}
}

// Run leases and runs jobs until ctx is done, polling every interval when
// the queue is empty.
func (w *Worker) Run(ctx context.Context, interval time.Duration) {
	for {
		ran, err := w.RunOne(ctx)
		if err != nil && ctx.Err() == nil {
			w.cfg.Logger.Warn("viewer worker", "err", err)
		}
		if ran {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// RunOne runs the next due job, if any, and reports whether there was one.
func (w *Worker) RunOne(ctx context.Context) (bool, error) {
	job, err := w.cfg.Meta.Lease(ctx, []string{w.cfg.Kind}, w.name, lease)
	if err != nil || job == nil {
		return false, err
	}
	var p viewer.JobPayload
	if err := json.Unmarshal(job.Payload, &p); err != nil {
		return true, w.cfg.Meta.Fail(ctx, job.ID, "invalid payload: "+err.Error(), time.Time{}, 1)
	}
	if job.Attempts > maxAttempts {
		st := &viewer.State{RepoID: p.RepoID, SHA: p.SHA, CreatedAt: time.Now().UTC(),
			Error: viewer.Errorf(501, "JobManagerCrashedError", "The conversion was interrupted %d times and was given up", maxAttempts)}
		if err := viewer.SaveState(ctx, w.cfg.Blobs, st); err != nil {
			return true, err
		}
		return true, w.cfg.Meta.Fail(ctx, job.ID, st.Error.Message, time.Time{}, 1)
	}
	start := time.Now()
	st, err := w.Convert(ctx, p.RepoID, p.SHA)
	if err != nil {
		if ctx.Err() != nil {
			// Shutting down: the lease runs out and the job comes back.
			return true, err
		}
		// An infrastructure failure (disk, blob store): try again later, a
		// bounded number of times.
		return true, w.cfg.Meta.Fail(ctx, job.ID, err.Error(), time.Now().Add(time.Minute), maxAttempts)
	}
	if st != nil {
		w.cfg.Logger.Info("viewer conversion", "dataset", st.Dataset, "sha", st.SHA, "configs", len(st.Configs),
			"error", st.Error != nil, "took", time.Since(start).Round(time.Millisecond))
		if w.cfg.OnDone != nil {
			w.cfg.OnDone(st)
		}
	}
	return true, w.cfg.Meta.Complete(ctx, job.ID)
}

// Convert processes one revision and saves its state. It returns (nil, nil)
// when there is nothing to do: the repository is gone, the revision is no
// longer the head, or it was processed already. Failures of the dataset
// itself are recorded in the state; the error return is for failures of the
// hub's own storage.
func (w *Worker) Convert(ctx context.Context, repoID int64, sha string) (*viewer.State, error) {
	repo, err := w.cfg.Meta.RepoByID(ctx, repoID)
	if haven.IsCode(err, haven.ENotFound) || haven.IsCode(err, haven.ERepoNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if repo.Type != haven.Dataset || !strings.EqualFold(repo.SHA, sha) {
		return nil, nil
	}
	if _, err := viewer.LoadState(ctx, w.cfg.Blobs, repoID, sha); err == nil {
		return nil, nil
	}
	g, err := w.cfg.Git.Open(ctx, repo.Type, repo.RepoID())
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(w.scratch(), "job-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	c := &conversion{w: w, g: g, repo: repo, sha: sha, work: work,
		st: &viewer.State{RepoID: repoID, Dataset: repo.FullName(), SHA: sha, CreatedAt: time.Now().UTC()}}
	if err := c.run(ctx); err != nil {
		var ve *viewer.Error
		if !errors.As(err, &ve) {
			return nil, err
		}
		c.st.Error = ve
		c.st.Configs = nil
	}
	if err := viewer.SaveState(ctx, w.cfg.Blobs, c.st); err != nil {
		return nil, err
	}
	return c.st, nil
}

func (w *Worker) scratch() string {
	d := filepath.Join(w.cfg.Dir, "work")
	os.MkdirAll(d, 0o755)
	return d
}

// conversion is the work on one revision.
type conversion struct {
	w     *Worker
	g     *gitstore.Repo
	repo  *haven.Repo
	sha   string
	work  string
	st    *viewer.State
	db    *duck.DB
	files map[string]gitstore.Entry
	ops   []gitstore.Op
}

func (c *conversion) run(ctx context.Context) error {
	var cardData map[string]any
	if readme, err := c.g.ReadFile(c.sha, "README.md"); err == nil {
		if cd, err := card.Parse(readme); err == nil {
			cardData = cd.Data
		}
	}
	if v, ok := cardData["viewer"].(bool); ok && !v {
		return viewer.Errorf(501, "NotSupportedDisabledViewerError", "The dataset viewer has been disabled on this dataset.")
	}
	c.st.Language = singleLanguage(cardData["language"])
	entries, err := c.g.List(c.sha, "", true)
	if err != nil {
		return err
	}
	c.files = map[string]gitstore.Entry{}
	var files []discover.File
	for _, e := range entries {
		if e.Type != gitstore.TypeFile {
			continue
		}
		size := e.Size
		if p, ok := c.pointer(e); ok {
			size = p.Size
		}
		c.files[e.Path] = e
		files = append(files, discover.File{Path: e.Path, Size: size})
		if strings.HasSuffix(e.Path, ".py") && !strings.Contains(e.Path, "/") && strings.TrimSuffix(e.Path, ".py") == c.repo.Name {
			return viewer.Errorf(501, "DatasetWithScriptNotSupportedError", "The dataset viewer doesn't support this dataset because it runs arbitrary Python code. Please open a discussion in the discussion tab if you think this is an error and tag a member of the Haven team.")
		}
	}
	configs, err := discover.Discover(files, cardData)
	if err != nil {
		var de *discover.Error
		if errors.As(err, &de) {
			status := 500
			if strings.HasSuffix(de.Code, "TooManyConfigsError") || strings.HasSuffix(de.Code, "TooManySplitsError") {
				status = 501
			}
			return viewer.Errorf(status, de.Code, "%s", de.Message)
		}
		return err
	}
	tmp := filepath.Join(c.work, "duck-tmp")
	os.MkdirAll(tmp, 0o755)
	c.db, err = duck.Open(duck.Options{AllowedDirs: []string{c.work}, TempDir: tmp, MemoryLimit: c.w.cfg.MemoryLimit, Threads: 2})
	if err != nil {
		return err
	}
	defer c.db.Close()
	for _, dc := range configs {
		cfg := viewer.Config{Name: dc.Name, Default: dc.Default, Format: dc.Format}
		if err := c.convertConfig(ctx, dc, &cfg); err != nil {
			var ve *viewer.Error
			if !errors.As(err, &ve) {
				return err
			}
			cfg = viewer.Config{Name: dc.Name, Default: dc.Default, Format: dc.Format, Error: ve}
		}
		c.st.Configs = append(c.st.Configs, cfg)
	}
	return c.publish(ctx)
}

// singleLanguage returns the card's language when it names exactly one.
func singleLanguage(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []any:
		if len(x) == 1 {
			s, _ := x[0].(string)
			return s
		}
	}
	return ""
}

// pointer reads an entry as an LFS pointer.
func (c *conversion) pointer(e gitstore.Entry) (lfs.Pointer, bool) {
	if e.Size > lfs.MaxPointerSize {
		return lfs.Pointer{}, false
	}
	b, err := c.g.ReadFile(c.sha, e.Path)
	if err != nil {
		return lfs.Pointer{}, false
	}
	return lfs.Parse(b)
}

// stage makes a repository file available as a local file in the work
// directory: a hard link to the blob store's file when it is on local disk,
// else a copy.
func (c *conversion) stage(ctx context.Context, p string, dst string) error {
	e, ok := c.files[p]
	if !ok {
		return viewer.Errorf(500, "FileNotFoundError", "%s is not in the repository", p)
	}
	os.MkdirAll(filepath.Dir(dst), 0o755)
	if ptr, ok := c.pointer(e); ok {
		return c.w.cfg.Cache.Materialize(ctx, ptr.OID, dst)
	}
	rc, _, err := c.g.Blob(e.OID)
	if err != nil {
		return err
	}
	defer rc.Close()
	return writeFile(dst, rc)
}

func writeFile(dst string, r io.Reader) error {
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (c *conversion) convertConfig(ctx context.Context, dc discover.Config, cfg *viewer.Config) error {
	for si, ds := range dc.Splits {
		var inputs []string
		var origBytes int64
		for i, f := range ds.Files {
			dst := filepath.Join(c.work, "in", fmt.Sprintf("%d-%d-%d%s", len(c.st.Configs), si, i, path.Ext(f.Path)))
			if err := c.stage(ctx, f.Path, dst); err != nil {
				return err
			}
			inputs = append(inputs, dst)
			origBytes += f.Size
		}
		split := viewer.Split{Name: ds.Name, NumBytesOrig: origBytes}
		var err error
		if dc.Format == discover.Parquet {
			err = c.copyParquet(ctx, dc, ds, inputs, cfg, &split)
		} else {
			err = c.convertSplit(ctx, dc, ds, inputs, cfg, &split)
		}
		if err != nil {
			return err
		}
		cfg.Splits = append(cfg.Splits, split)
	}
	for i := range cfg.Splits {
		c.statistics(ctx, cfg, &cfg.Splits[i])
	}
	return nil
}

// generationError wraps a DuckDB failure on the dataset's own files.
func generationError(err error) error {
	msg := err.Error()
	if len(msg) > 2000 {
		msg = msg[:2000]
	}
	code := "DatasetGenerationError"
	if strings.Contains(msg, "union_by_name") || strings.Contains(msg, "schema") || strings.Contains(msg, "column") && strings.Contains(msg, "mismatch") {
		code = "DatasetGenerationCastError"
	}
	return viewer.Errorf(500, code, "An error occurred while generating the dataset: %s", msg)
}

// Upstream limits on columns.
const (
	maxColumns          = 1000
	maxColumnNameLength = 500
)

func checkColumns(cols []duck.ColumnType) error {
	if len(cols) > maxColumns {
		return viewer.Errorf(500, "TooManyColumnsError", "The number of columns (%d) exceeds the maximum supported number of columns (%d).", len(cols), maxColumns)
	}
	for _, col := range cols {
		if len(col.Name) > maxColumnNameLength {
			return viewer.Errorf(500, "TooLongColumnNameError", "A column name is longer than %d characters.", maxColumnNameLength)
		}
	}
	return nil
}

func featuresOf(cols []duck.ColumnType) viewer.Features {
	out := make(viewer.Features, len(cols))
	for i, col := range cols {
		out[i] = viewer.Column{Name: col.Name, Type: duck.Feature(col.Type)}
	}
	return out
}

// hfMetadata is the parquet key-value entry `datasets` reads features from.
func hfMetadata(f viewer.Features) string {
	return `{"info":{"features":` + string(f.MarshalObject()) + `}}`
}

func (c *conversion) convertSplit(ctx context.Context, dc discover.Config, ds discover.Split, inputs []string, cfg *viewer.Config, split *viewer.Split) error {
	if dc.Format == discover.Text {
		// Text files become JSON Lines first, so that no file is ever
		// read whole into memory.
		lines := make([]string, len(inputs))
		for i, in := range inputs {
			lines[i] = in + ".jsonl"
			if err := duck.WriteTextLines(in, lines[i]); err != nil {
				return viewer.Errorf(500, "DatasetGenerationError", "An error occurred while generating the dataset: %s", err)
			}
		}
		inputs = lines
	}
	rel, err := duck.Source{Format: dc.Format, Files: inputs, Sep: dc.Sep}.Relation()
	if err != nil {
		return viewer.Errorf(500, "DatasetGenerationError", "%s", err)
	}
	cols, err := c.db.Describe(ctx, rel)
	if err != nil {
		return generationError(err)
	}
	if err := checkColumns(cols); err != nil {
		return err
	}
	feats := featuresOf(cols)
	if cfg.Features == nil {
		cfg.Features = feats
	} else if string(cfg.Features.MarshalObject()) != string(feats.MarshalObject()) {
		return viewer.Errorf(500, "DatasetGenerationCastError", "The splits of config %q have different columns or types: %s and %s",
			dc.Name, cfg.Features.MarshalObject(), feats.MarshalObject())
	}
	out := filepath.Join(c.work, "out", fmt.Sprintf("%d-%s.parquet", len(c.st.Configs), ds.Name))
	os.MkdirAll(filepath.Dir(out), 0o755)
	rg := rowGroupSize(inputs, c.w.cfg.RowGroupSize)
	kv := map[string]string{"huggingface": hfMetadata(feats)}
	n, err := c.db.CopyToParquet(ctx, rel, out, rg, kv)
	if err != nil {
		return generationError(err)
	}
	info, err := c.db.ReadParquetInfo(ctx, out)
	if err != nil {
		return err
	}
	dir := ds.Name
	if limit := c.w.cfg.MaxSplitBytes; limit > 0 && info.UncompressedBytes > limit {
		cut := out + ".partial"
		if info, err = c.cut(ctx, out, cut, n, info.UncompressedBytes, limit, rg, kv); err != nil {
			return err
		}
		split.Partial, split.EstimatedNumRows = true, n
		out, n, dir = cut, info.NumRows, "partial-"+ds.Name
	}
	pf, err := c.store(ctx, out, path.Join(dc.Name, dir, "0000.parquet"), n)
	if err != nil {
		return err
	}
	split.Files = []viewer.ParquetFile{pf}
	split.NumRows = n
	split.NumBytesMemory = info.UncompressedBytes
	return nil
}

// cut writes to dst the first rows of the parquet file src (numRows rows,
// size bytes uncompressed) that fit in limit bytes, at the average row size,
// shrinking the estimate until the written file fits. At least one row is
// kept, as a split is never exported empty.
func (c *conversion) cut(ctx context.Context, src, dst string, numRows, size, limit int64, rowGroup int, kv map[string]string) (*duck.ParquetInfo, error) {
	keep := max(1, int64(float64(numRows)*float64(limit)/float64(size)))
	for {
		rel := fmt.Sprintf("(SELECT * FROM read_parquet(%s) LIMIT %d)", duck.Quote(src), keep)
		if _, err := c.db.CopyToParquet(ctx, rel, dst, rowGroup, kv); err != nil {
			return nil, err
		}
		info, err := c.db.ReadParquetInfo(ctx, dst)
		if err != nil || info.UncompressedBytes <= limit || keep == 1 {
			return info, err
		}
		keep = max(1, keep*9/10)
	}
}

// copyParquet exports parquet files as they are: one shard per source file,
// the same LFS object.
func (c *conversion) copyParquet(ctx context.Context, dc discover.Config, ds discover.Split, inputs []string, cfg *viewer.Config, split *viewer.Split) error {
	for i, in := range inputs {
		info, err := c.db.ReadParquetInfo(ctx, in)
		if err != nil {
			return generationError(err)
		}
		if err := checkColumns(info.Columns); err != nil {
			return err
		}
		feats := featuresFromKV(info.KV["huggingface"])
		if feats == nil {
			feats = featuresOf(info.Columns)
		}
		if cfg.Features == nil {
			cfg.Features = feats
		} else if string(cfg.Features.MarshalObject()) != string(feats.MarshalObject()) {
			return viewer.Errorf(422, "SplitParquetSchemaMismatchError", "The parquet files of config %q do not all have the same columns and types", dc.Name)
		}
		pf, err := c.store(ctx, in, path.Join(dc.Name, ds.Name, fmt.Sprintf("%04d.parquet", i)), info.NumRows)
		if err != nil {
			return err
		}
		split.Files = append(split.Files, pf)
		split.NumRows += info.NumRows
		split.NumBytesMemory += info.UncompressedBytes
	}
	return nil
}

// featuresFromKV reads the features `datasets` stores in a parquet file's
// "huggingface" metadata, keeping the column order; nil if there are none.
func featuresFromKV(s string) viewer.Features {
	if s == "" {
		return nil
	}
	var doc struct {
		Info struct {
			Features json.RawMessage `json:"features"`
		} `json:"info"`
	}
	if json.Unmarshal([]byte(s), &doc) != nil || len(doc.Info.Features) == 0 {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(doc.Info.Features)))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	var out viewer.Features
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil
		}
		name, _ := t.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil
		}
		out = append(out, viewer.Column{Name: name, Type: raw})
	}
	return out
}

// store puts a parquet file into the blob store as an LFS object (unless it
// is there already), adds it to the local cache, and queues its pointer for
// the refs/convert/parquet commit.
func (c *conversion) store(ctx context.Context, file, refPath string, numRows int64) (viewer.ParquetFile, error) {
	f, err := os.Open(file)
	if err != nil {
		return viewer.ParquetFile{}, err
	}
	h := sha256.New()
	size, err := io.Copy(h, f)
	f.Close()
	if err != nil {
		return viewer.ParquetFile{}, err
	}
	oid := hex.EncodeToString(h.Sum(nil))
	key := blob.LFSKey(oid)
	if _, err := c.w.cfg.Blobs.Stat(ctx, key); errors.Is(err, blob.ErrNotFound) {
		f, err := os.Open(file)
		if err != nil {
			return viewer.ParquetFile{}, err
		}
		err = blob.PutVerified(ctx, c.w.cfg.Blobs, key, f, oid, size)
		f.Close()
		if err != nil {
			return viewer.ParquetFile{}, err
		}
	} else if err != nil {
		return viewer.ParquetFile{}, err
	}
	if err := c.w.cfg.Cache.Adopt(file, oid); err != nil {
		return viewer.ParquetFile{}, err
	}
	c.ops = append(c.ops, gitstore.Op{Kind: gitstore.OpPut, Path: refPath, Content: lfs.Pointer{OID: oid, Size: size}.Bytes()})
	return viewer.ParquetFile{Path: refPath, OID: oid, Size: size, NumRows: numRows}, nil
}

// publish replaces the content of refs/convert/parquet with the new files
// in one commit, then squashes its history, as the Hub keeps only the
// latest export.
func (c *conversion) publish(ctx context.Context) error {
	sig := gitstore.Signature{Name: "Haven dataset viewer", Email: "viewer@haven.invalid", When: time.Now()}
	var ops []gitstore.Op
	if head, err := c.g.Resolve(viewer.ParquetRef); err == nil {
		old, err := c.g.List(head, "", false)
		if err != nil {
			return err
		}
		for _, e := range old {
			ops = append(ops, gitstore.Op{Kind: gitstore.OpDelete, Path: e.Path})
		}
	}
	ops = append(ops, gitstore.Op{Kind: gitstore.OpPut, Path: ".gitattributes", Content: []byte("*.parquet filter=lfs diff=lfs merge=lfs -text\n")})
	ops = append(ops, c.ops...)
	sha, err := c.g.Commit(ctx, gitstore.CommitRequest{
		Ref: viewer.ParquetRef, CreateRef: true, Author: sig, Ops: ops,
		Title: "Update parquet files", Message: "Parquet export of " + c.sha,
	})
	if err != nil {
		if haven.ErrorCode(err) == haven.EUnprocessable || haven.ErrorCode(err) == haven.EInvalid {
			return viewer.Errorf(500, "CreateCommitError", "The parquet export could not be committed: %s", haven.ErrorMessage(err))
		}
		return err
	}
	if squashed, err := c.g.Squash(ctx, viewer.ParquetRef, sig, "Update parquet files", "Parquet export of "+c.sha); err == nil {
		sha = squashed
	}
	c.st.ParquetSHA = sha
	return nil
}

// Row groups aim at rowGroupBytes of input each: big enough that a file has
// few of them (every /rows read walks the list), small enough that reading
// one for a page of 100 rows stays cheap when rows are large.
const rowGroupBytes = 32 << 20

// rowGroupSize picks the rows per row group from the average line length of
// the inputs, between 1,000 and max rows.
func rowGroupSize(inputs []string, most int) int {
	var size, lines int64
	buf := make([]byte, 1<<20)
	for _, in := range inputs {
		f, err := os.Open(in)
		if err != nil {
			return most
		}
		for {
			n, err := f.Read(buf)
			size += int64(n)
			for _, b := range buf[:n] {
				if b == '\n' {
					lines++
				}
			}
			if err != nil {
				break
			}
		}
		f.Close()
	}
	if lines == 0 || size == 0 {
		return most
	}
	rows := rowGroupBytes / (size/lines + 1)
	return int(min(max(rows, 1000), int64(most)))
}

// linkOrCopy makes dst a hard link to src, or a copy when linking fails.
func linkOrCopy(src, dst string) error {
	if err := os.Link(src, dst); err == nil || errors.Is(err, os.ErrExist) {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return writeFile(dst, in)
}
