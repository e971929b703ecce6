package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/havenhub/haven/viewer"
	"github.com/havenhub/haven/viewer/duck"
)

// Statistics follow the upstream viewer: per top-level column, by type —
// numbers (int, float), booleans, class labels, strings (labels when few
// distinct values, else text lengths) and lists (lengths) — with numpy-style
// histograms of at most 10 bins and values rounded to 5 decimals.

const histogramBins = 10

// Thresholds that make a string column categorical.
const (
	maxLabelProportion = 0.2
	maxLabels          = 1000
	alwaysLabels       = 10
)

type statItem struct {
	ColumnName       string `json:"column_name"`
	ColumnType       string `json:"column_type"`
	ColumnStatistics any    `json:"column_statistics"`
}

func round5(f float64) float64 { return math.Round(f*1e5) / 1e5 }

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return round5(float64(a) / float64(b))
}

// statistics computes the split's statistics; a failure is recorded on the
// split, it does not fail the conversion.
func (c *conversion) statistics(ctx context.Context, cfg *viewer.Config, sp *viewer.Split) {
	if len(sp.Files) == 0 {
		return
	}
	var files []string
	for _, f := range sp.Files {
		p, err := c.w.cfg.Cache.Path(ctx, f.OID)
		if err != nil {
			sp.StatsError = viewer.Errorf(500, "UnexpectedError", "%s", err)
			return
		}
		// The cache lies outside the conversion's sandbox: read a link in it.
		local := fmt.Sprintf("%s/stats-%s.parquet", c.work, f.OID)
		if err := linkOrCopy(p, local); err != nil {
			sp.StatsError = viewer.Errorf(500, "UnexpectedError", "%s", err)
			return
		}
		files = append(files, duck.Quote(local))
	}
	rel := "read_parquet([" + strings.Join(files, ", ") + "])"
	items := []statItem{}
	for _, col := range cfg.Features {
		item, err := columnStats(ctx, c.db, rel, col, sp.NumRows)
		if err != nil {
			sp.StatsError = viewer.Errorf(500, "StatisticsComputationError", "Statistics of column %q: %s", col.Name, err)
			return
		}
		if item != nil {
			items = append(items, *item)
		}
	}
	if len(items) == 0 {
		sp.StatsError = viewer.Errorf(501, "NoSupportedFeaturesError", "No columns for statistics computation found. Currently supported feature types are: ClassLabel, Value, List, Sequence")
		return
	}
	sort.Slice(items, func(i, j int) bool { return items[i].ColumnName < items[j].ColumnName })
	sp.Statistics, _ = json.Marshal(items)
}

type featureType struct {
	Type  string   `json:"_type"`
	Dtype string   `json:"dtype"`
	Names []string `json:"names"`
}

