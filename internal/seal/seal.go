// Package seal encrypts small secrets at rest (Space secrets, job secrets)
// with AES-256-GCM under a key derived from the deployment secret.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
)

// Box seals and opens values for one purpose. Each value is bound to a
// scope (the row and key it belongs to) as additional data, so a sealed
// value copied elsewhere does not open.
type Box struct{ aead cipher.AEAD }

// New derives the key of purpose ("haven space secrets v1") from secret.
func New(secret []byte, purpose string) (*Box, error) {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(purpose))
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead}, nil
}

// Seal encrypts value for scope.
func (b *Box) Seal(scope, value string) string {
	nonce := make([]byte, b.aead.NonceSize())
	rand.Read(nonce)
	return base64.StdEncoding.EncodeToString(b.aead.Seal(nonce, nonce, []byte(value), []byte(scope)))
}

// Open decrypts a value sealed for scope.
func (b *Box) Open(scope, sealed string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(raw) < b.aead.NonceSize() {
		return "", errors.New("malformed sealed secret")
	}
	n := b.aead.NonceSize()
	plain, err := b.aead.Open(nil, raw[:n], raw[n:], []byte(scope))
	if err != nil {
		return "", errors.New("secret does not open with this deployment's key")
	}
	return string(plain), nil
}
