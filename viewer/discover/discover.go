// Package discover finds a dataset repository's configs, splits and file
// formats with the rules the `datasets` library applies: `configs:` in the
// dataset card, else a single "default" config whose splits come from file
// and directory names, and a builder chosen by the most frequent extension.
package discover

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
)

// Formats the converter understands, by builder name.
const (
	Parquet = "parquet"
	CSV     = "csv"
	JSON    = "json"
	Text    = "text"
)

// File is a file of the repository at one commit.
type File struct {
	Path string
	Size int64 // the real size (of the LFS object for LFS files)
}

// Split is a named part of a config and the files it reads.
type Split struct {
	Name  string
	Files []File
}

// Config is one builder configuration of a dataset.
type Config struct {
	Name    string
	Format  string // Parquet, CSV, JSON or Text
	Sep     string // CSV field separator ("," unless the card or ".tsv" says otherwise)
	Default bool
	Splits  []Split
}

// Error is a discovery failure with the viewer's error code for it.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Limits from the upstream viewer.
const (
	MaxConfigs         = 4000
	MaxSplitsPerConfig = 30
)

// extFormat maps a lower-cased extension to a builder. Only these vote.
var extFormat = map[string]string{
	"parquet": Parquet, "geoparquet": Parquet, "gpq": Parquet,
	"csv": CSV, "tsv": CSV,
	"json": JSON, "jsonl": JSON, "ndjson": JSON,
	"txt": Text,
}

// otherData are extensions `datasets` reads with builders Haven does not
// convert; finding them gives a clear error instead of "no data".
var otherData = map[string]bool{
	"arrow": true, "lance": true, "tar": true, "zip": true, "xml": true, "hdf5": true, "h5": true,
	"conll": true, "conllu": true, "eval": true, "png": true, "jpg": true, "jpeg": true, "gif": true,
	"webp": true, "wav": true, "mp3": true, "flac": true, "ogg": true, "mp4": true, "pdf": true,
}

// formatOrder breaks ties between equally frequent extensions.
var formatOrder = map[string]int{Parquet: 0, JSON: 1, CSV: 2, Text: 3}

// ignoredNames never count as data, wherever they are.
var ignoredNames = map[string]bool{
	"README.md": true, "config.json": true, "dataset_info.json": true, "dataset_infos.json": true,
	"dummy_data.zip": true, "dataset_dict.json": true,
}

// metadataNames describe folder datasets and never vote.
var metadataNames = map[string]bool{"metadata.csv": true, "metadata.jsonl": true, "metadata.parquet": true}

func ext(p string) string {
	base := path.Base(p)
	i := strings.LastIndexByte(base, '.')
	if i < 0 {
		return ""
	}
	return strings.ToLower(base[i+1:])
}

// hidden reports whether a path has a segment that `datasets` skips unless a
// pattern names it: a leading "." or, for directories, a leading "__".
func hidden(p string) bool {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, ".") || (i < len(segs)-1 && strings.HasPrefix(s, "__")) {
			return true
		}
	}
	return false
}

// candidate reports whether a file can be data at all.
func candidate(p string) bool {
	base := path.Base(p)
	return !hidden(p) && !ignoredNames[base] && !metadataNames[base]
}

