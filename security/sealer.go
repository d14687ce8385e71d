package security

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// Sealer encrypts secrets kept at rest (Evotor's cloud tokens) with AES-256-GCM. The nonce is
// stored in front of the ciphertext.
type Sealer struct{ aead cipher.AEAD }

// SecretKeySize is the length of the key EVOTOR_PARTNER_SECRET_KEY carries (hex-encoded).
const SecretKeySize = 32

// NewSealer builds a sealer from a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != SecretKeySize {
		return nil, fmt.Errorf("secret key must be %d bytes, got %d", SecretKeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext; label binds the ciphertext to its owner (e.g. the user id) so a row
// copied onto another user does not decrypt.
func (s *Sealer) Seal(plaintext []byte, label string) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return s.aead.Seal(nonce, nonce, plaintext, []byte(label))
}

// Open decrypts what Seal produced for the same label.
func (s *Sealer) Open(sealed []byte, label string) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("sealed value too short")
	}
	return s.aead.Open(nil, sealed[:n], sealed[n:], []byte(label))
}
