// Package fts is the full-text index behind the viewer's /search: one SQLite
// FTS5 table per split, searched and ranked as the upstream viewer does (any
// word of the query matches, English stop words ignored unless the query has
// nothing else, words stemmed for
// the dataset card's single language, BM25 with k = 1.2 and b = 0.75 over
// all the text of a row), but with words of every script,
// and digits, searchable instead of a–z only. Scripts written without spaces
// between words (Chinese, Japanese, Thai…) are indexed one character per
// token and a run of them in a query is searched as a phrase.
package fts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, with FTS5
)

// MaxQueryLength bounds a search query, in bytes, so that one request cannot
// make the server fetch thousands of term lists.
const MaxQueryLength = 1000

// maxTerms bounds the distinct terms of a query, for the same reason.
const maxTerms = 32

// BM25 parameters, the upstream index's defaults.
const (
	bm25K = 1.2
	bm25B = 0.75
)

func setOf(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

// unspaced reports whether r belongs to a script written without spaces,
// which the index splits into one token per character (the prolonged sound
// marks belong to no script but are part of Japanese words).
func unspaced(r rune) bool {
	return r == '\u30fc' || r == '\uff70' || unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Thai, unicode.Lao,
		unicode.Khmer, unicode.Myanmar, unicode.Tibetan)
}

// tokenChar is what the FTS5 tokenizer is configured to keep (categories
// L* N* Co M*): the rest separates tokens.
func tokenChar(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r) || unicode.Is(unicode.Co, r)
}

// fold lowercases s and strips its accents (decomposes it and drops the
// nonspacing marks), so that "Café" and "cafe" are one word, like upstream's
// strip_accents and lower.
func fold(s string) string {
	s = norm.NFD.String(s)
	var b strings.Builder
	for _, r := range s {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return norm.NFC.String(b.String())
}

// terms splits s into its terms: a term is a run of token characters, except
// that every character of an unspaced script is a term of its own; runs of
// those are returned together (one phrase each) in phrases.
func terms(s string) (words []string, phrases [][]string) {
	var cur []rune
	var run []string
	flushWord := func() {
		if len(cur) > 0 {
			words = append(words, string(cur))
			cur = cur[:0]
		}
	}
	flushRun := func() {
		if len(run) > 0 {
			phrases = append(phrases, run)
			run = nil
		}
	}
	for _, r := range fold(s) {
		switch {
		case unspaced(r):
			flushWord()
			run = append(run, string(r))
		case tokenChar(r):
			flushRun()
			cur = append(cur, r)
		default:
			flushWord()
			flushRun()
		}
	}
	flushWord()
	flushRun()
	return words, phrases
}

// Tokens returns the tokens of s that the index holds, in order: folded,
// unspaced scripts one character per token, stop words left out.
func Tokens(s string) []string {
	toks, _ := tokens(s, nil)
	return toks
}

// tokens is Tokens with the words (not the characters of unspaced scripts)
// stemmed by stem when it is not nil; stops are the stop words left out,
// in order, unstemmed.
func tokens(s string, stem Stemmer) (out, stops []string) {
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			if w := string(cur); !stopWords[w] {
				if stem != nil {
					w = stem(w)
				}
				out = append(out, w)
			} else {
				stops = append(stops, w)
			}
			cur = cur[:0]
		}
	}
	for _, r := range fold(s) {
		switch {
		case unspaced(r):
			flush()
			out = append(out, string(r))
		case tokenChar(r):
			cur = append(cur, r)
		default:
			flush()
		}
	}
	flush()
	return out, stops
}

// QueryTerms returns the distinct terms a query searches for, each a list of
// tokens (more than one for a phrase of an unspaced script). Any of them
// makes a row match, as upstream: the query is a disjunction. Stop words
// are dropped: they match only in a query made of nothing else (stopTerms).
func QueryTerms(query string) ([][]string, error) { return queryTerms(query, nil) }

// stopTerms returns the distinct stop words of a query. A query made only
// of stop words searches for them as ordinary words: finding nothing for
// "the" or "hello" would surprise.
func stopTerms(query string) [][]string {
	words, _ := terms(query)
	var out [][]string
	seen := map[string]bool{}
	for _, w := range words {
		if stopWords[w] && !seen[w] {
			seen[w] = true
			out = append(out, []string{w})
		}
	}
	return out
}

