// Package fts is the full-text index behind the viewer's /search: one SQLite
// FTS5 table per split, ranked by BM25, with the unicode61 tokenizer so that
// words of every script are searchable, not only a–z. Scripts written without
// spaces between words (Chinese, Japanese, Thai…) are indexed one character
// per token and searched as phrases of consecutive characters.
package fts

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"unicode"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, with FTS5
)

// MaxQueryLength bounds a search query, in bytes.
const MaxQueryLength = 1000

// maxRanked is the number of matches up to which results are ranked by BM25.
const maxRanked = 100_000

// maxTerms bounds the words of a query.
const maxTerms = 32

// unspaced reports whether r belongs to a script written without spaces,
// which the index splits into one token per character.
func unspaced(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Thai, unicode.Lao,
		unicode.Khmer, unicode.Myanmar, unicode.Tibetan)
}

// Segment prepares text for the tokenizer: characters of unspaced scripts
// are set apart by spaces.
func Segment(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unspaced(r) {
			b.WriteByte(' ')
			b.WriteRune(r)
			b.WriteByte(' ')
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// tokenChar mirrors unicode61: letters, numbers and marks make tokens, the
// rest separates them.
func tokenChar(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r) || unicode.Is(unicode.Co, r)
}

// MatchExpr turns a user's query into an FTS5 expression that matches rows
// containing every one of its words. Each word becomes a quoted phrase of its
// tokens, so FTS5 operators in the query are plain text. It returns "" when
// the query has no searchable word.
//
// Upstream matches any word (a disjunction); requiring all of them is what a
// search box usually means, and it keeps the matches of a multi-word query
// few enough to rank quickly.
func MatchExpr(query string) (string, error) {
	if len(query) > MaxQueryLength {
		return "", fmt.Errorf("the query is longer than %d bytes", MaxQueryLength)
	}
	var phrases []string
	seen := map[string]bool{}
	for _, word := range strings.Fields(query) {
		toks := strings.FieldsFunc(Segment(word), func(r rune) bool { return !tokenChar(r) })
		if len(toks) == 0 {
			continue
		}
		ph := `"` + strings.ReplaceAll(strings.ToLower(strings.Join(toks, " ")), `"`, `""`) + `"`
		if !seen[ph] {
			seen[ph] = true
			phrases = append(phrases, ph)
		}
		if len(phrases) > maxTerms {
			return "", fmt.Errorf("the query has more than %d words", maxTerms)
		}
	}
	return strings.Join(phrases, " AND "), nil
}

// Doc is one row to index: its index in the split and its searchable text.
type Doc struct {
	ID   int64
	Text string
}

// Build writes a new index at path from the documents docs yields, in one
// pass; the file appears only when complete.
func Build(ctx context.Context, path string, docs func(yield func(Doc) error) error) error {
	tmp := path + ".tmp"
	os.Remove(tmp)
	db, err := sql.Open("sqlite", "file:"+tmp)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, s := range []string{
		"PRAGMA journal_mode=OFF", "PRAGMA synchronous=OFF",
		"CREATE VIRTUAL TABLE docs USING fts5(body, content='', tokenize='unicode61 remove_diacritics 2')",
	} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("fts: %s: %w", s, err)
		}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	stmt, err := tx.PrepareContext(ctx, "INSERT INTO docs(rowid, body) VALUES (?, ?)")
	if err != nil {
		tx.Rollback()
		return err
	}
	n := 0
	err = docs(func(d Doc) error {
		if _, err := stmt.ExecContext(ctx, d.ID, Segment(d.Text)); err != nil {
			return err
		}
		n++
		if n%50000 == 0 {
			// Commit in batches: one huge transaction would hold every
			// pending page in memory.
			stmt.Close()
			if err := tx.Commit(); err != nil {
				return err
			}
			if tx, err = db.BeginTx(ctx, nil); err != nil {
				return err
			}
			stmt, err = tx.PrepareContext(ctx, "INSERT INTO docs(rowid, body) VALUES (?, ?)")
			return err
		}
		return nil
	})
	if err != nil {
		tx.Rollback()
		os.Remove(tmp)
		return err
	}
	stmt.Close()
	if err := tx.Commit(); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO docs(docs) VALUES ('optimize')"); err != nil {
		return err
	}
	db.Close()
	return os.Rename(tmp, path)
}

// Index is an open, read-only index.
type Index struct{ db *sql.DB }

// Open opens an index written by Build.
func Open(path string) (*Index, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=query_only(1)")
	if err != nil {
		return nil, err
	}
	return &Index{db: db}, nil
}

// Close closes the index.
func (ix *Index) Close() error { return ix.db.Close() }

// Search returns the ids of the matching rows ranked by BM25 (best first),
// from offset, at most limit of them, and the number of matches.
func (ix *Index) Search(ctx context.Context, query string, offset, limit int) ([]int64, int64, error) {
	expr, err := MatchExpr(query)
	if err != nil {
		return nil, 0, err
	}
	if expr == "" {
		return nil, 0, nil
	}
	var total int64
	if err := ix.db.QueryRowContext(ctx, "SELECT count(*) FROM docs WHERE docs MATCH ?", expr).Scan(&total); err != nil {
		return nil, 0, err
	}
	if total == 0 || limit == 0 || int64(offset) >= total {
		return nil, total, nil
	}
	// Ranking computes BM25 for every match; past maxRanked matches (a query
	// of one very common word) the rows come in index order instead, which
	// FTS5 streams without scoring them all.
	q := "SELECT rowid FROM docs WHERE docs MATCH ? ORDER BY rank, rowid LIMIT ? OFFSET ?"
	if total > maxRanked {
		q = "SELECT rowid FROM docs WHERE docs MATCH ? ORDER BY rowid LIMIT ? OFFSET ?"
	}
	rows, err := ix.db.QueryContext(ctx, q, expr, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, 0, err
		}
		ids = append(ids, id)
	}
	return ids, total, rows.Err()
}
