package fts

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	bits64 "math/bits"
	"os"
	"slices"
	"strings"
	"sync"
)

// Index is an open, read-only index.
type Index struct {
	db         *sql.DB
	numDocs    int64
	numTokens  int64
	stem       Stemmer
	windowBits int64
	// scratches keeps the windows' working memory between searches:
	// making it (half a megabyte, cleared) would cost a rare term's search
	// more than the search itself.
	scratches sync.Pool
	// Prepared once: parsing them took a tenth of a search.
	windows *sql.Stmt                       // a term's window directory
	fetches [len(postingCols) + 1]*sql.Stmt // a window's postings, by number of columns
}

// Open opens an index written by Build.
func Open(path string) (*Index, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=query_only(1)&_pragma=mmap_size(4294967296)")
	if err != nil {
		return nil, err
	}
	ix := &Index{db: db}
	var lang string
	err = db.QueryRow("SELECT num_docs, num_tokens, lang, window_bits FROM stats").Scan(&ix.numDocs, &ix.numTokens, &lang, &ix.windowBits)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("fts: %s: %w", path, err)
	}
	ix.stem = StemmerFor(lang)
	if ix.windows, err = db.Prepare("SELECT win, n, best, blob, docs, classes, freqs, pos FROM postings WHERE vocab = ? AND term = ? ORDER BY win"); err != nil {
		ix.Close()
		return nil, fmt.Errorf("fts: %s: %w", path, err)
	}
	for n := 1; n <= len(postingCols); n++ {
		cols := strings.TrimSuffix(strings.Join(postingCols[:n], ""), ", ")
		if ix.fetches[n], err = db.Prepare("SELECT " + cols + " FROM blobs WHERE id = ?"); err != nil {
			ix.Close()
			return nil, fmt.Errorf("fts: %s: %w", path, err)
		}
	}
	return ix, nil
}

// Close closes the index.
func (ix *Index) Close() error {
	for _, st := range append(ix.fetches[:], ix.windows) {
		if st != nil {
			st.Close()
		}
	}
	return ix.db.Close()
}

// Result is a page of a search.
type Result struct {
	// IDs are the rows of the page, best BM25 score first, ties in row
	// order.
	IDs []int64
	// Total is the number of rows that match.
	Total int64
	// Estimated is set when Total was estimated in part: counting the
	// rows that several common terms share would have cost more than
	// finding the page.
	Estimated bool
}

// list is a query term's postings, by window: those of a word as stored,
// read a window at a time when needed, those of a phrase computed whole.
type list struct {
	idf  float64
	wins []*plist
	// shares is the term's share of a row's score by class, in the window
	// being scored.
	shares []float64
}

// plist is a term's postings in one window: a word's are read from the
// index when needed, a phrase's are computed whole (dense).
type plist struct {
	win  int64
	n    int64
	best float64
	// A word's postings: in the blobs table, or inline (blob 0).
	blob   int64
	inline [][]byte
	docs   []int64 // a phrase's rows, occurrences and lengths
	tfs    []uint32
	lens   []uint32
	dense  bool
}

// Search returns the rows matching any term of the query, best BM25 score
// first (ties in row order), from offset, at most limit of them, and the
// number of matches.
//
// It reads the query's windows in row order and scores only those whose
// best possible score (the sum of its terms' best scores there, stored in
// the index) could still enter the page: a row of a later window has to
// score strictly more than the page's worst to displace it. A window only
// one term occurs in is counted from its stored size; one shared by
// several terms has its row numbers merged to count each row once, up to
// countBudget postings a search, and is estimated past it.
func (ix *Index) Search(ctx context.Context, query string, offset, limit int) ([]int64, int64, error) {
	r, err := ix.search(ctx, query, offset, limit)
	return r.IDs, r.Total, err
}