// queryTerms is QueryTerms with the words stemmed as the index's were.
func queryTerms(query string, stem Stemmer) ([][]string, error) {
	if len(query) > MaxQueryLength {
		return nil, fmt.Errorf("the query is longer than %d bytes", MaxQueryLength)
	}
	words, phrases := terms(query)
	var out [][]string
	seen := map[string]bool{}
	add := func(t []string) {
		k := strings.Join(t, " ")
		if !seen[k] {
			seen[k] = true
			out = append(out, t)
		}
	}
	for _, w := range words {
		if !stopWords[w] {
			if stem != nil {
				w = stem(w)
			}
			add([]string{w})
		}
	}
	for _, p := range phrases {
		add(p)
	}
	if len(out) > maxTerms {
		return nil, fmt.Errorf("the query has more than %d distinct words", maxTerms)
	}
	return out, nil
}

// Doc is one row to index: its index in the split and its searchable text.
type Doc struct {
	ID   int64
	Text string
}

// Build writes a new index at path from the documents docs yields, in one
// pass; the file appears only when complete. Words are stemmed for lang
// (an ISO 639-1 code, the dataset card's language) when StemmerFor knows
// it; the index records the language so that queries are stemmed alike.
func Build(ctx context.Context, path, lang string, docs func(yield func(Doc) error) error) error {
	stem := StemmerFor(lang)
	if stem == nil {
		lang = ""
	}
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
		// The text arrives tokenized and folded (Tokens); the tokenizer
		// only splits it on the spaces again.
		"CREATE VIRTUAL TABLE docs USING fts5(body, content='', tokenize=\"unicode61 remove_diacritics 0 categories 'L* N* Co M*'\")",
		// BM25 needs each row's length in tokens and the totals.
		// Term frequencies and positions come from the index through its
		// vocabulary table.
		"CREATE VIRTUAL TABLE vocab USING fts5vocab(docs, instance)",
		// The stop words of each row, apart, for queries made only of them.
		"CREATE VIRTUAL TABLE stops USING fts5(body, content='', tokenize=\"unicode61 remove_diacritics 0 categories 'L* N* Co M*'\")",
		"CREATE VIRTUAL TABLE stopvocab USING fts5vocab(stops, instance)",
		"CREATE TABLE lens(id INTEGER PRIMARY KEY, len INTEGER NOT NULL)",
		"CREATE TABLE stats(num_docs INTEGER NOT NULL, num_tokens INTEGER NOT NULL, lang TEXT NOT NULL)",
	} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("fts: %s: %w", s, err)
		}
	}
	var tx *sql.Tx
	var ins, insStops, insLen *sql.Stmt
	begin := func() error {
		var err error
		if tx, err = db.BeginTx(ctx, nil); err != nil {
			return err
		}
		if ins, err = tx.PrepareContext(ctx, "INSERT INTO docs(rowid, body) VALUES (?, ?)"); err != nil {
			return err
		}
		if insStops, err = tx.PrepareContext(ctx, "INSERT INTO stops(rowid, body) VALUES (?, ?)"); err != nil {
			return err
		}
		insLen, err = tx.PrepareContext(ctx, "INSERT INTO lens(id, len) VALUES (?, ?)")
		return err
	}
	commit := func() error {
		ins.Close()
		insStops.Close()
		insLen.Close()
		return tx.Commit()
	}
	if err := begin(); err != nil {
		return err
	}
	var n, total int64
	err = docs(func(d Doc) error {
		toks, stops := tokens(d.Text, stem)
		if len(toks) > 0 {
			if _, err := ins.ExecContext(ctx, d.ID, strings.Join(toks, " ")); err != nil {
				return err
			}
		}
		if len(stops) > 0 {
			if _, err := insStops.ExecContext(ctx, d.ID, strings.Join(stops, " ")); err != nil {
				return err
			}
		}
		if _, err := insLen.ExecContext(ctx, d.ID, len(toks)); err != nil {
			return err
		}
		n++
		total += int64(len(toks))
		if n%50000 == 0 {
			// Commit in batches: one huge transaction would hold every
			// pending page in memory.
			if err := commit(); err != nil {
				return err
			}
			return begin()
		}
		return nil
	})
	if err == nil {
		_, err = tx.ExecContext(ctx, "INSERT INTO stats VALUES (?, ?, ?)", n, total, lang)
	}
	if err != nil {
		tx.Rollback()
		db.Close()
		os.Remove(tmp)
		return err
	}
	if err := commit(); err != nil {
		return err
	}
	for _, q := range []string{"INSERT INTO docs(docs) VALUES ('optimize')", "INSERT INTO stops(stops) VALUES ('optimize')"} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return err
		}
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

// positions returns, for each row holding token, the token's positions;
// vocab is the vocabulary table: "vocab", or "stopvocab" for stop words.
func (ix *Index) positions(ctx context.Context, vocab, token string) (map[int64][]int64, error) {
	rows, err := ix.db.QueryContext(ctx, "SELECT doc, offset FROM "+vocab+" WHERE term = ?", token)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64][]int64{}
	for rows.Next() {
		var doc, off int64
		if err := rows.Scan(&doc, &off); err != nil {
			return nil, err
		}
		out[doc] = append(out[doc], off)
	}
	return out, rows.Err()
}

