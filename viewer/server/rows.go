package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/havenhub/haven/viewer"
	"github.com/havenhub/haven/viewer/duck"
	"github.com/havenhub/haven/viewer/filter"
)

// Paging limits, as upstream.
const (
	maxRowsPerPage = 100
	queryTimeout   = 60 * time.Second
	// firstRowsMaxBytes is the budget of a /first-rows answer (the Hub's
	// production value); at least firstRowsMinRows rows are kept, and cells
	// cut to firstRowsMinCellBytes when needed.
	firstRowsMaxBytes     = 200_000
	firstRowsMinRows      = 10
	firstRowsMinCellBytes = 100
)

// rowItem is one row of a paginated answer.
type rowItem struct {
	RowIdx         int64         `json:"row_idx"`
	Row            viewer.Object `json:"row"`
	TruncatedCells []string      `json:"truncated_cells"`
}

type page struct {
	Features       []featureItem `json:"features"`
	Rows           []rowItem     `json:"rows"`
	NumRowsTotal   int64         `json:"num_rows_total"`
	NumRowsPerPage int           `json:"num_rows_per_page"`
	Partial        bool          `json:"partial"`
}

// paging reads offset and length.
func paging(req *request) (int64, int, error) {
	offset, length := int64(0), maxRowsPerPage
	if v := param(req.r, "offset"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, errParam("Parameter 'offset' must be a non-negative integer")
		}
		offset = n
	}
	if v := param(req.r, "length"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, 0, errParam("Parameter 'length' must be a non-negative integer")
		}
		if n > maxRowsPerPage {
			return 0, 0, errParam(fmt.Sprintf("Parameter 'length' must not be greater than %d", maxRowsPerPage))
		}
		length = n
	}
	return offset, length, nil
}

// shard is a parquet file of a split, local, with the index of its first row.
type shard struct {
	path  string
	start int64
	rows  int64
}

func (s *Server) shards(ctx context.Context, sp *viewer.Split) ([]shard, error) {
	out := make([]shard, 0, len(sp.Files))
	var start int64
	for _, f := range sp.Files {
		p, err := s.cfg.Cache.Path(ctx, f.OID)
		if err != nil {
			return nil, err
		}
		out = append(out, shard{p, start, f.NumRows})
		start += f.NumRows
	}
	return out, nil
}

func toRow(cols []string, vals []any) viewer.Object {
	row := make(viewer.Object, 0, len(cols))
	for i, c := range cols {
		row.Add(c, vals[i])
	}
	return row
}

// readRange returns rows [from, to) of the split, reading only the row
// groups that hold them.
func (s *Server) readRange(ctx context.Context, shards []shard, from, to int64) ([]rowItem, error) {
	items := []rowItem{}
	for _, sh := range shards {
		lo, hi := max(from, sh.start), min(to, sh.start+sh.rows)
		if lo >= hi {
			continue
		}
		res, err := s.db.Query(ctx, "SELECT * EXCLUDE (file_row_number) FROM read_parquet("+duck.Quote(sh.path)+
			", file_row_number=true) WHERE file_row_number >= ? AND file_row_number < ? ORDER BY file_row_number", lo-sh.start, hi-sh.start)
		if err != nil {
			return nil, err
		}
		for i, r := range res.Rows {
			items = append(items, rowItem{RowIdx: lo + int64(i), Row: toRow(res.Columns, r), TruncatedCells: []string{}})
		}
	}
	return items, nil
}