// Discover returns the configs of a dataset whose files at one commit are
// files and whose card front matter is cardData (nil without a card).
func Discover(files []File, cardData map[string]any) ([]Config, error) {
	var configs []Config
	if raw, ok := cardData["configs"]; ok && raw != nil {
		list, ok := raw.([]any)
		if !ok {
			return nil, errorf("InvalidConfigsError", "The dataset card's `configs` must be a list")
		}
		seen := map[string]bool{}
		defaults := 0
		for i, item := range list {
			m, ok := item.(map[string]any)
			if !ok {
				return nil, errorf("InvalidConfigsError", "Item %d of the card's `configs` is not a mapping", i)
			}
			c, err := fromCard(m, files)
			if err != nil {
				return nil, err
			}
			if seen[c.Name] {
				return nil, errorf("InvalidConfigsError", "The config name %q appears twice in the dataset card", c.Name)
			}
			seen[c.Name] = true
			if c.Default {
				defaults++
			}
			configs = append(configs, c)
		}
		if defaults > 1 {
			return nil, errorf("InvalidConfigsError", "Only one config can be marked default: true")
		}
		if len(configs) == 1 {
			configs[0].Default = true
		} else if defaults == 0 {
			for i := range configs {
				configs[i].Default = configs[i].Name == "default"
			}
		}
	} else {
		splits, err := inferSplits(files, "")
		if err != nil {
			return nil, err
		}
		c, err := finish(Config{Name: "default", Default: true, Splits: splits})
		if err != nil {
			return nil, err
		}
		configs = []Config{c}
	}
	if len(configs) > MaxConfigs {
		return nil, errorf("DatasetWithTooManyConfigsError", "The dataset has %d configs; at most %d are supported", len(configs), MaxConfigs)
	}
	return configs, nil
}

// fromCard builds one config from an item of the card's `configs` list.
func fromCard(m map[string]any, files []File) (Config, error) {
	name, _ := m["config_name"].(string)
	if name == "" {
		return Config{}, errorf("InvalidConfigsError", "Each item of the card's `configs` needs a config_name")
	}
	c := Config{Name: name}
	c.Default, _ = m["default"].(bool)
	for _, k := range []string{"sep", "delimiter"} {
		if s, ok := m[k].(string); ok && s != "" {
			c.Sep = s
		}
	}
	dataDir, _ := m["data_dir"].(string)
	dataDir = strings.Trim(dataDir, "/")
	var err error
	if df, ok := m["data_files"]; ok && df != nil {
		c.Splits, err = splitsFromPatterns(df, dataDir, files)
	} else {
		c.Splits, err = inferSplits(files, dataDir)
	}
	if err != nil {
		if e, ok := err.(*Error); ok {
			e.Message = fmt.Sprintf("Config %q: %s", name, e.Message)
		}
		return Config{}, err
	}
	return finish(c)
}

var splitNameRE = regexp.MustCompile(`^\w+(\.\w+)*$`)

// splitsFromPatterns reads `data_files`: a pattern, a list of patterns (both
// meaning split "train"), or a list of {split, path} mappings.
func splitsFromPatterns(df any, dataDir string, files []File) ([]Split, error) {
	type entry struct {
		split    string
		patterns []string
	}
	var entries []entry
	patternsOf := func(v any) ([]string, bool) {
		switch x := v.(type) {
		case string:
			return []string{x}, true
		case []any:
			var out []string
			for _, p := range x {
				s, ok := p.(string)
				if !ok {
					return nil, false
				}
				out = append(out, s)
			}
			return out, true
		}
		return nil, false
	}
	switch x := df.(type) {
	case string:
		entries = append(entries, entry{"train", []string{x}})
	case []any:
		if ps, ok := patternsOf(x); ok {
			entries = append(entries, entry{"train", ps})
			break
		}
		for _, item := range x {
			m, ok := item.(map[string]any)
			if !ok {
				return nil, errorf("InvalidConfigsError", "data_files must be a pattern, a list of patterns, or a list of {split, path}")
			}
			split, _ := m["split"].(string)
			if split == "" {
				split = "train"
			}
			ps, ok := patternsOf(m["path"])
			if !ok {
				return nil, errorf("InvalidConfigsError", "data_files: the path of split %q must be a pattern or a list of patterns", split)
			}
			entries = append(entries, entry{split, ps})
		}
	case map[string]any:
		// The older mapping form {split: patterns}.
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ps, ok := patternsOf(x[k])
			if !ok {
				return nil, errorf("InvalidConfigsError", "data_files: split %q needs a pattern or a list of patterns", k)
			}
			entries = append(entries, entry{k, ps})
		}
	default:
		return nil, errorf("InvalidConfigsError", "data_files must be a pattern, a list of patterns, or a list of {split, path}")
	}
	var out []Split
	for _, e := range entries {
		if !splitNameRE.MatchString(e.split) {
			return nil, errorf("InvalidConfigsError", "Split name %q must match %s", e.split, splitNameRE)
		}
		var matched []File
		for _, p := range e.patterns {
			m, err := resolvePattern(path.Join(dataDir, p), files)
			if err != nil {
				return nil, err
			}
			if len(m) == 0 {
				return nil, errorf("DataFilesNotFoundError", "Unable to find any data file matching %q", p)
			}
			matched = append(matched, m...)
		}
		merged := false
		for i := range out {
			if out[i].Name == e.split {
				out[i].Files = append(out[i].Files, matched...)
				merged = true
			}
		}
		if !merged {
			out = append(out, Split{Name: e.split, Files: matched})
		}
	}
	return out, nil
}