func columnStats(ctx context.Context, db *duck.DB, rel string, col viewer.Column, n int64) (*statItem, error) {
	var ft featureType
	isList := strings.HasPrefix(strings.TrimSpace(string(col.Type)), "[")
	if !isList {
		if err := json.Unmarshal(col.Type, &ft); err != nil {
			return nil, nil // a struct: no statistics, as upstream
		}
	}
	id := duck.Ident(col.Name)
	item := &statItem{ColumnName: col.Name}
	var err error
	switch {
	case isList || ft.Type == "List" || ft.Type == "LargeList" || ft.Type == "Sequence":
		item.ColumnType = "list"
		item.ColumnStatistics, err = numericStats(ctx, db, rel, "len("+id+")", n, true)
	case ft.Type == "ClassLabel":
		item.ColumnType = "class_label"
		item.ColumnStatistics, err = classLabelStats(ctx, db, rel, id, ft.Names, n)
	case ft.Type != "Value":
		return nil, nil
	case strings.HasPrefix(ft.Dtype, "int") || strings.HasPrefix(ft.Dtype, "uint"):
		item.ColumnType = "int"
		item.ColumnStatistics, err = numericStats(ctx, db, rel, id, n, true)
	case strings.HasPrefix(ft.Dtype, "float"):
		item.ColumnType = "float"
		item.ColumnStatistics, err = numericStats(ctx, db, rel, "CASE WHEN isnan("+id+") THEN NULL ELSE "+id+"::DOUBLE END", n, false)
	case ft.Dtype == "bool":
		item.ColumnType = "bool"
		item.ColumnStatistics, err = boolStats(ctx, db, rel, id, n)
	case strings.HasPrefix(ft.Dtype, "timestamp"):
		item.ColumnType = "datetime"
		item.ColumnStatistics, err = datetimeStats(ctx, db, rel, id, n, strings.Contains(ft.Dtype, "tz="))
	case ft.Dtype == "string" || ft.Dtype == "large_string":
		item.ColumnType, item.ColumnStatistics, err = stringStats(ctx, db, rel, id, n)
	default:
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return item, nil
}

// numericStats computes min, max, mean, median, std and a histogram of expr.
func numericStats(ctx context.Context, db *duck.DB, rel, expr string, n int64, integer bool) (any, error) {
	res, err := db.Query(ctx, "SELECT count(*) FILTER (WHERE v IS NULL), min(v)::DOUBLE, max(v)::DOUBLE, avg(v)::DOUBLE, median(v)::DOUBLE, stddev_samp(v)::DOUBLE FROM (SELECT "+expr+" AS v FROM "+rel+")")
	if err != nil {
		return nil, err
	}
	r := res.Rows[0]
	nulls, _ := r[0].(int64)
	out := map[string]any{"nan_count": nulls, "nan_proportion": ratio(nulls, n),
		"min": nil, "max": nil, "mean": nil, "median": nil, "std": nil, "histogram": nil}
	if r[1] == nil {
		if n == 0 {
			out["nan_proportion"] = 0.0
		} else {
			out["nan_proportion"] = 1.0
		}
		return out, nil
	}
	lo, hi := r[1].(float64), r[2].(float64)
	num := func(v any) any {
		f, ok := v.(float64)
		if !ok {
			return nil
		}
		return round5(f)
	}
	if integer {
		out["min"], out["max"] = int64(lo), int64(hi)
	} else {
		out["min"], out["max"] = round5(lo), round5(hi)
	}
	out["mean"], out["median"], out["std"] = num(r[3]), num(r[4]), num(r[5])
	edges := binEdges(lo, hi, integer)
	bins := len(edges) - 1
	var binExpr string
	if hi == lo {
		binExpr = "0"
	} else if integer {
		binExpr = fmt.Sprintf("least(floor((v - %v) / %v)::BIGINT, %d)", lo, edges[1]-edges[0], bins-1)
	} else {
		binExpr = fmt.Sprintf("least(floor((v - %v) / %v)::BIGINT, %d)", lo, (hi-lo)/float64(bins), bins-1)
	}
	hres, err := db.Query(ctx, "SELECT "+binExpr+" AS b, count(*) FROM (SELECT "+expr+" AS v FROM "+rel+") WHERE v IS NOT NULL GROUP BY b")
	if err != nil {
		return nil, err
	}
	hist := make([]int64, bins)
	for _, hr := range hres.Rows {
		b, _ := hr[0].(int64)
		if cnt, ok := hr[1].(int64); ok && b >= 0 && int(b) < bins {
			hist[b] += cnt
		}
	}
	var edgeOut any
	if integer {
		ie := make([]int64, len(edges))
		for i, e := range edges {
			ie[i] = int64(e)
		}
		edgeOut = ie
	} else {
		fe := make([]float64, len(edges))
		for i, e := range edges {
			fe[i] = round5(e)
		}
		edgeOut = fe
	}
	out["histogram"] = map[string]any{"hist": hist, "bin_edges": edgeOut}
	return out, nil
}

// binEdges returns numpy-style bin edges: 10 equal bins for floats; for
// integers bins of width ceil((max-min+1)/10) from min, with max closing
// the last bin; [min, max] when min = max.
func binEdges(lo, hi float64, integer bool) []float64 {
	if lo == hi {
		return []float64{lo, hi}
	}
	if !integer {
		edges := make([]float64, histogramBins+1)
		for i := range edges {
			edges[i] = lo + (hi-lo)*float64(i)/histogramBins
		}
		edges[histogramBins] = hi
		return edges
	}
	w := math.Ceil((hi - lo + 1) / histogramBins)
	var edges []float64
	for e := lo; e < hi; e += w {
		edges = append(edges, e)
	}
	return append(edges, hi)
}

func boolStats(ctx context.Context, db *duck.DB, rel, id string, n int64) (any, error) {
	res, err := db.Query(ctx, "SELECT "+id+", count(*) FROM "+rel+" GROUP BY 1")
	if err != nil {
		return nil, err
	}
	var nulls int64
	freq := map[string]int64{}
	for _, r := range res.Rows {
		cnt, _ := r[1].(int64)
		switch r[0] {
		case nil:
			nulls = cnt
		case true:
			freq["True"] = cnt
		case false:
			freq["False"] = cnt
		}
	}
	return map[string]any{"nan_count": nulls, "nan_proportion": ratio(nulls, n), "frequencies": freq}, nil
}

func classLabelStats(ctx context.Context, db *duck.DB, rel, id string, names []string, n int64) (any, error) {
	res, err := db.Query(ctx, "SELECT "+id+", count(*) FROM "+rel+" GROUP BY 1")
	if err != nil {
		return nil, err
	}
	var nulls, noLabel int64
	freq := map[string]int64{}
	for _, name := range names {
		freq[name] = 0
	}
	for _, r := range res.Rows {
		cnt, _ := r[1].(int64)
		if r[0] == nil {
			nulls += cnt
			continue
		}
		v, _ := r[0].(int64)
		if v == -1 {
			noLabel += cnt
		} else if v >= 0 && int(v) < len(names) {
			freq[names[v]] += cnt
		}
	}
	return map[string]any{"nan_count": nulls, "nan_proportion": ratio(nulls, n), "no_label_count": noLabel,
		"no_label_proportion": ratio(noLabel, n), "n_unique": len(names), "frequencies": freq}, nil
}

func stringStats(ctx context.Context, db *duck.DB, rel, id string, n int64) (string, any, error) {
	// As upstream, a column whose first values all read as dates is a
	// datetime column, whatever its number of distinct values.
	dres, err := db.Query(ctx, "SELECT count(*), count(*) FILTER (WHERE try_cast(v AS TIMESTAMP) IS NULL) FROM (SELECT "+id+
		" AS v FROM "+rel+" WHERE "+id+" IS NOT NULL LIMIT "+fmt.Sprint(datetimeSample)+")")
	if err != nil {
		return "", nil, err
	}
	if sample, _ := dres.Rows[0][0].(int64); sample > 0 && dres.Rows[0][1] == int64(0) {
		st, err := datetimeStats(ctx, db, rel, "try_cast("+id+" AS TIMESTAMP)", n, false)
		return "datetime", st, err
	}
	res, err := db.Query(ctx, "SELECT count(DISTINCT "+id+"), count(*) FILTER (WHERE "+id+" IS NULL) FROM "+rel)
	if err != nil {
		return "", nil, err
	}
	unique, _ := res.Rows[0][0].(int64)
	nulls, _ := res.Rows[0][1].(int64)
	if unique <= alwaysLabels || (n > 0 && float64(unique)/float64(n) <= maxLabelProportion && unique <= maxLabels) {
		fres, err := db.Query(ctx, "SELECT "+id+", count(*) FROM "+rel+" WHERE "+id+" IS NOT NULL GROUP BY 1")
		if err != nil {
			return "", nil, err
		}
		freq := map[string]int64{}
		for _, r := range fres.Rows {
			cnt, _ := r[1].(int64)
			freq[fmt.Sprint(r[0])] = cnt
		}
		return "string_label", map[string]any{"nan_count": nulls, "nan_proportion": ratio(nulls, n), "no_label_count": 0,
			"no_label_proportion": 0.0, "n_unique": unique, "frequencies": freq}, nil
	}
	st, err := numericStats(ctx, db, rel, "length("+id+")", n, true)
	return "string_text", st, err
}

// datetimeSample is how many values of a string column are tried as dates.
const datetimeSample = 100

// datetimeStats computes the statistics of a timestamp expression as
// upstream does: the numeric statistics of the whole seconds since the
// minimum, turned back into dates ("2006-01-02 15:04:05", "+0000" appended
// for zone-aware columns), std as Python prints a timedelta.
func datetimeStats(ctx context.Context, db *duck.DB, rel, expr string, n int64, tz bool) (any, error) {
	res, err := db.Query(ctx, "SELECT epoch_us(min(v)) FROM (SELECT "+expr+" AS v FROM "+rel+")")
	if err != nil {
		return nil, err
	}
	lo, ok := res.Rows[0][0].(int64)
	if !ok {
		// All null: numericStats answers the all-null shape.
		return numericStats(ctx, db, rel, "NULL::BIGINT", n, true)
	}
	st, err := numericStats(ctx, db, rel, fmt.Sprintf("(epoch_us(%s) - %d) // 1000000", expr, lo), n, true)
	if err != nil {
		return nil, err
	}
	out := st.(map[string]any)
	base := time.UnixMicro(lo).UTC()
	at := func(v any) any {
		var sec float64
		switch x := v.(type) {
		case int64:
			sec = float64(x)
		case float64:
			sec = x
		default:
			return nil
		}
		return formatDatetime(base.Add(time.Duration(math.RoundToEven(sec*1e6))*time.Microsecond), tz)
	}
	out["min"] = formatDatetime(base, tz)
	out["max"], out["mean"], out["median"] = at(out["max"]), at(out["mean"]), at(out["median"])
	if std, ok := out["std"].(float64); ok && std != 0 {
		out["std"] = pythonTimedelta(std)
	} else {
		out["std"] = nil
	}
	if h, ok := out["histogram"].(map[string]any); ok {
		edges := h["bin_edges"].([]int64)
		se := make([]any, len(edges))
		for i, e := range edges {
			se[i] = at(e)
		}
		h["bin_edges"] = se
	}
	return out, nil
}

// formatDatetime prints t as Python's strftime("%Y-%m-%d %H:%M:%S%z").
func formatDatetime(t time.Time, tz bool) string {
	s := t.Format("2006-01-02 15:04:05")
	if tz {
		s += t.Format("-0700")
	}
	return s
}

// pythonTimedelta prints a number of seconds as str(datetime.timedelta)
// does: "[D day[s], ]H:MM:SS[.ffffff]".
func pythonTimedelta(sec float64) string {
	us := int64(math.RoundToEven(sec * 1e6))
	const day = 86400 * 1_000_000
	days := us / day
	us -= days * day
	if us < 0 {
		days--
		us += day
	}
	s := fmt.Sprintf("%d:%02d:%02d", us/3_600_000_000, us/60_000_000%60, us/1_000_000%60)
	if f := us % 1_000_000; f != 0 {
		s += fmt.Sprintf(".%06d", f)
	}
	switch days {
	case 0:
		return s
	case 1, -1:
		return fmt.Sprintf("%d day, %s", days, s)
	}
	return fmt.Sprintf("%d days, %s", days, s)
}
