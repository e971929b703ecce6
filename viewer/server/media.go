package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/color"
	_ "image/gif" // GIF cells are decoded and re-encoded as upstream does
	"image/jpeg"
	"image/png"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/viewer"
	"github.com/havenhub/haven/viewer/duck"
)

// Media cells (Image and Audio columns, stored as {bytes, path} structs) are
// answered as upstream does, with URLs instead of bytes. The files are not
// written anywhere: the asset URL names the revision, split, row and column,
// and the asset handler reads that cell from the parquet export again, so
// there is nothing to purge and an asset lives as long as its revision's
// export.

// assetLifetime is how long a signed asset URL of a private dataset stays
// valid (the Hub's chart uses one hour).
const assetLifetime = time.Hour

// mediaKind is "Image" or "Audio" for a top-level media column, else "".
func mediaKind(t json.RawMessage) string {
	var ft struct {
		Type string `json:"_type"`
	}
	if json.Unmarshal(t, &ft) != nil {
		return ""
	}
	if ft.Type == "Image" || ft.Type == "Audio" {
		return ft.Type
	}
	return ""
}

// mediaBytes extracts the bytes of a {bytes, path} cell.
func mediaBytes(cell any) []byte {
	m, ok := cell.(map[string]any)
	if !ok {
		return nil
	}
	s, ok := m["bytes"].(string) // duck.Cell renders BLOBs as base64
	if !ok {
		return nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil
	}
	return b
}

// imageFile is the file name an image is served under: JPEG as upstream,
// PNG for what JPEG cannot hold (transparency, palettes, 16-bit grey).
func imageFile(model color.Model) string {
	switch model {
	case color.RGBAModel, color.RGBA64Model, color.GrayModel, color.YCbCrModel, color.CMYKModel:
		return "image.jpg"
	}
	return "image.png"
}

// audioFile names an audio file by its header, with its media type; upstream
// serves these four formats as they are.
func audioFile(b []byte) (string, string) {
	switch {
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WAVE":
		return "audio.wav", "audio/wav"
	case bytes.HasPrefix(b, []byte("fLaC")):
		return "audio.flac", "audio/flac"
	case bytes.HasPrefix(b, []byte("OggS")):
		return "audio.opus", "audio/ogg"
	case bytes.HasPrefix(b, []byte("ID3")) || len(b) >= 2 && b[0] == 0xFF && b[1]&0xE0 == 0xE0:
		return "audio.mp3", "audio/mpeg"
	}
	return "", ""
}

// assetRef names one media cell of a revision.
type assetRef struct {
	base, dataset, sha, config, split string
	row                               int64
	column, file                      string
}

func (a assetRef) path() string {
	segs := []string{a.base}
	segs = append(segs, strings.Split(a.dataset, "/")...)
	segs = append(segs, "--", a.sha, "--", a.config, a.split, strconv.FormatInt(a.row, 10), a.column, a.file)
	for i := range segs {
		segs[i] = url.PathEscape(segs[i])
	}
	return "/" + strings.Join(segs, "/")
}

// parseAsset reads an escaped asset path: /{base}/{ns}/{name}/--/{sha}/--/{config}/{split}/{row}/{column}/{file}.
func parseAsset(escaped string) (assetRef, bool) {
	raw := strings.Split(strings.TrimPrefix(escaped, "/"), "/")
	if len(raw) != 11 || raw[3] != "--" || raw[5] != "--" {
		return assetRef{}, false
	}
	segs := make([]string, len(raw))
	for i, r := range raw {
		s, err := url.PathUnescape(r)
		if err != nil || s == "" {
			return assetRef{}, false
		}
		segs[i] = s
	}
	row, err := strconv.ParseInt(segs[8], 10, 64)
	if err != nil || row < 0 {
		return assetRef{}, false
	}
	return assetRef{segs[0], segs[1] + "/" + segs[2], segs[4], segs[6], segs[7], row, segs[9], segs[10]}, true
}

