package fts

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strings"
)

// windowBits sets the width of the windows of row numbers that postings
// are stored in (65,536 rows): a query reads, scores or skips a term's
// postings a window at a time, knowing each window's best score beforehand.
// The index records it; tests narrow it to cross windows with few rows.
var windowBits int64 = 16

// Doc is one row to index: its index in the split and its searchable text.
type Doc struct {
	ID   int64
	Text string
}

// Build writes a new index at path from the documents docs yields, in one
// pass; the file appears only when complete. Words are stemmed for lang
// (an ISO 639-1 code, the dataset card's language) when StemmerFor knows
// it; the index records the language so that queries are stemmed alike.
//
// SQLite's FTS5 inverts the rows into a scratch file beside path; its
// term lists are then rewritten into the index's own postings (row numbers,
// frequencies, row lengths and positions by window, with each window's
// best score), which a query reads without visiting a row per match.
func Build(ctx context.Context, path, lang string, docs func(yield func(Doc) error) error) error {
	stem := StemmerFor(lang)
	if stem == nil {
		lang = ""
	}
	scratch := path + ".fts5"
	defer os.Remove(scratch)
	st, err := invert(ctx, scratch, stem, docs)
	if err != nil {
		return err
	}
	st.lang = lang
	return writePostings(ctx, scratch, path, st)
}

// The vocabularies of an index, each inverted into an FTS5 table of the
// scratch file and stored apart in the index: words and the characters of
// unspaced scripts, the stop words (for queries made only of them), and the
// pairs of adjacent unspaced characters (for phrases of them).
const (
	vocabWords = iota
	vocabStops
	vocabPairs
)

// vocabTables are the scratch file's FTS5 tables, by vocabulary.
var vocabTables = [...]string{vocabWords: "docs", vocabStops: "stops", vocabPairs: "pairs"}

// corpus is what BM25 needs of the whole split.
type corpus struct {
	numDocs, numTokens int64
	lang               string
	lens               []uint32 // tokens of each row, by row number
}

// avg is the mean row length in tokens; rows of stop words only make it
// zero, and then every row counts as of length 1.
func (c *corpus) avg() float64 { return avgLen(c.numDocs, c.numTokens) }

func avgLen(numDocs, numTokens int64) float64 {
	avg := float64(numTokens) / float64(numDocs)
	if avg == 0 || math.IsNaN(avg) {
		return 1
	}
	return avg
}

// idf is upstream's inverse document frequency of a term found in df of
// numDocs rows.
func idf(numDocs, df int64) float64 {
	return math.Log10((float64(numDocs)-float64(df)+0.5)/(float64(df)+0.5) + 1)
}

// termScore is a term's share of a row's BM25 score. The index stores the
// best one of each window computed by this very function, so that the
// bound a query skips windows by is exact; the conversions keep the
// compiler from fusing operations differently at different call sites.
func termScore(idf float64, tf, length uint32, avg float64) float64 {
	f := float64(tf)
	norm := float64(bm25K * float64(1-bm25B+float64(bm25B*float64(length))/avg))
	return float64(float64(idf*f)*(bm25K+1)) / float64(f+norm)
}

