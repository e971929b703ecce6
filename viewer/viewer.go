// Package viewer holds what the dataset viewer's worker and HTTP handler
// share: the recorded result of converting one revision of a dataset (State),
// where that record lives, and the column types in the JSON form of the
// `datasets` library (Features).
//
// The conversion of a revision is recorded once, as JSON in the blob store
// (so that every server of a deployment sharing S3 sees the same answer),
// keyed by the repository's id and the commit it was computed on. The parquet
// files themselves are LFS objects referenced from the repository's
// refs/convert/parquet branch, as on the Hub.
package viewer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/havenhub/haven/blob"
)

// ParquetRef is the branch that holds the parquet export of a dataset.
const ParquetRef = "refs/convert/parquet"

// Error is a failure recorded for a dataset, config or split, replayed by
// every endpoint that depends on it with its HTTP status and X-Error-Code.
type Error struct {
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// Errorf builds an *Error.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Column is one top-level column and its type as `datasets` serialises it.
type Column struct {
	Name string          `json:"name"`
	Type json.RawMessage `json:"type"`
}

// Features is the ordered list of a config's columns.
type Features []Column

// MarshalObject renders the features as the JSON object `datasets` uses in
// dataset_info, keeping the column order.
func (f Features) MarshalObject() json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, c := range f {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(c.Name)
		b.Write(k)
		b.WriteByte(':')
		b.Write(c.Type)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// ParquetFile is one shard of a split in the export.
type ParquetFile struct {
	Path    string `json:"path"` // in refs/convert/parquet: "<config>/<split>/0000.parquet"
	OID     string `json:"oid"`  // SHA-256 of the LFS object
	Size    int64  `json:"size"`
	NumRows int64  `json:"num_rows"`
}

// Split is the recorded result for one split.
type Split struct {
	Name           string        `json:"name"`
	Files          []ParquetFile `json:"files,omitempty"`
	NumRows        int64         `json:"num_rows"`
	NumBytesMemory int64         `json:"num_bytes_memory"`
	NumBytesOrig   int64         `json:"num_bytes_original_files"`
	// Partial: the export holds only the first rows of the split, those
	// that fit the conversion cap; the files are then under
	// "<config>/partial-<split>/" as on the Hub.
	Partial bool `json:"partial,omitempty"`
	// EstimatedNumRows is the number of rows of the whole split when the
	// export is partial.
	EstimatedNumRows int64           `json:"estimated_num_rows,omitempty"`
	Statistics       json.RawMessage `json:"statistics,omitempty"`
	StatsError       *Error          `json:"statistics_error,omitempty"`
}

// ParquetBytes is the size of the split's parquet files.
func (s *Split) ParquetBytes() int64 {
	var n int64
	for _, f := range s.Files {
		n += f.Size
	}
	return n
}

// Config is the recorded result for one config.
type Config struct {
	Name     string   `json:"name"`
	Default  bool     `json:"default,omitempty"`
	Format   string   `json:"format,omitempty"`
	Error    *Error   `json:"error,omitempty"`
	Features Features `json:"features,omitempty"`
	Splits   []Split  `json:"splits,omitempty"`
}

// SplitByName finds a split of the config.
func (c *Config) SplitByName(name string) *Split {
	for i := range c.Splits {
		if c.Splits[i].Name == name {
			return &c.Splits[i]
		}
	}
	return nil
}

// Partial reports whether the export of any split of the config is partial.
func (c *Config) Partial() bool {
	for i := range c.Splits {
		if c.Splits[i].Partial {
			return true
		}
	}
	return false
}

// State is everything the viewer knows about one revision of a dataset.
type State struct {
	RepoID     int64     `json:"repo_id"`
	Dataset    string    `json:"dataset"`
	SHA        string    `json:"sha"`         // the dataset's commit
	ParquetSHA string    `json:"parquet_sha"` // the refs/convert/parquet commit
	Error      *Error    `json:"error,omitempty"`
	Configs    []Config  `json:"configs,omitempty"`
	Language   string    `json:"language,omitempty"` // the card's single language, if any
	CreatedAt  time.Time `json:"created_at"`
}

// ConfigByName finds a config of the state.
func (s *State) ConfigByName(name string) *Config {
	for i := range s.Configs {
		if s.Configs[i].Name == name {
			return &s.Configs[i]
		}
	}
	return nil
}

// stateKey is where the state of a revision lives in the blob store.
func stateKey(repoID int64, sha string) string {
	return fmt.Sprintf("viewer/state/%d/%s.json", repoID, strings.ToLower(sha))
}

// ErrNoState means the revision has not been processed (yet).
var ErrNoState = errors.New("viewer: no state for this revision")

// SaveState records st in the blob store.
func SaveState(ctx context.Context, d blob.Driver, st *State) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return d.Put(ctx, stateKey(st.RepoID, st.SHA), bytes.NewReader(b), int64(len(b)))
}

// LoadState reads the state of a revision; ErrNoState if there is none.
func LoadState(ctx context.Context, d blob.Driver, repoID int64, sha string) (*State, error) {
	rc, _, err := d.Open(ctx, stateKey(repoID, sha))
	if errors.Is(err, blob.ErrNotFound) {
		return nil, ErrNoState
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 64<<20))
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// JobKind is the queue job kind that converts a dataset revision; it is the
// one the API enqueues after each move of a dataset's default branch.
const JobKind = "dataset.updated"

// JobPayload names the revision to convert.
type JobPayload struct {
	RepoID int64  `json:"repo_id"`
	SHA    string `json:"sha"`
}
