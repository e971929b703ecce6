package duck

import (
	"context"
	"path/filepath"
	"testing"
)

// The features `datasets` writes into parquet metadata are JSON with quotes
// and non-ASCII names; they must come back byte for byte.
func TestParquetInfoKeepsMetadataText(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(Options{AllowedDirs: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	out := filepath.Join(dir, "x.parquet")
	kv := map[string]string{"huggingface": `{"info": {"features": {"été": {"_type": "Image"}}}}`}
	if _, err := db.CopyToParquet(ctx, "(SELECT 1 AS a)", out, 10, kv); err != nil {
		t.Fatal(err)
	}
	info, err := db.ReadParquetInfo(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.KV["huggingface"]; got != kv["huggingface"] {
		t.Errorf("metadata read back as %q, want %q", got, kv["huggingface"])
	}
}