// readIDs returns the rows with the given indexes, in that order. Each
// shard is read with one query for all its rows, so that DuckDB reads the
// row groups they fall in, and only those, in parallel: a page of ranked
// search results is scattered over the split.
func (s *Server) readIDs(ctx context.Context, shards []shard, ids []int64) ([]rowItem, error) {
	byShard := make([][]int64, len(shards))
	for _, id := range ids {
		for i, sh := range shards {
			if id >= sh.start && id < sh.start+sh.rows {
				byShard[i] = append(byShard[i], id-sh.start)
				break
			}
		}
	}
	found := map[int64]viewer.Object{}
	for i, rel := range byShard {
		if len(rel) == 0 {
			continue
		}
		sh := shards[i]
		slices.Sort(rel)
		in := make([]string, len(rel))
		for j, id := range rel {
			in[j] = strconv.FormatInt(id, 10)
		}
		res, err := s.db.Query(ctx, "SELECT file_row_number, * EXCLUDE (file_row_number) FROM read_parquet("+duck.Quote(sh.path)+
			", file_row_number=true) WHERE file_row_number >= ? AND file_row_number <= ? AND file_row_number IN ("+strings.Join(in, ",")+")",
			rel[0], rel[len(rel)-1])
		if err != nil {
			return nil, err
		}
		for _, r := range res.Rows {
			n, _ := r[0].(int64)
			found[sh.start+n] = toRow(res.Columns[1:], r[1:])
		}
	}
	items := []rowItem{}
	for _, id := range ids {
		if row, ok := found[id]; ok {
			items = append(items, rowItem{RowIdx: id, Row: row, TruncatedCells: []string{}})
		}
	}
	return items, nil
}

func (s *Server) rows(ctx context.Context, req *request) (any, error) {
	c, sp, err := req.splitOf()
	if err != nil {
		return nil, err
	}
	offset, length, err := paging(req)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	shards, err := s.shards(ctx, sp)
	if err != nil {
		return nil, err
	}
	items, err := s.readRange(ctx, shards, offset, offset+int64(length))
	if err != nil {
		return nil, err
	}
	s.mediaCells(req, c, sp, items, "cached-assets")
	return page{featureList(c.Features), items, sp.NumRows, maxRowsPerPage, sp.Partial}, nil
}

func (s *Server) firstRows(ctx context.Context, req *request) (any, error) {
	c, sp, err := req.splitOf()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	shards, err := s.shards(ctx, sp)
	if err != nil {
		return nil, err
	}
	items, err := s.readRange(ctx, shards, 0, maxRowsPerPage)
	if err != nil {
		return nil, err
	}
	s.mediaCells(req, c, sp, items, "assets")
	feats := featureList(c.Features)
	fb, _ := json.Marshal(feats)
	if len(fb) > firstRowsMaxBytes {
		return nil, &apiError{500, "TooBigContentError", "The features alone are bigger than the first-rows budget."}
	}
	media := map[string]bool{}
	for _, f := range c.Features {
		media[f.Name] = mediaKind(f.Type) != ""
	}
	items, cut := truncateRows(items, firstRowsMaxBytes-len(fb), media)
	return viewer.Obj("dataset", req.dataset, "config", c.Name, "split", sp.Name, "features", feats, "rows", items, "truncated", cut || sp.NumRows > int64(len(items))), nil
}

func size(v any) int {
	b, _ := json.Marshal(v)
	return len(b)
}

// truncateRows fits rows into budget bytes: it drops rows from the end down
// to firstRowsMinRows, then replaces big cells, from the last row up, by
// their JSON cut to firstRowsMinCellBytes (a string), listing them in
// truncated_cells; media columns (keep) are never cut, as upstream, since a
// cut URL is useless. It reports whether anything was dropped or cut.
func truncateRows(items []rowItem, budget int, keep map[string]bool) ([]rowItem, bool) {
	total := size(items)
	if total <= budget {
		return items, false
	}
	for len(items) > firstRowsMinRows && total > budget {
		total -= size(items[len(items)-1]) + 1
		items = items[:len(items)-1]
	}
	for i := len(items) - 1; i >= 0 && total > budget; i-- {
		for j := range items[i].Row {
			cell := &items[i].Row[j]
			if keep[cell.Key] {
				continue
			}
			b, _ := json.Marshal(cell.Value)
			if len(b) <= firstRowsMinCellBytes {
				continue
			}
			cut := string(b[:firstRowsMinCellBytes])
			for !json.Valid([]byte(strconv.Quote(cut))) && len(cut) > 0 {
				cut = cut[:len(cut)-1]
			}
			before := size(cell.Value)
			cell.Value = strings.ToValidUTF8(cut, "")
			total -= before - size(cell.Value)
			items[i].TruncatedCells = append(items[i].TruncatedCells, cell.Key)
			if total <= budget {
				break
			}
		}
	}
	return items, true
}

