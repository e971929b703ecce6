// Package duck runs DuckDB for the dataset viewer: converting CSV, JSON
// Lines and text files to parquet, reading parquet footers, and queries over
// parquet files. It is the only package that links DuckDB.
//
// Every database it opens is locked down before any query runs: no extension
// is installed or loaded, the file system is reachable only below the
// allowed directories, and the configuration is then frozen, so that even a
// query that reached DuckDB unchecked could not read /etc/passwd or turn the
// protections off.
package duck

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/base64"
	"fmt"
	"math"
	"math/big"
	"path/filepath"
	"strings"
	"sync"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// Options configure a database.
type Options struct {
	// AllowedDirs are the only directories DuckDB may read or write.
	AllowedDirs []string
	// TempDir is where DuckDB spills when a query exceeds MemoryLimit; it
	// must lie inside AllowedDirs. Empty: no spilling.
	TempDir string
	// MemoryLimit bounds DuckDB's memory, e.g. "512MB". Empty: DuckDB's default.
	MemoryLimit string
	// Threads bounds DuckDB's worker threads; 0 leaves DuckDB's default.
	Threads int
}

// DB is a locked-down in-memory DuckDB database.
type DB struct {
	db        *sql.DB
	connector *duckdb.Connector
}

// Quote renders s as an SQL string literal.
func Quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Ident renders s as a quoted SQL identifier.
func Ident(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// Open starts a database with the given limits.
func Open(opts Options) (*DB, error) {
	settings := []string{
		"SET autoinstall_known_extensions=false",
		"SET autoload_known_extensions=false",
		// Footers are read once per file, not once per query.
		"SET parquet_metadata_cache=true",
	}
	if opts.MemoryLimit != "" {
		settings = append(settings, "SET memory_limit="+Quote(opts.MemoryLimit))
	}
	if opts.Threads > 0 {
		settings = append(settings, fmt.Sprintf("SET threads=%d", opts.Threads))
	}
	if opts.TempDir != "" {
		settings = append(settings, "SET temp_directory="+Quote(opts.TempDir))
	}
	var dirs []string
	for _, d := range opts.AllowedDirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, err
		}
		dirs = append(dirs, Quote(strings.TrimSuffix(abs, "/")+"/"))
	}
	// Settings are global to the database: the first connection applies them
	// and locks them; later connections find them in force.
	settings = append(settings,
		"SET allowed_directories=["+strings.Join(dirs, ",")+"]",
		"SET enable_external_access=false",
		"SET lock_configuration=true",
	)
	var once sync.Once
	var initErr error
	c, err := duckdb.NewConnector("", func(ex driver.ExecerContext) error {
		once.Do(func() {
			for _, s := range settings {
				if _, err := ex.ExecContext(context.Background(), s, nil); err != nil {
					initErr = fmt.Errorf("duckdb %s: %w", s, err)
					return
				}
			}
		})
		return initErr
	})
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(c)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, err
	}
	return &DB{db: db, connector: c}, nil
}

// Close releases the database.
func (d *DB) Close() error {
	err := d.db.Close()
	d.connector.Close()
	return err
}

// Exec runs a statement.
func (d *DB) Exec(ctx context.Context, query string, args ...any) error {
	_, err := d.db.ExecContext(ctx, query, args...)
	return err
}

// Result is the answer of a query: column names and rows of JSON-ready cells.
type Result struct {
	Columns []string
	Rows    [][]any
}

// Query runs a query and returns every row, cells converted with Cell.
func (d *DB) Query(ctx context.Context, query string, args ...any) (*Result, error) {
	rows, err := d.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	res := &Result{Columns: cols}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i := range vals {
			vals[i] = Cell(vals[i])
		}
		res.Rows = append(res.Rows, vals)
	}
	return res, rows.Err()
}

// QueryInt runs a query that returns one integer.
func (d *DB) QueryInt(ctx context.Context, query string, args ...any) (int64, error) {
	var n sql.NullInt64
	err := d.db.QueryRowContext(ctx, query, args...).Scan(&n)
	return n.Int64, err
}

// Cell converts a value from the driver to what the viewer sends as JSON, as
// the upstream viewer does: datetimes as RFC 3339 strings, bytes as base64,
// non-finite floats as null, decimals as numbers.
func Cell(v any) any {
	switch x := v.(type) {
	case nil, bool, string, int64, int32, int16, int8, uint64, uint32, uint16, uint8, int, uint:
		return x
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
		return x
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil
		}
		return float64(x)
	case *big.Int:
		return x.String()
	case time.Time:
		if x.Hour() == 0 && x.Minute() == 0 && x.Second() == 0 && x.Nanosecond() == 0 && x.Location() == time.UTC {
			return x.Format(time.RFC3339)
		}
		return x.UTC().Format(time.RFC3339Nano)
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	case duckdb.Decimal:
		return x.Float64()
	case duckdb.UUID:
		return fmt.Sprintf("%x-%x-%x-%x-%x", x[0:4], x[4:6], x[6:8], x[8:10], x[10:16])
	case *duckdb.UUID:
		return Cell(*x)
	case duckdb.Interval:
		return fmt.Sprintf("%d months %d days %d us", x.Months, x.Days, x.Micros)
	case duckdb.Union:
		return Cell(x.Value)
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = Cell(x[i])
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = Cell(e)
		}
		return out
	case duckdb.Map:
		// Arrow maps become lists of {key, value} in `datasets`.
		out := make([]any, 0, len(x))
		for k, e := range x {
			out = append(out, map[string]any{"key": Cell(k), "value": Cell(e)})
		}
		return out
	}
	return fmt.Sprint(v)
}

// Each runs a query and calls fn for every row as it streams, without
// holding the result in memory.
func (d *DB) Each(ctx context.Context, query string, fn func(row []any) error, args ...any) error {
	rows, err := d.db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		if err := fn(vals); err != nil {
			return err
		}
	}
	return rows.Err()
}