// sign returns the signature of an asset path valid until exp.
func (s *Server) sign(path string, exp int64) string {
	m := hmac.New(sha256.New, s.assetKey)
	m.Write([]byte(path + "\n" + strconv.FormatInt(exp, 10)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// signedURL is the absolute URL of an asset; for a private dataset it is
// signed, so that a browser can fetch it without credentials for an hour.
func (s *Server) signedURL(a assetRef, private bool) string {
	p := a.path()
	u := strings.TrimRight(s.cfg.PublicURL, "/") + "/datasets-server" + p
	if !private {
		return u
	}
	exp := time.Now().Add(assetLifetime).Unix()
	return u + "?expires=" + strconv.FormatInt(exp, 10) + "&signature=" + s.sign(p, exp)
}

// validSignature checks the expires and signature parameters of a request.
func (s *Server) validSignature(r *http.Request, escaped string) bool {
	q := r.URL.Query()
	exp, err := strconv.ParseInt(q.Get("expires"), 10, 64)
	if err != nil || time.Now().Unix() > exp {
		return false
	}
	return hmac.Equal([]byte(q.Get("signature")), []byte(s.sign(escaped, exp)))
}

// mediaCells replaces the media cells of items by their URLs; base is
// "assets" for /first-rows and "cached-assets" elsewhere, as upstream.
func (s *Server) mediaCells(req *request, c *viewer.Config, sp *viewer.Split, items []rowItem, base string) {
	kinds := map[string]string{}
	for _, f := range c.Features {
		if k := mediaKind(f.Type); k != "" {
			kinds[f.Name] = k
		}
	}
	if len(kinds) == 0 {
		return
	}
	for i := range items {
		for j := range items[i].Row {
			cell := &items[i].Row[j]
			kind := kinds[cell.Key]
			if kind == "" {
				continue
			}
			b := mediaBytes(cell.Value)
			ref := assetRef{base: base, dataset: req.dataset, sha: req.st.SHA, config: c.Name, split: sp.Name,
				row: items[i].RowIdx, column: cell.Key}
			cell.Value = nil
			if b == nil {
				continue
			}
			switch kind {
			case "Image":
				cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
				if err != nil {
					continue
				}
				ref.file = imageFile(cfg.ColorModel)
				cell.Value = viewer.Obj("src", s.signedURL(ref, req.repo.Private), "height", cfg.Height, "width", cfg.Width)
			case "Audio":
				file, typ := audioFile(b)
				if file == "" {
					continue
				}
				ref.file = file
				cell.Value = []any{viewer.Obj("src", s.signedURL(ref, req.repo.Private), "type", typ)}
			}
		}
	}
}

// serveAsset answers /assets/... and /cached-assets/...: the bytes of one
// media cell, to a caller who may read the dataset or who holds a valid
// signature for the path.
func (s *Server) serveAsset(w http.ResponseWriter, r *http.Request) {
	escaped := r.URL.EscapedPath()
	a, ok := parseAsset(escaped)
	if !ok {
		s.writeError(w, errNotFound(), false)
		return
	}
	ctx := r.Context()
	var repo *haven.Repo
	var err error
	if s.validSignature(r, escaped) {
		repo, err = s.repoByName(ctx, a.dataset)
		if err != nil {
			s.writeError(w, errNotFound(), true)
			return
		}
	} else if repo, err = s.authorize(ctx, r, a.dataset); err != nil {
		s.writeError(w, err, true)
		return
	}
	st, err := viewer.LoadState(ctx, s.cfg.Blobs, repo.ID, a.sha)
	if err != nil {
		s.writeError(w, errNotFound(), repo.Private)
		return
	}
	data, typ, err := s.assetBytes(ctx, st, a)
	if err != nil {
		s.writeError(w, err, repo.Private)
		return
	}
	cc := "max-age=3600"
	if repo.Private {
		cc = "private, " + cc
	}
	w.Header().Set("Content-Type", typ)
	w.Header().Set("Cache-Control", cc)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Write(data)
}

// assetBytes reads the cell an asset names and renders it in the named
// file's format.
func (s *Server) assetBytes(ctx context.Context, st *viewer.State, a assetRef) ([]byte, string, error) {
	c := st.ConfigByName(a.config)
	if c == nil || c.Error != nil {
		return nil, "", errNotFound()
	}
	sp := c.SplitByName(a.split)
	if sp == nil || a.row >= sp.NumRows {
		return nil, "", errNotFound()
	}
	kind := ""
	for _, f := range c.Features {
		if f.Name == a.column {
			kind = mediaKind(f.Type)
		}
	}
	if kind == "" {
		return nil, "", errNotFound()
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	shards, err := s.shards(ctx, sp)
	if err != nil {
		return nil, "", err
	}
	var cell any
	for _, sh := range shards {
		if a.row < sh.start || a.row >= sh.start+sh.rows {
			continue
		}
		res, err := s.db.Query(ctx, "SELECT "+duck.Ident(a.column)+" FROM read_parquet("+duck.Quote(sh.path)+
			", file_row_number=true) WHERE file_row_number = ?", a.row-sh.start)
		if err != nil {
			return nil, "", err
		}
		if len(res.Rows) == 1 {
			cell = res.Rows[0][0]
		}
	}
	b := mediaBytes(cell)
	if b == nil {
		return nil, "", errNotFound()
	}
	if kind == "Audio" {
		file, typ := audioFile(b)
		if file != a.file {
			return nil, "", errNotFound()
		}
		return b, typ, nil
	}
	return encodeImage(b, a.file)
}

// encodeImage renders an image as the named file: as stored when it is
// already in that format, else decoded and re-encoded.
func encodeImage(b []byte, file string) ([]byte, string, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil || imageFile(cfg.ColorModel) != file {
		return nil, "", errNotFound()
	}
	if file == "image.jpg" && format == "jpeg" {
		return b, "image/jpeg", nil
	}
	if file == "image.png" && format == "png" {
		return b, "image/png", nil
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, "", errNotFound()
	}
	var out bytes.Buffer
	if file == "image.jpg" {
		err = jpeg.Encode(&out, img, &jpeg.Options{Quality: 90})
		return out.Bytes(), "image/jpeg", err
	}
	err = png.Encode(&out, img)
	return out.Bytes(), "image/png", err
}

// repoByName finds a dataset without checking who asks (for signed URLs).
func (s *Server) repoByName(ctx context.Context, dataset string) (*haven.Repo, error) {
	id, err := haven.ParseRepoID(dataset)
	if err != nil {
		return nil, err
	}
	return s.cfg.Meta.RepoByName(ctx, haven.Dataset, id.Namespace, id.Name)
}
