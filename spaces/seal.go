package spaces

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
)

// sealer encrypts Space secrets at rest with AES-256-GCM under a key derived
// from the deployment secret. The repository id and key name are bound in
// as additional data, so a sealed value copied to another row does not open.
type sealer struct{ aead cipher.AEAD }

func newSealer(secret []byte) (*sealer, error) {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("haven space secrets v1"))
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead}, nil
}

func sealAD(repoID int64, key string) []byte {
	return []byte(strconv.FormatInt(repoID, 10) + "\x00" + key)
}

func (s *sealer) seal(repoID int64, key, value string) string {
	nonce := make([]byte, s.aead.NonceSize())
	rand.Read(nonce)
	out := s.aead.Seal(nonce, nonce, []byte(value), sealAD(repoID, key))
	return base64.StdEncoding.EncodeToString(out)
}

func (s *sealer) open(repoID int64, key, sealed string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(b) < s.aead.NonceSize() {
		return "", errors.New("spaces: malformed sealed secret")
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, b[:n], b[n:], sealAD(repoID, key))
	if err != nil {
		return "", errors.New("spaces: secret does not open with this deployment's key")
	}
	return string(plain), nil
}