// resolvePattern lists the files a pattern names. A pattern without glob
// characters names a file or a directory; hidden files match only when the
// pattern names them.
func resolvePattern(p string, files []File) ([]File, error) {
	p = strings.TrimPrefix(p, "./")
	if !hasMagic(p) {
		var out []File
		for _, f := range files {
			if f.Path == p || (strings.HasPrefix(f.Path, p+"/") && candidate(strings.TrimPrefix(f.Path, p+"/"))) {
				out = append(out, f)
			}
		}
		return out, nil
	}
	re, err := globRegexp(p)
	if err != nil {
		return nil, errorf("InvalidConfigsError", "Invalid data_files pattern %q", p)
	}
	patternHidden := hidden(p)
	var out []File
	for _, f := range files {
		if !re.MatchString(f.Path) {
			continue
		}
		if !patternHidden && !candidate(f.Path) {
			continue
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

var keywords = []struct {
	split string
	words string
}{
	{"train", "train|training"},
	{"validation", "validation|valid|dev|val"},
	{"test", "test|testing|eval|evaluation"},
}

const sepChars = `[-._ 0-9]`

var (
	shardedRE = regexp.MustCompile(`^data/(\w+(?:\.\w+)*)-[0-9]{5}-of-[0-9]{5}[^/]*\.[^/]+$`)
	dirREs    = map[string]*regexp.Regexp{}
	fileREs   = map[string]*regexp.Regexp{}
)

func init() {
	for _, k := range keywords {
		w := "(?:" + k.words + ")"
		// A keyword directory anywhere above the file, alone or set off by a separator.
		dirREs[k.split] = regexp.MustCompile(`(?:^|/)(?:` + w + `|` + w + sepChars + `[^/]*|[^/]*` + sepChars + w + `|[^/]*` + sepChars + w + sepChars + `[^/]*)/`)
		// A keyword at the start of the file name or set off by separators.
		fileREs[k.split] = regexp.MustCompile(`(?:^|/)(?:` + w + sepChars + `[^/]*|[^/]*` + sepChars + w + sepChars + `[^/]*)$`)
	}
}

// inferSplits applies the default split patterns to the files under dir.
func inferSplits(files []File, dir string) ([]Split, error) {
	var pool []File
	for _, f := range files {
		rel := f.Path
		if dir != "" {
			if !strings.HasPrefix(f.Path, dir+"/") {
				continue
			}
			rel = strings.TrimPrefix(f.Path, dir+"/")
		}
		if !candidate(rel) {
			continue
		}
		e := ext(rel)
		if extFormat[e] == "" && !otherData[e] {
			continue
		}
		pool = append(pool, File{Path: rel, Size: f.Size})
	}
	sort.Slice(pool, func(i, j int) bool { return pool[i].Path < pool[j].Path })
	restore := func(splits []Split) []Split {
		for i := range splits {
			for j := range splits[i].Files {
				if dir != "" {
					splits[i].Files[j].Path = dir + "/" + splits[i].Files[j].Path
				}
			}
		}
		return splits
	}
	if len(pool) == 0 {
		where := ""
		if dir != "" {
			where = " in " + dir
		}
		return nil, errorf("DataFilesNotFoundError", "No (supported) data files found%s", where)
	}

	// 1. Sharded names: data/<split>-00000-of-00003.<ext>.
	bySplit := map[string][]File{}
	for _, f := range pool {
		if m := shardedRE.FindStringSubmatch(f.Path); m != nil {
			bySplit[m[1]] = append(bySplit[m[1]], f)
		}
	}
	if len(bySplit) > 0 {
		names := make([]string, 0, len(bySplit))
		for n := range bySplit {
			names = append(names, n)
		}
		sort.Slice(names, func(i, j int) bool {
			ri, rj := splitRank(names[i]), splitRank(names[j])
			if ri != rj {
				return ri < rj
			}
			return names[i] < names[j]
		})
		var out []Split
		for _, n := range names {
			out = append(out, Split{Name: n, Files: bySplit[n]})
		}
		return restore(out), nil
	}
	// 2–3. Keyword directories, then keyword file names.
	for _, res := range []map[string]*regexp.Regexp{dirREs, fileREs} {
		var out []Split
		for _, k := range keywords {
			var fs []File
			for _, f := range pool {
				if res[k.split].MatchString(f.Path) {
					fs = append(fs, f)
				}
			}
			if len(fs) > 0 {
				out = append(out, Split{Name: k.split, Files: fs})
			}
		}
		if len(out) > 0 {
			return restore(out), nil
		}
	}
	// 4. Everything is the train split.
	return restore([]Split{{Name: "train", Files: pool}}), nil
}

func splitRank(name string) int {
	switch name {
	case "train":
		return 0
	case "validation":
		return 1
	case "test":
		return 2
	}
	return 3
}

// finish chooses the config's format by extension vote and keeps only the
// files of that format.
func finish(c Config) (Config, error) {
	counts := map[string]int{}
	var others []string
	for _, s := range c.Splits {
		for _, f := range s.Files {
			e := ext(f.Path)
			if fm := extFormat[e]; fm != "" {
				counts[fm]++
			} else if otherData[e] {
				others = append(others, e)
			}
		}
	}
	best := ""
	for fm, n := range counts {
		if best == "" || n > counts[best] || n == counts[best] && formatOrder[fm] < formatOrder[best] {
			best = fm
		}
	}
	if best == "" {
		if len(others) > 0 {
			return c, errorf("DatasetGenerationError", "Files of type .%s are not supported by this hub's viewer; it converts parquet, CSV, TSV, JSON Lines and text files", others[0])
		}
		return c, errorf("DataFilesNotFoundError", "No (supported) data files found")
	}
	c.Format = best
	tsv := 0
	for i := range c.Splits {
		var keep []File
		for _, f := range c.Splits[i].Files {
			if extFormat[ext(f.Path)] == best {
				keep = append(keep, f)
				if ext(f.Path) == "tsv" {
					tsv++
				}
			}
		}
		if len(keep) == 0 {
			return c, errorf("FileFormatMismatchBetweenSplitsError", "Couldn't infer the same data file format for all splits: split %q has no %s file", c.Splits[i].Name, best)
		}
		c.Splits[i].Files = keep
	}
	if best == CSV && c.Sep == "" {
		c.Sep = ","
		if tsv > 0 {
			c.Sep = "\t"
		}
	}
	if len(c.Splits) > MaxSplitsPerConfig {
		return c, errorf("DatasetWithTooManySplitsError", "The config %q has %d splits; at most %d are supported", c.Name, len(c.Splits), MaxSplitsPerConfig)
	}
	return c, nil
}