func (ix *Index) search(ctx context.Context, query string, offset, limit int) (Result, error) {
	if _, err := QueryTerms(query); err != nil {
		return Result{}, err
	}
	if ix.numDocs == 0 || offset < 0 || limit < 0 {
		return Result{}, nil
	}
	qterms, err := queryTerms(query, ix.stem)
	if err != nil {
		return Result{}, err
	}
	vocab := vocabWords
	if len(qterms) == 0 {
		if qterms = stopTerms(query); len(qterms) == 0 {
			return Result{}, nil
		}
		vocab = vocabStops
	}
	avg := avgLen(ix.numDocs, ix.numTokens)
	lists := make([]*list, 0, len(qterms))
	for _, t := range qterms {
		// A phrase (of unspaced characters) of two is a pair, stored as a
		// word is; a longer one is a chain of pairs.
		var l *list
		switch len(t) {
		case 1:
			l, err = ix.word(ctx, vocab, t[0])
		case 2:
			l, err = ix.word(ctx, vocabPairs, t[0]+t[1])
		default:
			l, err = ix.phrase(ctx, vocabPairs, pairTerms(t), avg)
		}
		if err != nil {
			return Result{}, err
		}
		if len(l.wins) > 0 {
			lists = append(lists, l)
		}
	}
	k := offset + limit
	top := &topK{k: k}
	var total, counted int64
	sc, _ := ix.scratches.Get().(*scratch)
	if sc == nil {
		sc = &scratch{}
	}
	defer ix.scratches.Put(sc)
	var r Result
	// Each list's next window, in row order.
	next := make([]int, len(lists))
	present := make([]int, 0, len(lists))
	for {
		win := int64(-1)
		for i, l := range lists {
			if next[i] < len(l.wins) && (win < 0 || l.wins[next[i]].win < win) {
				win = l.wins[next[i]].win
			}
		}
		if win < 0 {
			break
		}
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		present = present[:0]
		bound := 0.0
		for i, l := range lists {
			if next[i] < len(l.wins) && l.wins[next[i]].win == win {
				present = append(present, i)
				bound += l.wins[next[i]].best
			}
		}
		score := top.admits(bound)
		var sum, most int64
		for _, i := range present {
			n := lists[i].wins[next[i]].n
			sum += n
			most = max(most, n)
		}
		switch {
		case len(present) == 1 && !score:
			total += sum
		case !score && counted+sum > countBudget:
			r.Estimated = true
			total += ix.estimate(lists, next, present, win, most, sum)
		default:
			if !score {
				counted += sum
			}
			n, err := ix.window(ctx, lists, next, present, score, avg, top, sc)
			if err != nil {
				return Result{}, err
			}
			total += n
		}
		for _, i := range present {
			next[i]++
		}
	}
	r.Total = total
	if ids := top.sorted(); offset < len(ids) {
		r.IDs = ids[offset:min(len(ids), k)]
	}
	return r, nil
}

// countBudget bounds the postings a search decodes only to count the rows
// that several of its terms share (about 20 ms of work): past it, the
// shared rows of the remaining windows are estimated.
var countBudget int64 = 8 << 20

// estimate is the number of rows of a window holding any of the present
// terms, were the terms independent, within its bounds: at least the
// commonest term's rows, at most all of them.
func (ix *Index) estimate(lists []*list, next, present []int, win, most, sum int64) int64 {
	size := min(int64(1)<<ix.windowBits, max(ix.numDocs-win<<ix.windowBits, most))
	none := 1.0
	for _, i := range present {
		none *= 1 - float64(lists[i].wins[next[i]].n)/float64(size)
	}
	est := int64(math.Round(float64(size) * (1 - none)))
	return min(max(est, most), sum, size)
}

// scratch is the working memory of a search's windows, made on first use:
// a bitmap of a window's rows and their scores so far. Scores are left all
// zero after each window, so that the next can use them as they are.
type scratch struct {
	bits []uint64
	acc  []float64
}

// window counts the rows of the lists present in one window and, when
// score is set, offers each row to top. Counting alone marks the rows in a
// bitmap of the window, without decoding more than row numbers. Scoring
// adds each term's shares to the rows' scores a term at a time, in query
// order as the bound sums them, then offers the rows that could enter the
// page in row order.
func (ix *Index) window(ctx context.Context, lists []*list, next, present []int, score bool, avg float64, top *topK, sc *scratch) (int64, error) {
	if sc.bits == nil {
		sc.bits = make([]uint64, (1<<ix.windowBits+63)/64)
	}
	bits := sc.bits
	clear(bits)
	if !score {
		for _, i := range present {
			l := lists[i]
			if err := ix.mark(ctx, l, l.wins[next[i]], bits); err != nil {
				return 0, err
			}
		}
		var n int64
		for _, w := range bits {
			n += int64(bits64.OnesCount64(w))
		}
		return n, nil
	}
	if sc.acc == nil {
		sc.acc = make([]float64, 1<<ix.windowBits)
	}
	acc := sc.acc
	for _, i := range present {
		l := lists[i]
		if err := ix.accumulate(ctx, l, l.wins[next[i]], avg, acc, bits); err != nil {
			clear(acc)
			return 0, err
		}
	}
	start := lists[present[0]].wins[next[present[0]]].win << ix.windowBits
	var n int64
	for wi, w := range bits {
		n += int64(bits64.OnesCount64(w))
		for w != 0 {
			k := wi<<6 | bits64.TrailingZeros64(w)
			w &= w - 1
			s := acc[k]
			acc[k] = 0
			// A row here comes after every kept one: it must score
			// strictly more than the worst of them.
			if len(top.h) < top.k || s > top.h[0].score {
				top.offer(s, start+int64(k))
			}
		}
	}
	return n, nil
}

