package fts

import (
	"github.com/kljensen/snowball/english"
	"github.com/kljensen/snowball/french"
	"github.com/kljensen/snowball/hungarian"
	"github.com/kljensen/snowball/norwegian"
	"github.com/kljensen/snowball/russian"
	"github.com/kljensen/snowball/spanish"
	"github.com/kljensen/snowball/swedish"
)

// Stemmer reduces a folded word to its stem.
type Stemmer func(string) string

// stemmers are the Snowball stemmers by the card's language code. Upstream
// knows more languages; the others are searched without stemming, as
// upstream does for a language it does not know.
var stemmers = map[string]Stemmer{
	"en": func(w string) string { return english.Stem(w, true) },
	"fr": func(w string) string { return french.Stem(w, true) },
	"es": func(w string) string { return spanish.Stem(w, true) },
	"ru": func(w string) string { return russian.Stem(w, true) },
	"sv": func(w string) string { return swedish.Stem(w, true) },
	"no": func(w string) string { return norwegian.Stem(w, true) },
	"nb": func(w string) string { return norwegian.Stem(w, true) },
	"hu": func(w string) string { return hungarian.Stem(w, true) },
}

// StemmerFor returns the stemmer of a language code (as in a dataset card,
// "en" or "en-US"), or nil when words are to be kept as they are.
func StemmerFor(lang string) Stemmer {
	if len(lang) > 2 && (lang[2] == '-' || lang[2] == '_') {
		lang = lang[:2]
	}
	return stemmers[lang]
}
