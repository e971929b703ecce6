package spaces

import (
	"strconv"

	"github.com/havenhub/haven/internal/seal"
)

// sealer encrypts Space secrets at rest, each bound to its Space and key.
type sealer struct{ box *seal.Box }

func newSealer(secret []byte) (*sealer, error) {
	b, err := seal.New(secret, "haven space secrets v1")
	if err != nil {
		return nil, err
	}
	return &sealer{b}, nil
}

func sealScope(repoID int64, key string) string { return strconv.FormatInt(repoID, 10) + "\x00" + key }

func (s *sealer) seal(repoID int64, key, value string) string {
	return s.box.Seal(sealScope(repoID, key), value)
}

func (s *sealer) open(repoID int64, key, sealed string) (string, error) {
	return s.box.Open(sealScope(repoID, key), sealed)
}