// accumulate adds a list's shares in one window to the scores of its rows
// (acc, relative to the window's start) and marks the rows in bits.
func (ix *Index) accumulate(ctx context.Context, l *list, p *plist, avg float64, acc []float64, bits []uint64) error {
	if p.dense {
		start := p.win << ix.windowBits
		for i, d := range p.docs {
			k := d - start
			acc[k] += termScore(l.idf, p.tfs[i], p.lens[i], avg)
			bits[k>>6] |= 1 << (k & 63)
		}
		return nil
	}
	return ix.fetch(ctx, p, 3, func(b [][]byte) error {
		docs, classes, freqs := b[0], b[1], b[2]
		l.shares = l.shares[:0]
		if err := eachClass(classes, func(tf, length uint32) {
			l.shares = append(l.shares, termScore(l.idf, tf, length, avg))
		}); err != nil {
			return err
		}
		return addShares(docs, freqs, p.n, l.shares, acc, bits)
	})
}

// addShares adds the shares of a window's rows, by class, to their scores
// and marks them. It is the innermost loop of a search: one-byte varints,
// the common case, are decoded in place.
func addShares(docs, freqs []byte, n int64, shares, acc []float64, bits []uint64) error {
	var d uint64
	i, j := 0, 0
	for range n {
		if i >= len(docs) || j >= len(freqs) {
			return errCorrupt
		}
		delta := uint64(docs[i])
		if delta < 0x80 {
			i++
		} else {
			v, k := binary.Uvarint(docs[i:])
			if k <= 0 {
				return errCorrupt
			}
			delta, i = v, i+k
		}
		cl := uint64(freqs[j])
		if cl < 0x80 {
			j++
		} else {
			v, k := binary.Uvarint(freqs[j:])
			if k <= 0 {
				return errCorrupt
			}
			cl, j = v, j+k
		}
		if d += delta; d >= uint64(len(acc)) || cl >= uint64(len(shares)) {
			return errCorrupt
		}
		acc[d] += shares[cl]
		bits[d>>6] |= 1 << (d & 63)
	}
	return nil
}

// uvarint is binary.Uvarint, inlined for the one-byte values that most
// row gaps, occurrences and lengths are.
func uvarint(b []byte) (uint64, int) {
	if len(b) > 0 && b[0] < 0x80 {
		return uint64(b[0]), 1
	}
	return binary.Uvarint(b)
}

// mark sets the bits of a window's rows, relative to the window's start.
func (ix *Index) mark(ctx context.Context, l *list, p *plist, bits []uint64) error {
	start := p.win << ix.windowBits
	if p.docs != nil {
		for _, d := range p.docs {
			bits[(d-start)>>6] |= 1 << ((d - start) & 63)
		}
		return nil
	}
	return ix.fetch(ctx, p, 1, func(b [][]byte) error {
		docs := b[0]
		var d uint64
		for range p.n {
			delta, k := uvarint(docs)
			if k <= 0 {
				return errCorrupt
			}
			docs = docs[k:]
			d += delta
			if d >= uint64(len(bits))*64 {
				return errCorrupt
			}
			bits[d>>6] |= 1 << (d & 63)
		}
		return nil
	})
}

