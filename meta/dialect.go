package meta

import (
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect holds everything that differs between SQLite and PostgreSQL, so
// that the queries elsewhere are written once, with '?' placeholders.
type dialect struct {
	name   string // also the folder of its migrations
	driver string // database/sql driver name

	// lockRow is appended to a SELECT inside a write transaction to lock the
	// rows it reads. SQLite needs none: a write transaction there holds the
	// database's single write lock from BEGIN on (see _txlock=immediate).
	lockRow string
	// skipLocked makes concurrent queue workers pass over each other's rows.
	skipLocked string
	// numbered reports whether placeholders are $1, $2, … instead of '?'.
	numbered bool
	// trigramSearch reports whether the repo_search trigram index exists.
	trigramSearch bool
	// choosePlans reports whether listings pick their query's shape from
	// statistics (see plan). PostgreSQL's planner does that itself from
	// the frequencies of common values it keeps per column.
	choosePlans bool
}

var (
	sqliteDialect = &dialect{
		name:          "sqlite",
		driver:        "sqlite",
		trigramSearch: true,
		choosePlans:   true,
	}
	postgresDialect = &dialect{
		name:       "postgres",
		driver:     "pgx",
		lockRow:    " FOR UPDATE",
		skipLocked: " FOR UPDATE SKIP LOCKED",
		numbered:   true,
	}
)

// dialectFor chooses the database from the form of dsn and returns the
// data source name its driver expects.
func dialectFor(dsn string) (*dialect, string) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return postgresDialect, dsn
	}
	return sqliteDialect, sqliteDSN(dsn)
}

// sqliteDSN turns a file path into a modernc DSN with the settings every
// connection needs: WAL so readers never wait for the writer, a busy
// timeout so that writers from other processes queue instead of failing,
// foreign keys for cascading deletes, immediate transactions so that a
// transaction that reads before it writes cannot fail on a lock upgrade,
// and reads through a memory map of the file (sqliteMmapSize).
func sqliteDSN(path string) string {
	// A "file:" URI is taken as written, with its own query; a plain path
	// may contain any character and is escaped.
	name, query := escapePath(path), ""
	if uri, ok := strings.CutPrefix(path, "file:"); ok {
		name, query, _ = strings.Cut(uri, "?")
	}
	params := []string{
		"_pragma=busy_timeout(5000)",
		"_pragma=foreign_keys(1)",
		"_txlock=immediate",
		"_time_format=sqlite",
		"_pragma=mmap_size(" + strconv.Itoa(sqliteMmapSize) + ")",
	}
	if !sqliteInMemory(path) {
		params = append(params, "_pragma=journal_mode(WAL)", "_pragma=synchronous(NORMAL)")
	}
	if query != "" {
		params = append(params, query)
	}
	return "file:" + name + "?" + strings.Join(params, "&")
}

// sqliteMmapSize is how much of the database file SQLite reads through a
// memory map rather than with a read call per page into each connection's
// own page cache (2 MB): a listing of 1000 repositories looks up 1000 rows
// scattered over the table, and with 100,000 repositories a quarter of its
// time went to those reads. The mapped pages are the kernel's page cache,
// shared by the connections; they count toward the process's resident
// memory (RssFile) while they are in it. Writes still go through write calls.
const sqliteMmapSize = 1 << 30

// sqliteInMemory reports whether a SQLite DSN names an in-memory database.
func sqliteInMemory(dsn string) bool {
	return dsn == ":memory:" || strings.HasPrefix(dsn, "file::memory:") || strings.Contains(dsn, "mode=memory")
}

// escapePath escapes the characters that would end the path part of a
// "file:" URI.
func escapePath(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(p)
}

// rebind rewrites '?' placeholders into the dialect's form. Queries in this
// package never contain a literal '?'.
func (d *dialect) rebind(query string) string {
	if !d.numbered || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// searchCond returns a condition on repos r that holds when "namespace/name"
// contains the lower-cased text q, and its argument.
func (d *dialect) searchCond(q string) (string, any) {
	// A trigram index can only look up text of three characters or more.
	if d.trigramSearch && len(q) >= 3 {
		return "r.id IN (SELECT rowid FROM repo_search WHERE repo_search MATCH ?)", ftsPhrase(q)
	}
	return likeCond(q)
}

// ftsPhrase quotes q as one FTS5 phrase, which the trigram index matches as
// a substring.
func ftsPhrase(q string) string {
	return `"` + strings.ReplaceAll(q, `"`, `""`) + `"`
}

// likeCond is searchCond without the trigram index: a check of each row.
func likeCond(q string) (string, any) {
	return `r.full_key LIKE ? ESCAPE '\'`, "%" + escapeLike(q) + "%"
}

// escapeLike makes s match literally in a LIKE pattern with ESCAPE '\'.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(s)
}

// isUniqueViolation reports whether err is a unique or primary key violation.
func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// isForeignKeyViolation reports whether err is a reference to a missing row.
func isForeignKeyViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23503"
}