// invert indexes the documents with FTS5 into the scratch file at path,
// stop words and pairs of unspaced characters in tables apart, and returns
// the rows' lengths.
func invert(ctx context.Context, path string, stem Stemmer, docs func(yield func(Doc) error) error) (*corpus, error) {
	os.Remove(path)
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, s := range []string{
		"PRAGMA journal_mode=OFF", "PRAGMA synchronous=OFF",
		// The text arrives tokenized and folded (Tokens); the tokenizer
		// only splits it on the spaces again.
		"CREATE VIRTUAL TABLE docs USING fts5(body, content='', tokenize=\"unicode61 remove_diacritics 0 categories 'L* N* Co M*'\")",
		// The stop words of each row, apart, for queries made only of them.
		"CREATE VIRTUAL TABLE stops USING fts5(body, content='', tokenize=\"unicode61 remove_diacritics 0 categories 'L* N* Co M*'\")",
		// The pairs of adjacent unspaced characters of each row (pairs).
		"CREATE VIRTUAL TABLE pairs USING fts5(body, content='', tokenize=\"unicode61 remove_diacritics 0 categories 'L* N* Co M*'\")",
	} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return nil, fmt.Errorf("fts: %s: %w", s, err)
		}
	}
	var tx *sql.Tx
	var ins, insStops, insPairs *sql.Stmt
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
		insPairs, err = tx.PrepareContext(ctx, "INSERT INTO pairs(rowid, body) VALUES (?, ?)")
		return err
	}
	commit := func() error {
		ins.Close()
		insStops.Close()
		insPairs.Close()
		return tx.Commit()
	}
	if err := begin(); err != nil {
		return nil, err
	}
	c := &corpus{}
	err = docs(func(d Doc) error {
		if d.ID < 0 || d.ID >= math.MaxUint32 {
			return fmt.Errorf("fts: row number %d out of range", d.ID)
		}
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
		if p := pairs(toks); p != "" {
			if _, err := insPairs.ExecContext(ctx, d.ID, p); err != nil {
				return err
			}
		}
		for int64(len(c.lens)) <= d.ID {
			c.lens = append(c.lens, 0)
		}
		c.lens[d.ID] = uint32(min(len(toks), math.MaxUint32))
		c.numDocs++
		c.numTokens += int64(len(toks))
		if c.numDocs%50000 == 0 {
			// Commit in batches: one huge transaction would hold every
			// pending page in memory.
			if err := commit(); err != nil {
				return err
			}
			return begin()
		}
		return nil
	})
	if err != nil {
		tx.Rollback()
		return nil, err
	}
	if err := commit(); err != nil {
		return nil, err
	}
	for _, t := range vocabTables {
		if _, err := db.ExecContext(ctx, "INSERT INTO "+t+"("+t+") VALUES ('optimize')"); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// window is the postings of one term in one window of row numbers, encoded
// as four streams of unsigned varints: docs (row numbers, each as the
// difference from the previous one, the first from the window's start),
// classes (the distinct pairs of occurrences and row length of its rows, in
// order of first appearance), freqs (each row's class, by row) and pos
// (each occurrence's token position, as differences within the row). A
// row's score depends only on its class: a query computes one score per
// class, not one per row.
type window struct {
	win                       int64
	n                         int64
	last                      int64
	docs, classes, freqs, pos []byte
	class                     map[[2]uint32]uint64 // index in classes
}

// maxInline is the size of the largest postings kept in the window
// directory (about a dozen rows): most terms have only these, and moving
// them apart would cost a row of the blobs table each. Tests change it to
// store all postings apart.
var maxInline = 128

// empty is an empty blob: a nil []byte would be stored as NULL.
var empty = []byte{}

// writePostings reads the term lists of the scratch FTS5 index in term and
// row order and writes them to a new index at path, by window.
func writePostings(ctx context.Context, scratch, path string, c *corpus) error {
	src, err := sql.Open("sqlite", "file:"+scratch+"?mode=ro")
	if err != nil {
		return err
	}
	defer src.Close()
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
		"CREATE TABLE stats(num_docs INTEGER NOT NULL, num_tokens INTEGER NOT NULL, lang TEXT NOT NULL, window_bits INTEGER NOT NULL)",
		// The directory of windows: their counts, best scores and where
		// their postings are, in the blobs table, or here (blob 0) when
		// they are small. Its rows are small, so that a term's are read
		// at once, and a rare term's postings with them.
		`CREATE TABLE postings(vocab INTEGER NOT NULL, term TEXT NOT NULL, win INTEGER NOT NULL, n INTEGER NOT NULL,
			best REAL NOT NULL, blob INTEGER NOT NULL, docs BLOB NOT NULL, classes BLOB NOT NULL, freqs BLOB NOT NULL,
			pos BLOB NOT NULL, PRIMARY KEY (vocab, term, win)) WITHOUT ROWID`,
		// The postings, found by row id; positions come last, since only
		// phrases read them.
		"CREATE TABLE blobs(id INTEGER PRIMARY KEY, docs BLOB NOT NULL, classes BLOB NOT NULL, freqs BLOB NOT NULL, pos BLOB NOT NULL)",
	} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("fts: %s: %w", s, err)
		}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, "INSERT INTO postings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
	if err != nil {
		return err
	}
	defer ins.Close()
	insBlob, err := tx.PrepareContext(ctx, "INSERT INTO blobs VALUES (?, ?, ?, ?, ?)")
	if err != nil {
		return err
	}
	defer insBlob.Close()
	var blob int64
	avg := c.avg()
	for vocab, table := range vocabTables {
		if err := copyTerms(ctx, src, table, func(term string, wins []*window) error {
			if vocab == vocabPairs && term == pairSep {
				return nil
			}
			var df int64
			for _, w := range wins {
				df += w.n
			}
			idf := idf(c.numDocs, df)
			for _, w := range wins {
				best := 0.0
				for p := range w.class {
					best = max(best, termScore(idf, p[0], p[1], avg))
				}
				var err error
				if len(w.docs)+len(w.classes)+len(w.freqs)+len(w.pos) <= maxInline {
					_, err = ins.ExecContext(ctx, vocab, term, w.win, w.n, best, 0, w.docs, w.classes, w.freqs, w.pos)
				} else {
					blob++
					if _, err := insBlob.ExecContext(ctx, blob, w.docs, w.classes, w.freqs, w.pos); err != nil {
						return err
					}
					_, err = ins.ExecContext(ctx, vocab, term, w.win, w.n, best, blob, empty, empty, empty, empty)
				}
				if err != nil {
					return err
				}
			}
			return nil
		}, c.lens); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO stats VALUES (?, ?, ?, ?)", c.numDocs, c.numTokens, c.lang, windowBits); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// copyTerms walks the instances of the FTS5 table's terms, in term, row
// and position order, and hands each term's postings to flush.
func copyTerms(ctx context.Context, src *sql.DB, table string, flush func(string, []*window) error, lens []uint32) error {
	if _, err := src.ExecContext(ctx, "CREATE VIRTUAL TABLE temp.v_"+table+" USING fts5vocab(main, "+table+", instance)"); err != nil {
		return err
	}
	rows, err := src.QueryContext(ctx, "SELECT term, doc, offset FROM temp.v_"+table)
	if err != nil {
		return err
	}
	defer rows.Close()
	var (
		term string
		wins []*window
		doc  = int64(-1)
		pos  []uint32
	)
	endDoc := func() {
		if doc < 0 {
			return
		}
		win := doc >> windowBits
		var w *window
		if len(wins) > 0 && wins[len(wins)-1].win == win {
			w = wins[len(wins)-1]
		} else {
			w = &window{win: win, last: win << windowBits, class: map[[2]uint32]uint64{}}
			wins = append(wins, w)
		}
		w.docs = binary.AppendUvarint(w.docs, uint64(doc-w.last))
		w.last = doc
		w.n++
		var length uint32
		if doc < int64(len(lens)) {
			length = lens[doc]
		}
		tf := uint32(len(pos))
		cl, ok := w.class[[2]uint32{tf, length}]
		if !ok {
			cl = uint64(len(w.class))
			w.class[[2]uint32{tf, length}] = cl
			w.classes = binary.AppendUvarint(binary.AppendUvarint(w.classes, uint64(tf)), uint64(length))
		}
		w.freqs = binary.AppendUvarint(w.freqs, cl)
		prev := uint32(0)
		for _, p := range pos {
			w.pos = binary.AppendUvarint(w.pos, uint64(p-prev))
			prev = p
		}
		pos = pos[:0]
		doc = -1
	}
	for rows.Next() {
		var t string
		var d, off int64
		if err := rows.Scan(&t, &d, &off); err != nil {
			return err
		}
		if t != term || d != doc {
			endDoc()
			if t != term {
				if len(wins) > 0 {
					if err := flush(term, wins); err != nil {
						return err
					}
				}
				term, wins = t, nil
			} else if len(wins) > 0 && d <= wins[len(wins)-1].last {
				return fmt.Errorf("fts: rows of %q out of order", t)
			}
			doc = d
		}
		pos = append(pos, uint32(off))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	endDoc()
	if len(wins) > 0 {
		return flush(term, wins)
	}
	return nil
}
