package duck

import (
	"context"
	"fmt"
	"strings"
)

// Source is a set of input files of one format, read as one table.
type Source struct {
	Format string   // "parquet", "csv", "json" or "text" (prepared by WriteTextLines)
	Files  []string // absolute paths inside the allowed directories
	Sep    string   // CSV separator
}

// ColumnType is a column's name and DuckDB type.
type ColumnType struct {
	Name string
	Type string
}

func fileList(files []string) string {
	q := make([]string, len(files))
	for i, f := range files {
		q[i] = Quote(f)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// csvTypes are the types the CSV sniffer may choose: the ones pandas infers
// for `datasets` (integers, floats, booleans, strings), so that a column of
// dates stays a string column as it does upstream.
const csvTypes = "auto_type_candidates=['BOOLEAN', 'BIGINT', 'DOUBLE', 'VARCHAR']"

// Relation returns the SQL table expression that reads src.
func (src Source) Relation() (string, error) {
	if len(src.Files) == 0 {
		return "", fmt.Errorf("no input files")
	}
	files := fileList(src.Files)
	switch src.Format {
	case "parquet":
		return "read_parquet(" + files + ", union_by_name=true)", nil
	case "csv":
		sep := src.Sep
		if sep == "" {
			sep = ","
		}
		if len([]rune(sep)) != 1 && sep != `\t` {
			return "", fmt.Errorf("unsupported CSV separator %q: one character is needed", sep)
		}
		if sep == `\t` {
			sep = "\t"
		}
		return "read_csv(" + files + ", delim=" + Quote(sep) + ", header=true, union_by_name=true, " + csvTypes +
			", sample_size=20480, strict_mode=false, null_padding=true)", nil
	case "json":
		return "read_json(" + files + ", format='auto', union_by_name=true, sample_size=20480, maximum_object_size=33554432)", nil
	case "text":
		// The files are JSON Lines written by WriteTextLines: DuckDB reads
		// them as a stream, in order, whatever their size.
		return "read_json(" + files + ", format='newline_delimited', columns={'text': 'VARCHAR'}, maximum_object_size=" +
			fmt.Sprint(MaxTextLine*2) + ")", nil
	}
	return "", fmt.Errorf("unsupported format %q", src.Format)
}

// Describe returns the columns src would have.
func (d *DB) Describe(ctx context.Context, relation string) ([]ColumnType, error) {
	res, err := d.Query(ctx, "DESCRIBE SELECT * FROM "+relation)
	if err != nil {
		return nil, err
	}
	out := make([]ColumnType, 0, len(res.Rows))
	for _, r := range res.Rows {
		out = append(out, ColumnType{Name: fmt.Sprint(r[0]), Type: fmt.Sprint(r[1])})
	}
	return out, nil
}

// CopyToParquet writes the rows of relation to a zstd parquet file at out,
// in row groups of rowGroup rows, with kv as key-value metadata. DuckDB
// streams the rows, so memory stays within the database's limit whatever the
// input size. It returns the number of rows written.
func (d *DB) CopyToParquet(ctx context.Context, relation, out string, rowGroup int, kv map[string]string) (int64, error) {
	opts := []string{"FORMAT parquet", "COMPRESSION zstd", fmt.Sprintf("ROW_GROUP_SIZE %d", rowGroup)}
	if len(kv) > 0 {
		var pairs []string
		for k, v := range kv {
			pairs = append(pairs, Ident(k)+": "+Quote(v))
		}
		opts = append(opts, "KV_METADATA {"+strings.Join(pairs, ", ")+"}")
	}
	q := "COPY (SELECT * FROM " + relation + ") TO " + Quote(out) + " (" + strings.Join(opts, ", ") + ")"
	if err := d.Exec(ctx, q); err != nil {
		return 0, err
	}
	return d.QueryInt(ctx, "SELECT COALESCE(SUM(num_rows), 0) FROM parquet_file_metadata("+Quote(out)+")")
}

// ParquetInfo is what the footer of a parquet file says.
type ParquetInfo struct {
	NumRows           int64
	UncompressedBytes int64
	Columns           []ColumnType
	KV                map[string]string
}

// ReadParquetInfo reads a parquet file's footer.
func (d *DB) ReadParquetInfo(ctx context.Context, file string) (*ParquetInfo, error) {
	info := &ParquetInfo{KV: map[string]string{}}
	var err error
	if info.NumRows, err = d.QueryInt(ctx, "SELECT COALESCE(SUM(num_rows), 0) FROM parquet_file_metadata("+Quote(file)+")"); err != nil {
		return nil, err
	}
	if info.UncompressedBytes, err = d.QueryInt(ctx, "SELECT COALESCE(SUM(total_uncompressed_size), 0) FROM parquet_metadata("+Quote(file)+")"); err != nil {
		return nil, err
	}
	// decode, not a cast: a cast of a BLOB escapes quotes and other
	// characters as \xNN, which breaks the JSON `datasets` stores there.
	// Entries that are not UTF-8 text are skipped.
	res, err := d.Query(ctx, "SELECT k, v FROM (SELECT try(decode(key)) AS k, try(decode(value)) AS v FROM parquet_kv_metadata("+
		Quote(file)+")) WHERE k IS NOT NULL AND v IS NOT NULL")
	if err != nil {
		return nil, err
	}
	for _, r := range res.Rows {
		info.KV[fmt.Sprint(r[0])] = fmt.Sprint(r[1])
	}
	if info.Columns, err = d.Describe(ctx, "read_parquet("+Quote(file)+")"); err != nil {
		return nil, err
	}
	return info, nil
}
