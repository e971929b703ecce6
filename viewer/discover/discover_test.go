package discover

import (
	"reflect"
	"testing"

	"go.yaml.in/yaml/v3"
)

func files(paths ...string) []File {
	out := make([]File, len(paths))
	for i, p := range paths {
		out[i] = File{Path: p, Size: 10}
	}
	return out
}

// summary renders configs as config → format → split → paths.
func summary(cs []Config) map[string]map[string][]string {
	out := map[string]map[string][]string{}
	for _, c := range cs {
		m := map[string][]string{"_format": {c.Format}}
		for _, s := range c.Splits {
			for _, f := range s.Files {
				m[s.Name] = append(m[s.Name], f.Path)
			}
		}
		out[c.Name] = m
	}
	return out
}

func card(t *testing.T, y string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(y), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDefaultSplits(t *testing.T) {
	tests := []struct {
		name  string
		files []File
		want  map[string][]string
		order []string
	}{
		{"one file", files("data.csv", "README.md", ".gitattributes"),
			map[string][]string{"_format": {"csv"}, "train": {"data.csv"}}, []string{"train"}},
		{"file names", files("data/train.jsonl", "data/test.jsonl", "data/validation.jsonl", "notes/other.md"),
			map[string][]string{"_format": {"json"}, "train": {"data/train.jsonl"}, "validation": {"data/validation.jsonl"}, "test": {"data/test.jsonl"}},
			[]string{"train", "validation", "test"}},
		{"file name keywords", files("my_train_file.csv", "dev-01.csv", "eval.csv"),
			map[string][]string{"_format": {"csv"}, "train": {"my_train_file.csv"}, "validation": {"dev-01.csv"}, "test": {"eval.csv"}},
			[]string{"train", "validation", "test"}},
		{"directories win over file names", files("train/a.parquet", "train/b.parquet", "test/x_train.parquet"),
			map[string][]string{"_format": {"parquet"}, "train": {"train/a.parquet", "train/b.parquet"}, "test": {"test/x_train.parquet"}},
			[]string{"train", "test"}},
		{"sharded names", files("data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet", "data/extra-00000-of-00001.parquet", "data/test-00000-of-00001.parquet"),
			map[string][]string{"_format": {"parquet"}, "train": {"data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet"}, "test": {"data/test-00000-of-00001.parquet"}, "extra": {"data/extra-00000-of-00001.parquet"}},
			[]string{"train", "test", "extra"}},
		{"no keyword means train", files("pretraining.txt", "a/b.txt"),
			map[string][]string{"_format": {"text"}, "train": {"a/b.txt", "pretraining.txt"}}, []string{"train"}},
		{"hidden and dunder skipped", files(".hidden/train.csv", "__pycache__/x.csv", "data.csv"),
			map[string][]string{"_format": {"csv"}, "train": {"data.csv"}}, []string{"train"}},
		{"most frequent format wins", files("a.csv", "b.csv", "c.jsonl", "metadata.jsonl"),
			map[string][]string{"_format": {"csv"}, "train": {"a.csv", "b.csv"}}, []string{"train"}},
		{"tie prefers parquet", files("a.csv", "b.parquet"),
			map[string][]string{"_format": {"parquet"}, "train": {"b.parquet"}}, []string{"train"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs, err := Discover(tc.files, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(cs) != 1 || cs[0].Name != "default" || !cs[0].Default {
				t.Fatalf("configs: %+v", cs)
			}
			if got := summary(cs)["default"]; !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v\nwant %v", got, tc.want)
			}
			var order []string
			for _, s := range cs[0].Splits {
				order = append(order, s.Name)
			}
			if !reflect.DeepEqual(order, tc.order) {
				t.Errorf("split order %v, want %v", order, tc.order)
			}
		})
	}
}

func TestCardConfigs(t *testing.T) {
	fs := files("en/train.csv", "en/test.csv", "fr/all.tsv", "x/a.jsonl", "x/b.jsonl")
	cs, err := Discover(fs, card(t, `
configs:
- config_name: en
  data_dir: en
- config_name: fr
  data_files: fr/*.tsv
  default: true
- config_name: x
  data_files:
  - split: train
    path: ["x/a.jsonl"]
  - split: other.part
    path: x/b*
`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string][]string{
		"en": {"_format": {"csv"}, "train": {"en/train.csv"}, "test": {"en/test.csv"}},
		"fr": {"_format": {"csv"}, "train": {"fr/all.tsv"}},
		"x":  {"_format": {"json"}, "train": {"x/a.jsonl"}, "other.part": {"x/b.jsonl"}},
	}
	if got := summary(cs); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	if cs[1].Sep != "\t" || cs[0].Sep != "," {
		t.Errorf("separators %q %q", cs[0].Sep, cs[1].Sep)
	}
	if cs[0].Default || !cs[1].Default || cs[2].Default {
		t.Errorf("default flags: %v %v %v", cs[0].Default, cs[1].Default, cs[2].Default)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name  string
		files []File
		card  string
		code  string
	}{
		{"no data", files("README.md", "notes.md"), "", "DataFilesNotFoundError"},
		{"unsupported", files("img/a.png", "img/b.png"), "", "DatasetGenerationError"},
		{"pattern matches nothing", files("a.csv"), "configs:\n- config_name: c\n  data_files: nope/*.csv\n", "DataFilesNotFoundError"},
		{"two defaults", files("a.csv"), "configs:\n- config_name: a\n  default: true\n- config_name: b\n  default: true\n", "InvalidConfigsError"},
		{"bad split name", files("a.csv"), "configs:\n- config_name: a\n  data_files:\n  - split: bad-name\n    path: a.csv\n", "InvalidConfigsError"},
		{"no config name", files("a.csv"), "configs:\n- data_files: a.csv\n", "InvalidConfigsError"},
		{"duplicate config", files("a.csv"), "configs:\n- config_name: a\n- config_name: a\n", "InvalidConfigsError"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c map[string]any
			if tc.card != "" {
				c = card(t, tc.card)
			}
			_, err := Discover(tc.files, c)
			e, ok := err.(*Error)
			if !ok || e.Code != tc.code {
				t.Fatalf("error %v, want code %s", err, tc.code)
			}
		})
	}
}

func TestGlob(t *testing.T) {
	tests := []struct {
		glob, path string
		match      bool
	}{
		{"*.csv", "a.csv", true},
		{"*.csv", "d/a.csv", false},
		{"**/*.csv", "a.csv", true},
		{"**/*.csv", "d/e/a.csv", true},
		{"data/**", "data/x/y.csv", true},
		{"data/train-?.csv", "data/train-1.csv", true},
		{"data/[ab].csv", "data/b.csv", true},
		{"data/[!ab].csv", "data/b.csv", false},
		{"a.b", "axb", false},
	}
	for _, tc := range tests {
		re, err := globRegexp(tc.glob)
		if err != nil {
			t.Fatal(err)
		}
		if re.MatchString(tc.path) != tc.match {
			t.Errorf("%s ~ %s: %v, want %v", tc.glob, tc.path, !tc.match, tc.match)
		}
	}
}
