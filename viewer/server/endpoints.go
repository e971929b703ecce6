package server

import (
	"context"
	"encoding/json"
	"sort"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/viewer"
)

// featureItem is one entry of a features list in row responses.
type featureItem struct {
	FeatureIdx int             `json:"feature_idx"`
	Name       string          `json:"name"`
	Type       json.RawMessage `json:"type"`
}

func featureList(f viewer.Features) []featureItem {
	out := make([]featureItem, len(f))
	for i, c := range f {
		out[i] = featureItem{i, c.Name, c.Type}
	}
	return out
}

// searchable reports whether a config has a column /search can index: a
// string anywhere in its type.
func searchable(f viewer.Features) bool {
	for _, c := range f {
		if strings.Contains(string(c.Type), `"string"`) || strings.Contains(string(c.Type), `"large_string"`) ||
			strings.Contains(string(c.Type), `"Translation`) || strings.Contains(string(c.Type), `"Json"`) {
			return true
		}
	}
	return false
}

type validity struct {
	Preview    bool `json:"preview"`
	Viewer     bool `json:"viewer"`
	Search     bool `json:"search"`
	Filter     bool `json:"filter"`
	Statistics bool `json:"statistics"`
}

func (v *validity) or(o validity) {
	v.Preview = v.Preview || o.Preview
	v.Viewer = v.Viewer || o.Viewer
	v.Search = v.Search || o.Search
	v.Filter = v.Filter || o.Filter
	v.Statistics = v.Statistics || o.Statistics
}

func splitValidity(c *viewer.Config, sp *viewer.Split) validity {
	ok := len(sp.Files) > 0
	return validity{Preview: ok, Viewer: ok, Filter: ok, Search: ok && searchable(c.Features), Statistics: sp.Statistics != nil}
}

func (s *Server) isValid(ctx context.Context, req *request) (any, error) {
	var v validity
	for i := range req.st.Configs {
		c := &req.st.Configs[i]
		if req.config != "" && c.Name != req.config || c.Error != nil {
			continue
		}
		for j := range c.Splits {
			if req.split != "" && c.Splits[j].Name != req.split {
				continue
			}
			v.or(splitValidity(c, &c.Splits[j]))
		}
	}
	return v, nil
}

type splitItem struct {
	Dataset string `json:"dataset"`
	Config  string `json:"config"`
	Split   string `json:"split"`
}

type failedItem struct {
	Dataset string   `json:"dataset"`
	Config  string   `json:"config"`
	Error   errorObj `json:"error"`
}

type errorObj struct {
	Error string `json:"error"`
}

func (s *Server) splits(ctx context.Context, req *request) (any, error) {
	if req.config != "" {
		c, err := req.configOf()
		if err != nil {
			return nil, err
		}
		items := []splitItem{}
		for _, sp := range c.Splits {
			items = append(items, splitItem{req.dataset, c.Name, sp.Name})
		}
		return map[string]any{"splits": items}, nil
	}
	items, failed := []splitItem{}, []failedItem{}
	for _, c := range req.st.Configs {
		if c.Error != nil {
			failed = append(failed, failedItem{req.dataset, c.Name, errorObj{c.Error.Message}})
			continue
		}
		for _, sp := range c.Splits {
			items = append(items, splitItem{req.dataset, c.Name, sp.Name})
		}
	}
	return map[string]any{"splits": items, "pending": []any{}, "failed": failed}, nil
}

type parquetItem struct {
	Dataset  string `json:"dataset"`
	Config   string `json:"config"`
	Split    string `json:"split"`
	URL      string `json:"url"`
	Filename string `json:"filename"`
	Size     int64  `json:"size"`
}

func (s *Server) parquetFiles(dataset string, c *viewer.Config) []parquetItem {
	items := []parquetItem{}
	for _, sp := range c.Splits {
		for _, f := range sp.Files {
			name := f.Path[strings.LastIndexByte(f.Path, '/')+1:]
			items = append(items, parquetItem{dataset, c.Name, sp.Name, s.resolveURL(dataset, f.Path), name, f.Size})
		}
	}
	// Sorted by path in the export, so splits alphabetically, as upstream.
	sort.SliceStable(items, func(i, j int) bool {
		if items[i].Split != items[j].Split {
			return items[i].Split < items[j].Split
		}
		return items[i].Filename < items[j].Filename
	})
	return items
}

func (s *Server) parquet(ctx context.Context, req *request) (any, error) {
	if req.config != "" {
		c, err := req.configOf()
		if err != nil {
			return nil, err
		}
		return viewer.Obj("parquet_files", s.parquetFiles(req.dataset, c), "features", c.Features.MarshalObject(), "partial", c.Partial()), nil
	}
	files := []parquetItem{}
	failed := []map[string]any{}
	partial := false
	for i := range req.st.Configs {
		c := &req.st.Configs[i]
		if c.Error != nil {
			failed = append(failed, map[string]any{"kind": "config-parquet", "dataset": req.dataset, "config": c.Name, "split": nil})
			continue
		}
		files = append(files, s.parquetFiles(req.dataset, c)...)
		partial = partial || c.Partial()
	}
	return viewer.Obj("parquet_files", files, "pending", []any{}, "failed", failed, "partial", partial), nil
}

// cardLicense is the licence a dataset's card declares, as `datasets` puts
// it in DatasetInfo: the identifier, or several joined by ", ".
func cardLicense(repo *haven.Repo) string {
	if repo == nil {
		return ""
	}
	switch v := repo.CardData["license"].(type) {
	case string:
		return v
	case []any:
		var names []string
		for _, e := range v {
			if s, ok := e.(string); ok && s != "" {
				names = append(names, s)
			}
		}
		return strings.Join(names, ", ")
	}
	return ""
}