// word reads the windows of a word: their sizes and best scores.
func (ix *Index) word(ctx context.Context, vocab int, term string) (*list, error) {
	rows, err := ix.windows.QueryContext(ctx, vocab, term)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	l := &list{}
	var df int64
	for rows.Next() {
		p := &plist{}
		var docs, classes, freqs, pos []byte
		if err := rows.Scan(&p.win, &p.n, &p.best, &p.blob, &docs, &classes, &freqs, &pos); err != nil {
			return nil, err
		}
		if p.blob == 0 {
			p.inline = [][]byte{docs, classes, freqs, pos}
		}
		df += p.n
		l.wins = append(l.wins, p)
	}
	l.idf = idf(ix.numDocs, df)
	return l, rows.Err()
}

// postingCols are the columns of a window's postings, in the order fetch
// hands them.
var postingCols = [...]string{"docs, ", "classes, ", "freqs, ", "pos"}

// fetch hands f the first n columns of a word's postings in a window (of
// postingCols), valid only during the call: they are not copied out of
// the database.
func (ix *Index) fetch(ctx context.Context, p *plist, n int, f func([][]byte) error) error {
	if p.blob == 0 {
		return f(p.inline[:n])
	}
	rows, err := ix.fetches[n].QueryContext(ctx, p.blob)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return errCorrupt
	}
	b := make([]sql.RawBytes, n)
	dst := make([]any, n)
	for i := range b {
		dst[i] = &b[i]
	}
	if err := rows.Scan(dst...); err != nil {
		return err
	}
	bs := make([][]byte, n)
	for i := range b {
		bs[i] = b[i]
	}
	return f(bs)
}

var errCorrupt = errors.New("fts: corrupt postings")