// relation is the split as one table with the row index __hf_index_id.
func relation(shards []shard) string {
	if len(shards) == 1 {
		return "(SELECT * EXCLUDE (file_row_number), file_row_number AS __hf_index_id FROM read_parquet(" +
			duck.Quote(shards[0].path) + ", file_row_number=true))"
	}
	files := make([]string, len(shards))
	cases := make([]string, len(shards))
	for i, sh := range shards {
		files[i] = duck.Quote(sh.path)
		cases[i] = "WHEN " + duck.Quote(sh.path) + " THEN " + strconv.FormatInt(sh.start, 10)
	}
	return "(SELECT * EXCLUDE (file_row_number, __haven_file), file_row_number + CASE __haven_file " + strings.Join(cases, " ") +
		" END AS __hf_index_id FROM read_parquet([" + strings.Join(files, ", ") + "], filename='__haven_file', file_row_number=true))"
}

func plainRelation(shards []shard) string {
	files := make([]string, len(shards))
	for i, sh := range shards {
		files[i] = duck.Quote(sh.path)
	}
	return "read_parquet([" + strings.Join(files, ", ") + "])"
}

var (
	errWhere   = errParam("Parameter 'where' contains errors or invalid symbols")
	errOrderBy = errParam("Parameter 'orderby' contains errors or invalid symbols")
	errQuery   = errParam("A query parameter is invalid")
)

// FilterSQL parses where and orderby for a table with the given columns and
// returns the WHERE and ORDER BY clauses (possibly empty) and their arguments.
func FilterSQL(where, orderby string, columns []string) (string, string, []any, error) {
	w := &filter.SQL{Columns: map[string]bool{}}
	for _, c := range columns {
		w.Columns[c] = true
	}
	var whereSQL, orderSQL string
	if where != "" {
		e, err := filter.ParseWhere(where)
		if err != nil {
			return "", "", nil, errWhere
		}
		if whereSQL, err = w.Where(e); err != nil {
			return "", "", nil, errQuery
		}
	}
	if orderby != "" {
		o, err := filter.ParseOrderBy(orderby)
		if err != nil {
			return "", "", nil, errOrderBy
		}
		if orderSQL, err = w.OrderBy(o); err != nil {
			return "", "", nil, errQuery
		}
	}
	return whereSQL, orderSQL, w.Args, nil
}

func (s *Server) filter(ctx context.Context, req *request) (any, error) {
	c, sp, err := req.splitOf()
	if err != nil {
		return nil, err
	}
	offset, length, err := paging(req)
	if err != nil {
		return nil, err
	}
	cols := make([]string, len(c.Features))
	for i, f := range c.Features {
		cols[i] = f.Name
	}
	whereSQL, orderSQL, args, err := FilterSQL(param(req.r, "where"), param(req.r, "orderby"), cols)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	shards, err := s.shards(ctx, sp)
	if err != nil {
		return nil, err
	}
	cond := ""
	if whereSQL != "" {
		cond = " WHERE " + whereSQL
	}
	total, err := s.db.QueryInt(ctx, "SELECT count(*) FROM "+plainRelation(shards)+cond, args...)
	if err != nil {
		return nil, queryError(ctx, err)
	}
	items := []rowItem{}
	if length > 0 && offset < total {
		q := "SELECT * FROM " + relation(shards) + cond
		if orderSQL != "" {
			q += " ORDER BY " + orderSQL + ", __hf_index_id"
		}
		q += " LIMIT ? OFFSET ?"
		res, err := s.db.Query(ctx, q, append(append([]any{}, args...), length, offset)...)
		if err != nil {
			return nil, queryError(ctx, err)
		}
		last := len(res.Columns) - 1
		for _, r := range res.Rows {
			id, _ := r[last].(int64)
			items = append(items, rowItem{RowIdx: id, Row: toRow(res.Columns[:last], r[:last]), TruncatedCells: []string{}})
		}
	}
	s.mediaCells(req, c, sp, items, "cached-assets")
	return page{featureList(c.Features), items, total, maxRowsPerPage, sp.Partial}, nil
}

// queryError maps a failing user query to 422, as upstream, unless the
// request simply ran out of time.
func queryError(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &apiError{504, "QueryTimeoutError", "The query took too long."}
	}
	return errQuery
}
