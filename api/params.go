package api

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"path"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/gitstore"
	"github.com/havenhub/haven/meta"
)

// maxSafetensorsHeader bounds the JSON header read from a safetensors
// file; the format allows 100 MB, real ones stay well under a few.
const maxSafetensorsHeader = 16 << 20

// maxSafetensorsFiles bounds the files whose headers a refresh reads.
const maxSafetensorsFiles = 256

// safetensorsParams counts the parameters of a safetensors file per data
// type from its header: an 8-byte little-endian length, then a JSON object
// of tensors with their dtype and shape.
func safetensorsParams(r io.Reader) (map[string]int64, error) {
	var n uint64
	if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
		return nil, err
	}
	if n < 2 || n > maxSafetensorsHeader {
		return nil, fmt.Errorf("safetensors header of %d bytes", n)
	}
	header := make([]byte, n)
	if _, err := io.ReadFull(r, header); err != nil {
		return nil, err
	}
	var tensors map[string]json.RawMessage
	if err := json.Unmarshal(header, &tensors); err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for name, raw := range tensors {
		if name == "__metadata__" {
			continue
		}
		var t struct {
			Dtype string  `json:"dtype"`
			Shape []int64 `json:"shape"`
		}
		if err := json.Unmarshal(raw, &t); err != nil || t.Dtype == "" {
			return nil, fmt.Errorf("safetensors tensor %q: not a dtype and shape", name)
		}
		count := int64(1)
		for _, d := range t.Shape {
			if d < 0 || (d > 0 && count > (1<<62)/d) {
				return nil, fmt.Errorf("safetensors tensor %q: shape %v", name, t.Shape)
			}
			count *= d
		}
		out[t.Dtype] += count
	}
	return out, nil
}

// modelParams adds up the parameters of a model's .safetensors files at
// sha, reading only their headers: from git, or for LFS files through
// open (nil: LFS files are skipped). A file that cannot be read is left
// out; nil when none could be read.
func modelParams(ctx context.Context, g *gitstore.Repo, entries []gitstore.Entry, open gitstore.LFSOpener) map[string]int64 {
	var (
		out   map[string]int64
		files int
	)
	for _, e := range entries {
		if e.Type != "file" || path.Ext(e.Path) != ".safetensors" || files >= maxSafetensorsFiles {
			continue
		}
		files++
		var rc io.ReadCloser
		if p, ok := g.Pointer(e); ok {
			if open == nil {
				continue
			}
			f, _, err := open(ctx, p.OID)
			if err != nil {
				continue
			}
			rc = f
		} else {
			b, _, err := g.Blob(e.OID)
			if err != nil {
				continue
			}
			rc = b
		}
		params, err := safetensorsParams(rc)
		rc.Close()
		if err != nil {
			continue
		}
		if out == nil {
			out = map[string]int64{}
		}
		for dtype, n := range params {
			out[dtype] += n
		}
	}
	return out
}

// sameWeights reports whether the .safetensors files at the new head are
// those of the previous one (repo.SHA), whose counts are stored: a card
// edit then reads no header again.
func sameWeights(ctx context.Context, m *meta.Store, repo *haven.Repo, g *gitstore.Repo, entries []gitstore.Entry) bool {
	if repo.SHA == "" {
		return false
	}
	if _, total, err := m.RepoParams(ctx, repo.ID); err != nil || total == 0 {
		return false
	}
	old, err := g.List(repo.SHA, "", true)
	if err != nil {
		return false
	}
	weights := func(es []gitstore.Entry) map[string]string {
		out := map[string]string{}
		for _, e := range es {
			if e.Type == "file" && path.Ext(e.Path) == ".safetensors" {
				out[e.Path] = e.OID
			}
		}
		return out
	}
	return maps.Equal(weights(old), weights(entries))
}

// safetensorsField is the Hub's "safetensors" of a model's info: its
// parameter counts per data type and their total; nil when unknown.
func (s *Server) safetensorsField(ctx context.Context, repo *haven.Repo) map[string]any {
	if repo.Type != haven.Model {
		return nil
	}
	params, total, err := s.meta.RepoParams(ctx, repo.ID)
	if err != nil || total == 0 {
		return nil
	}
	return map[string]any{"parameters": params, "total": total}
}
