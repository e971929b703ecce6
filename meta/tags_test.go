package meta

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestDecodeTags checks the direct split of the tags column against
// encoding/json, on what encodeTags writes and on other JSON.
func TestDecodeTags(t *testing.T) {
	lists := [][]string{
		{}, {""}, {"mit"}, {"transformers", "text-generation", "license:mit", "language:en", "series:7"},
		{"a,b", "c"}, {`quote"d`}, {`back\slash`}, {"<html>&"}, {"modèle", "模型"}, {"sp ace"}, {"x\",\"y"},
	}
	var cols []string
	for _, l := range lists {
		cols = append(cols, encodeTags(l))
	}
	cols = append(cols, `[ "a" , "b" ]`, "[\n\"a\"\n]", `["a","\u0062"]`, `["a",]`, `[1]`, `["a"`, `[]`)
	for _, col := range cols {
		if col == "" {
			continue
		}
		var want []string
		wantErr := json.Unmarshal([]byte(col), &want)
		got, err := decodeTags(col)
		if (err != nil) != (wantErr != nil) {
			t.Errorf("decodeTags(%s): error %v, encoding/json says %v", col, err, wantErr)
			continue
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("decodeTags(%s) = %#v, want %#v", col, got, want)
		}
	}
}