// datasetInfo renders a config in the DatasetInfo form of `datasets`.
func datasetInfo(st *viewer.State, c *viewer.Config, license string) viewer.Object {
	name := st.Dataset[strings.IndexByte(st.Dataset, '/')+1:]
	splits := viewer.Obj()
	var download, size int64
	for _, sp := range c.Splits {
		splits.Add(sp.Name, viewer.Obj("name", sp.Name, "num_bytes", sp.NumBytesMemory, "num_examples", sp.NumRows, "dataset_name", name))
		download += sp.NumBytesOrig
		size += sp.NumBytesMemory
	}
	return viewer.Obj("description", "", "citation", "", "homepage", "", "license", license, "features", c.Features.MarshalObject(), "builder_name", c.Format, "dataset_name", name, "config_name", c.Name, "version", viewer.Obj("version_str", "0.0.0", "major", 0, "minor", 0, "patch", 0), "splits", splits, "download_size", download, "dataset_size", size)
}

func (s *Server) info(ctx context.Context, req *request) (any, error) {
	if req.config != "" {
		c, err := req.configOf()
		if err != nil {
			return nil, err
		}
		return viewer.Obj("dataset_info", datasetInfo(req.st, c, cardLicense(req.repo)), "partial", c.Partial()), nil
	}
	infos := viewer.Obj()
	failed := []map[string]any{}
	partial := false
	for i := range req.st.Configs {
		c := &req.st.Configs[i]
		if c.Error != nil {
			failed = append(failed, map[string]any{"kind": "config-info", "dataset": req.dataset, "config": c.Name, "split": nil})
			continue
		}
		infos.Add(c.Name, datasetInfo(req.st, c, cardLicense(req.repo)))
		partial = partial || c.Partial()
	}
	return viewer.Obj("dataset_info", infos, "pending", []any{}, "failed", failed, "partial", partial), nil
}

// estimate is the estimated_num_rows of a sum of parts: null unless one of
// them is partial, else the sum of the parts' estimates, or of their row
// counts for parts that are complete (as upstream sums them).
type estimate struct {
	rows    int64
	partial bool
}

func (e *estimate) add(rows, estimated int64, partial bool) {
	if partial {
		e.rows += estimated
		e.partial = true
		return
	}
	e.rows += rows
}

func (e estimate) value() any {
	if !e.partial {
		return nil
	}
	return e.rows
}

func (s *Server) size(ctx context.Context, req *request) (any, error) {
	type totals struct {
		orig, parquet, memory, rows int64
		est                         estimate
	}
	splitSizes := []viewer.Object{}
	configSize := func(c *viewer.Config) (viewer.Object, totals) {
		var t totals
		for _, sp := range c.Splits {
			t.orig += sp.NumBytesOrig
			t.parquet += sp.ParquetBytes()
			t.memory += sp.NumBytesMemory
			t.rows += sp.NumRows
			var est estimate
			est.add(sp.NumRows, sp.EstimatedNumRows, sp.Partial)
			t.est.add(sp.NumRows, sp.EstimatedNumRows, sp.Partial)
			splitSizes = append(splitSizes, viewer.Obj("dataset", req.dataset, "config", c.Name, "split", sp.Name, "num_bytes_parquet_files", sp.ParquetBytes(), "num_bytes_memory", sp.NumBytesMemory, "num_rows", sp.NumRows, "num_columns", len(c.Features), "estimated_num_rows", est.value()))
		}
		return viewer.Obj("dataset", req.dataset, "config", c.Name, "num_bytes_original_files", t.orig, "num_bytes_parquet_files", t.parquet, "num_bytes_memory", t.memory, "num_rows", t.rows, "num_columns", len(c.Features), "estimated_num_rows", t.est.value()), t
	}
	if req.config != "" {
		c, err := req.configOf()
		if err != nil {
			return nil, err
		}
		cs, _ := configSize(c)
		return viewer.Obj("size", viewer.Obj("config", cs, "splits", splitSizes), "partial", c.Partial()), nil
	}
	configs := []viewer.Object{}
	failed := []map[string]any{}
	var all totals
	for i := range req.st.Configs {
		c := &req.st.Configs[i]
		if c.Error != nil {
			failed = append(failed, map[string]any{"kind": "config-size", "dataset": req.dataset, "config": c.Name, "split": nil})
			continue
		}
		cs, t := configSize(c)
		configs = append(configs, cs)
		all.orig += t.orig
		all.parquet += t.parquet
		all.memory += t.memory
		all.rows += t.rows
		all.est.add(t.rows, t.est.rows, t.est.partial)
	}
	ds := viewer.Obj("dataset", req.dataset, "num_bytes_original_files", all.orig, "num_bytes_parquet_files", all.parquet, "num_bytes_memory", all.memory, "num_rows", all.rows, "estimated_num_rows", all.est.value())
	return viewer.Obj("size", viewer.Obj("dataset", ds, "configs", configs, "splits", splitSizes), "pending", []any{}, "failed", failed, "partial", all.est.partial), nil
}

func (s *Server) statistics(ctx context.Context, req *request) (any, error) {
	_, sp, err := req.splitOf()
	if err != nil {
		return nil, err
	}
	if sp.StatsError != nil {
		return nil, sp.StatsError
	}
	if sp.Statistics == nil {
		return nil, errNotReady()
	}
	// Computed on the export: partial when the export is.
	return viewer.Obj("num_examples", sp.NumRows, "statistics", sp.Statistics, "partial", sp.Partial), nil
}