// frequencies returns how many times the term occurs in each row that holds
// it; a phrase occurs where its tokens follow each other.
func (ix *Index) frequencies(ctx context.Context, vocab string, term []string) (map[int64]int, error) {
	first, err := ix.positions(ctx, vocab, term[0])
	if err != nil {
		return nil, err
	}
	// at[doc] are the positions where the phrase so far starts.
	at := first
	for i, tok := range term[1:] {
		next, err := ix.positions(ctx, vocab, tok)
		if err != nil {
			return nil, err
		}
		kept := map[int64][]int64{}
		for doc, starts := range at {
			offs := next[doc]
			for _, s := range starts {
				if slices.Contains(offs, s+int64(i)+1) {
					kept[doc] = append(kept[doc], s)
				}
			}
		}
		at = kept
	}
	tf := make(map[int64]int, len(at))
	for doc, starts := range at {
		tf[doc] = len(starts)
	}
	return tf, nil
}

// lengths returns the length in tokens of each of ids (sorted).
func (ix *Index) lengths(ctx context.Context, ids []int64, numDocs int64) (map[int64]int64, error) {
	out := make(map[int64]int64, len(ids))
	scan := func(q string, args ...any) error {
		rows, err := ix.db.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, n int64
			if err := rows.Scan(&id, &n); err != nil {
				return err
			}
			out[id] = n
		}
		return rows.Err()
	}
	// Many matches: one pass over the table beats a lookup each.
	if int64(len(ids))*16 > numDocs {
		err := scan("SELECT id, len FROM lens")
		return out, err
	}
	for len(ids) > 0 {
		batch := ids[:min(len(ids), 500)]
		ids = ids[len(batch):]
		args := make([]any, len(batch))
		for i, id := range batch {
			args[i] = id
		}
		q := "SELECT id, len FROM lens WHERE id IN (?" + strings.Repeat(",?", len(batch)-1) + ")"
		if err := scan(q, args...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Search returns the ids of the rows matching any term of the query, best
// BM25 score first (ties in row order), from offset, at most limit of them,
// and the number of matches.
func (ix *Index) Search(ctx context.Context, query string, offset, limit int) ([]int64, int64, error) {
	if _, err := QueryTerms(query); err != nil {
		return nil, 0, err
	}
	var numDocs, numTokens int64
	var lang string
	if err := ix.db.QueryRowContext(ctx, "SELECT num_docs, num_tokens, lang FROM stats").Scan(&numDocs, &numTokens, &lang); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, 0, nil
		}
		return nil, 0, err
	}
	qterms, err := queryTerms(query, StemmerFor(lang))
	if err != nil {
		return nil, 0, err
	}
	vocab := "vocab"
	if len(qterms) == 0 {
		if qterms = stopTerms(query); len(qterms) == 0 {
			return nil, 0, nil
		}
		vocab = "stopvocab"
		var n int
		if err := ix.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'stopvocab'").Scan(&n); err != nil || n == 0 {
			// An index built before stop words were kept finds none.
			return nil, 0, err
		}
	}
	tfs := make([]map[int64]int, len(qterms))
	matched := map[int64]bool{}
	for i, t := range qterms {
		if tfs[i], err = ix.frequencies(ctx, vocab, t); err != nil {
			return nil, 0, err
		}
		for doc := range tfs[i] {
			matched[doc] = true
		}
	}
	ids := make([]int64, 0, len(matched))
	for doc := range matched {
		ids = append(ids, doc)
	}
	slices.Sort(ids)
	lens, err := ix.lengths(ctx, ids, numDocs)
	if err != nil {
		return nil, 0, err
	}
	avg := float64(numTokens) / float64(numDocs)
	if avg == 0 {
		// Rows of stop words only: lengths are all zero.
		avg = 1
	}
	score := make(map[int64]float64, len(ids))
	for _, tf := range tfs {
		df := float64(len(tf))
		idf := math.Log10((float64(numDocs)-df+0.5)/(df+0.5) + 1)
		for doc, n := range tf {
			f := float64(n)
			score[doc] += idf * f * (bm25K + 1) / (f + bm25K*(1-bm25B+bm25B*float64(lens[doc])/avg))
		}
	}
	slices.SortStableFunc(ids, func(a, b int64) int {
		switch sa, sb := score[a], score[b]; {
		case sa > sb:
			return -1
		case sa < sb:
			return 1
		}
		return 0
	})
	total := int64(len(ids))
	if offset >= len(ids) {
		return nil, total, nil
	}
	return ids[offset:min(len(ids), offset+limit)], total, nil
}
