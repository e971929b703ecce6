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
)

// Index is an open, read-only index.
type Index struct {
	db         *sql.DB
	numDocs    int64
	numTokens  int64
	stem       Stemmer
	windowBits int64
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
	return ix, nil
}

// Close closes the index.
func (ix *Index) Close() error { return ix.db.Close() }

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
	stop int
	term string
	idf  float64
	wins []*plist
	// The window being read, decoded.
	docs      []int64
	tfs, lens []uint32
}

// plist is a term's postings in one window, decoded as far as needed.
type plist struct {
	win   int64
	n     int64
	best  float64
	docs  []int64  // nil until read
	tfs   []uint32 // as lens
	lens  []uint32
	dense bool // docs, tfs and lens read
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
	stop := 0
	if len(qterms) == 0 {
		if qterms = stopTerms(query); len(qterms) == 0 {
			return Result{}, nil
		}
		stop = 1
	}
	avg := avgLen(ix.numDocs, ix.numTokens)
	lists := make([]*list, 0, len(qterms))
	for _, t := range qterms {
		var l *list
		if len(t) == 1 {
			l, err = ix.word(ctx, stop, t[0])
		} else {
			l, err = ix.phrase(ctx, stop, t, avg)
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
	var bits []uint64
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
			if bits == nil {
				bits = make([]uint64, (1<<ix.windowBits+63)/64)
			}
			n, err := ix.window(ctx, lists, next, present, score, avg, top, bits)
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

// window counts the rows of the lists present in one window and, when
// score is set, offers each row to top. A row's score sums its terms'
// shares in query order, as the bound does. Counting alone marks the rows
// in a bitmap of the window, without decoding more than row numbers.
func (ix *Index) window(ctx context.Context, lists []*list, next, present []int, score bool, avg float64, top *topK, bits []uint64) (int64, error) {
	ps := make([]*plist, len(present))
	for j, i := range present {
		ps[j] = lists[i].wins[next[i]]
	}
	if !score {
		clear(bits)
		for j, i := range present {
			if err := ix.mark(ctx, lists[i], ps[j], bits); err != nil {
				return 0, err
			}
		}
		var n int64
		for _, w := range bits {
			n += int64(bits64.OnesCount64(w))
		}
		return n, nil
	}
	for j, i := range present {
		if err := ix.read(ctx, lists[i], ps[j]); err != nil {
			return 0, err
		}
	}
	at := make([]int, len(ps))
	var n int64
	for {
		doc := int64(-1)
		for j, p := range ps {
			if at[j] < len(p.docs) && (doc < 0 || p.docs[at[j]] < doc) {
				doc = p.docs[at[j]]
			}
		}
		if doc < 0 {
			return n, nil
		}
		n++
		s := 0.0
		for j, p := range ps {
			if at[j] < len(p.docs) && p.docs[at[j]] == doc {
				s += termScore(lists[present[j]].idf, p.tfs[at[j]], p.lens[at[j]], avg)
				at[j]++
			}
		}
		top.offer(s, doc)
	}
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
	return ix.fetch(ctx, "docs", l, p.win, func(b []sql.RawBytes) error {
		docs := b[0]
		var d uint64
		for range p.n {
			delta, k := binary.Uvarint(docs)
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
func (ix *Index) word(ctx context.Context, stop int, term string) (*list, error) {
	rows, err := ix.db.QueryContext(ctx, "SELECT win, n, best FROM postings WHERE stop = ? AND term = ? ORDER BY win", stop, term)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	l := &list{stop: stop, term: term}
	var df int64
	for rows.Next() {
		p := &plist{}
		if err := rows.Scan(&p.win, &p.n, &p.best); err != nil {
			return nil, err
		}
		df += p.n
		l.wins = append(l.wins, p)
	}
	l.idf = idf(ix.numDocs, df)
	return l, rows.Err()
}

// read decodes a window's row numbers, frequencies and lengths into the
// list's buffers: a word's windows are each read once, in order.
func (ix *Index) read(ctx context.Context, l *list, p *plist) error {
	if p.dense {
		return nil
	}
	return ix.fetch(ctx, "docs, freqs", l, p.win, func(b []sql.RawBytes) error {
		docs, freqs := b[0], b[1]
		n := int(p.n)
		l.docs, l.tfs, l.lens = slices.Grow(l.docs[:0], n)[:n], slices.Grow(l.tfs[:0], n)[:n], slices.Grow(l.lens[:0], n)[:n]
		doc := p.win << ix.windowBits
		for i := range n {
			d, k1 := binary.Uvarint(docs)
			tf, k2 := binary.Uvarint(freqs)
			if k1 <= 0 || k2 <= 0 {
				return errCorrupt
			}
			length, k3 := binary.Uvarint(freqs[k2:])
			if k3 <= 0 {
				return errCorrupt
			}
			docs, freqs = docs[k1:], freqs[k2+k3:]
			doc += int64(d)
			l.docs[i], l.tfs[i], l.lens[i] = doc, uint32(tf), uint32(length)
		}
		p.docs, p.tfs, p.lens = l.docs, l.tfs, l.lens
		return nil
	})
}

// fetch hands f the columns cols of a word's window, valid only during
// the call: they are not copied out of the database.
func (ix *Index) fetch(ctx context.Context, cols string, l *list, win int64, f func([]sql.RawBytes) error) error {
	rows, err := ix.db.QueryContext(ctx, "SELECT "+cols+" FROM postings WHERE stop = ? AND term = ? AND win = ?", l.stop, l.term, win)
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
	n := strings.Count(cols, ",") + 1
	b := make([]sql.RawBytes, n)
	dst := make([]any, n)
	for i := range b {
		dst[i] = &b[i]
	}
	if err := rows.Scan(dst...); err != nil {
		return err
	}
	return f(b)
}

var errCorrupt = errors.New("fts: corrupt postings")

// phrase computes the postings of a run of tokens that must follow each
// other (a word of a script written without spaces), in every window
// where all its tokens occur: its idf depends on how many rows hold it.
func (ix *Index) phrase(ctx context.Context, stop int, toks []string, avg float64) (*list, error) {
	parts := make([]*list, len(toks))
	for i, t := range toks {
		l, err := ix.word(ctx, stop, t)
		if err != nil {
			return nil, err
		}
		parts[i] = l
	}
	out := &list{stop: stop}
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
			if err := ix.open(ctx, l, l.wins[at[i]], &cs[i]); err != nil {
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
	left             int64
	doc              int64
	length           uint32
	poss             []uint32
}

// open reads a window of a word into c.
func (ix *Index) open(ctx context.Context, l *list, p *plist, c *cursor) error {
	c.left, c.doc = p.n, p.win<<ix.windowBits
	return ix.fetch(ctx, "docs, freqs, pos", l, p.win, func(b []sql.RawBytes) error {
		c.buf = append(append(append(c.buf[:0], b[0]...), b[1]...), b[2]...)
		c.docs, c.freqs, c.pos = c.buf[:len(b[0])], c.buf[len(b[0]):len(b[0])+len(b[1])], c.buf[len(b[0])+len(b[1]):]
		return nil
	})
}

// next moves to the next row, reporting false past the last one.
func (c *cursor) next() (bool, error) {
	if c.left == 0 {
		return false, nil
	}
	c.left--
	d, k1 := binary.Uvarint(c.docs)
	tf, k2 := binary.Uvarint(c.freqs)
	if k1 <= 0 || k2 <= 0 {
		return false, errCorrupt
	}
	length, k3 := binary.Uvarint(c.freqs[k2:])
	if k3 <= 0 {
		return false, errCorrupt
	}
	c.docs, c.freqs = c.docs[k1:], c.freqs[k2+k3:]
	c.doc += int64(d)
	c.length = uint32(length)
	c.poss = c.poss[:0]
	prev := uint32(0)
	for range tf {
		d, k := binary.Uvarint(c.pos)
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