// phrase computes the postings of a run of terms that must follow each
// other (the pairs of a word of a script written without spaces), in every
// window where all its terms occur: its idf depends on how many rows hold
// it. Its occurrences in a row are the positions where the whole chain starts.
func (ix *Index) phrase(ctx context.Context, vocab int, toks []string, avg float64) (*list, error) {
	parts := make([]*list, len(toks))
	for i, t := range toks {
		l, err := ix.word(ctx, vocab, t)
		if err != nil {
			return nil, err
		}
		parts[i] = l
	}
	out := &list{}
	var df int64
	at := make([]int, len(parts))
	cs := make([]cursor, len(parts))
	var starts []uint32
	for _, first := range parts[0].wins {
		all := true
		for i, l := range parts {
			for at[i] < len(l.wins) && l.wins[at[i]].win < first.win {
				at[i]++
			}
			if at[i] == len(l.wins) || l.wins[at[i]].win != first.win {
				all = false
				break
			}
		}
		if !all {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for i, l := range parts {
			if err := ix.open(ctx, l.wins[at[i]], &cs[i]); err != nil {
				return nil, err
			}
		}
		p := &plist{win: first.win, dense: true}
		n0 := parts[0].wins[at[0]].n
		p.docs, p.tfs, p.lens = make([]int64, 0, n0), make([]uint32, 0, n0), make([]uint32, 0, n0)
		valid := make([]bool, len(cs))
		for i := 1; i < len(cs); i++ {
			ok, err := cs[i].next()
			if err != nil {
				return nil, err
			}
			valid[i] = ok
		}
		for {
			ok, err := cs[0].next()
			if err != nil {
				return nil, err
			}
			if !ok {
				break
			}
			doc := cs[0].doc
			// The positions where the phrase starts, kept while the next
			// tokens follow.
			starts = append(starts[:0], cs[0].poss...)
			for i := 1; i < len(cs) && len(starts) > 0; i++ {
				c := &cs[i]
				for valid[i] && c.doc < doc {
					if valid[i], err = c.next(); err != nil {
						return nil, err
					}
				}
				if !valid[i] || c.doc != doc {
					starts = starts[:0]
					break
				}
				kept := starts[:0]
				for _, s := range starts {
					if slices.Contains(c.poss, s+uint32(i)) {
						kept = append(kept, s)
					}
				}
				starts = kept
			}
			if len(starts) > 0 {
				p.docs = append(p.docs, doc)
				p.tfs = append(p.tfs, uint32(len(starts)))
				p.lens = append(p.lens, cs[0].length)
			}
		}
		if p.n = int64(len(p.docs)); p.n > 0 {
			df += p.n
			out.wins = append(out.wins, p)
		}
	}
	out.idf = idf(ix.numDocs, df)
	for _, p := range out.wins {
		for i := range p.docs {
			p.best = max(p.best, termScore(out.idf, p.tfs[i], p.lens[i], avg))
		}
	}
	return out, nil
}

// cursor walks a word's postings in one window, positions included.
type cursor struct {
	buf              []byte
	docs, freqs, pos []byte
	classes          [][2]uint32 // occurrences and length, by class
	left             int64
	doc              int64
	length           uint32
	poss             []uint32
}

// eachClass calls fn with each (occurrences, length) class of a window, as
// the window directory stores them: pairs of uvarints.
func eachClass(classes []byte, fn func(tf, length uint32)) error {
	for len(classes) > 0 {
		tf, k1 := uvarint(classes)
		if k1 <= 0 {
			return errCorrupt
		}
		length, k2 := uvarint(classes[k1:])
		if k2 <= 0 {
			return errCorrupt
		}
		classes = classes[k1+k2:]
		fn(uint32(tf), uint32(length))
	}
	return nil
}

// open reads a window of a word into c.
func (ix *Index) open(ctx context.Context, p *plist, c *cursor) error {
	c.left, c.doc = p.n, p.win<<ix.windowBits
	return ix.fetch(ctx, p, 4, func(b [][]byte) error {
		classes := b[1]
		c.classes = c.classes[:0]
		if err := eachClass(classes, func(tf, length uint32) {
			c.classes = append(c.classes, [2]uint32{tf, length})
		}); err != nil {
			return err
		}
		c.buf = append(append(append(c.buf[:0], b[0]...), b[2]...), b[3]...)
		c.docs, c.freqs, c.pos = c.buf[:len(b[0])], c.buf[len(b[0]):len(b[0])+len(b[2])], c.buf[len(b[0])+len(b[2]):]
		return nil
	})
}

// next moves to the next row, reporting false past the last one.
func (c *cursor) next() (bool, error) {
	if c.left == 0 {
		return false, nil
	}
	c.left--
	d, k1 := uvarint(c.docs)
	cl, k2 := uvarint(c.freqs)
	if k1 <= 0 || k2 <= 0 || cl >= uint64(len(c.classes)) {
		return false, errCorrupt
	}
	c.docs, c.freqs = c.docs[k1:], c.freqs[k2:]
	c.doc += int64(d)
	tf := c.classes[cl][0]
	c.length = c.classes[cl][1]
	c.poss = c.poss[:0]
	prev := uint32(0)
	for range tf {
		d, k := uvarint(c.pos)
		if k <= 0 {
			return false, errCorrupt
		}
		c.pos = c.pos[k:]
		prev += uint32(d)
		c.poss = append(c.poss, prev)
	}
	return true, nil
}

// topK keeps the k best rows seen: a heap with the worst at its root.
type topK struct {
	k int
	h []hit
}

type hit struct {
	score float64
	doc   int64
}

// better orders hits: higher score first, then lower row number.
func better(a, b hit) bool { return a.score > b.score || a.score == b.score && a.doc < b.doc }

// admits reports whether a row of a window not read yet, scoring at most
// bound, could still enter: its row number is higher than those kept, so
// it must score strictly more than the worst of them.
func (t *topK) admits(bound float64) bool {
	return t.k > 0 && (len(t.h) < t.k || bound > t.h[0].score)
}

func (t *topK) offer(score float64, doc int64) {
	x := hit{score, doc}
	if len(t.h) < t.k {
		t.h = append(t.h, x)
		for i := len(t.h) - 1; i > 0; {
			p := (i - 1) / 2
			if !better(t.h[p], t.h[i]) {
				break
			}
			t.h[p], t.h[i] = t.h[i], t.h[p]
			i = p
		}
		return
	}
	if !better(x, t.h[0]) {
		return
	}
	t.h[0] = x
	for i := 0; ; {
		w, l, r := i, 2*i+1, 2*i+2
		if l < len(t.h) && better(t.h[w], t.h[l]) {
			w = l
		}
		if r < len(t.h) && better(t.h[w], t.h[r]) {
			w = r
		}
		if w == i {
			return
		}
		t.h[i], t.h[w] = t.h[w], t.h[i]
		i = w
	}
}

// sorted returns the kept rows, best first.
func (t *topK) sorted() []int64 {
	slices.SortFunc(t.h, func(a, b hit) int {
		if better(a, b) {
			return -1
		}
		if better(b, a) {
			return 1
		}
		return 0
	})
	ids := make([]int64, len(t.h))
	for i, x := range t.h {
		ids[i] = x.doc
	}
	return ids
}
