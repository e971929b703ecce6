package fts

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"slices"
	"strings"
)

// legacyCorpus reads back the corpus of a scratch file completed by
// addLegacyTables.
func legacyCorpus(ctx context.Context, path string) (*corpus, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	c := &corpus{}
	if err := db.QueryRowContext(ctx, "SELECT num_docs, num_tokens, lang FROM stats").Scan(&c.numDocs, &c.numTokens, &c.lang); err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, "SELECT id, len FROM lens ORDER BY id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var n uint32
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		for int64(len(c.lens)) <= id {
			c.lens = append(c.lens, 0)
		}
		c.lens[id] = n
	}
	return c, rows.Err()
}

// legacyIndex is the search the index replaced, kept to measure against:
// every posting of the query's terms read a row at a time through FTS5's
// vocabulary table, every match scored, all of them sorted. It runs on the
// scratch FTS5 file of a build, completed by addLegacyTables.
type legacyIndex struct{ db *sql.DB }

// addLegacyTables adds to a scratch FTS5 file the tables the replaced
// search read: vocabularies, row lengths and totals.
func addLegacyTables(ctx context.Context, db *sql.DB, c *corpus) error {
	for _, s := range []string{
		"CREATE VIRTUAL TABLE vocab USING fts5vocab(docs, instance)",
		"CREATE VIRTUAL TABLE stopvocab USING fts5vocab(stops, instance)",
		"CREATE TABLE lens(id INTEGER PRIMARY KEY, len INTEGER NOT NULL)",
		"CREATE TABLE stats(num_docs INTEGER NOT NULL, num_tokens INTEGER NOT NULL, lang TEXT NOT NULL)",
	} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, "INSERT INTO lens VALUES (?, ?)")
	if err != nil {
		return err
	}
	for id, n := range c.lens {
		if _, err := ins.ExecContext(ctx, id, n); err != nil {
			return err
		}
	}
	ins.Close()
	if _, err := tx.ExecContext(ctx, "INSERT INTO stats VALUES (?, ?, ?)", c.numDocs, c.numTokens, c.lang); err != nil {
		return err
	}
	return tx.Commit()
}

// positions returns, for each row holding token, the token's positions;
// vocab is the vocabulary table: "vocab", or "stopvocab" for stop words.
func (ix *legacyIndex) positions(ctx context.Context, vocab, token string) (map[int64][]int64, error) {
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
func (ix *legacyIndex) frequencies(ctx context.Context, vocab string, term []string) (map[int64]int, error) {
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
func (ix *legacyIndex) lengths(ctx context.Context, ids []int64, numDocs int64) (map[int64]int64, error) {
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

// search returns the ids of the rows matching any term of the query, best
// BM25 score first (ties in row order), from offset, at most limit of them,
// and the number of matches.
func (ix *legacyIndex) search(ctx context.Context, query string, offset, limit int) ([]int64, int64, error) {
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
