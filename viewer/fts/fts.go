// Package fts is the full-text index behind the viewer's /search: one SQLite
// file of postings per split (inverted by FTS5 when built), searched and
// ranked as the upstream viewer does (any word of the query matches, English
// stop words ignored unless the query has nothing else, words stemmed for
// the dataset card's single language, BM25 with k = 1.2 and b = 0.75 over
// all the text of a row), but with words of every script,
// and digits, searchable instead of a–z only. Scripts written without spaces
// between words (Chinese, Japanese, Thai…) are indexed one character per
// token and a run of them in a query is searched as a phrase. A query reads
// only the best-scoring part of its postings: see Index.Search.
package fts

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

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

// unspacedToken reports whether a token is one character of an unspaced
// script: the tokens that pairs join.
func unspacedToken(t string) bool {
	r, n := utf8.DecodeRuneInString(t)
	return n == len(t) && n > 0 && unspaced(r)
}

// pairSep separates the runs of pairs of a row in the pairs table, so that
// the last pair of a run and the first of the next are not adjacent there:
// a phrase of three characters or more is matched as a chain of adjacent
// pairs. It is not a pair, so it is left out of the index.
const pairSep = "0"

// pairs returns the text of a row's pairs of adjacent unspaced tokens (toks
// as tokens returns them), each pair one token of the text, or "" when the
// row has none. A pair's position in that text, counted from the start of
// its run, is its first character's there: within a run, the pairs of a
// phrase follow each other as its characters do.
func pairs(toks []string) string {
	var b strings.Builder
	inRun := false
	for i := 1; i < len(toks); i++ {
		if !unspacedToken(toks[i-1]) || !unspacedToken(toks[i]) {
			inRun = false
			continue
		}
		if !inRun && b.Len() > 0 {
			b.WriteString(" " + pairSep)
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(toks[i-1] + toks[i])
		inRun = true
	}
	return b.String()
}

// pairTerms returns the pairs that make up a phrase of unspaced
// characters, in order.
func pairTerms(phrase []string) []string {
	out := make([]string, 0, len(phrase)-1)
	for i := 1; i < len(phrase); i++ {
		out = append(out, phrase[i-1]+phrase[i])
	}
	return out
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
