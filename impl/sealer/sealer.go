// Package sealer encrypts the secrets the server keeps (Evotor's cloud tokens) with AES-256-GCM
// under a ring of keys: the first seals, every one opens.
package sealer

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// Sealer encrypts secrets kept at rest (Evotor's cloud tokens) with AES-256-GCM under a
// keyring: the first key seals, every key opens, so keys rotate without downtime. A sealed
// value is the nonce followed by the ciphertext; it does not name its key: Open tries each key
// in turn and GCM's tag tells the right one (values sealed before keyrings still open).
type Sealer struct{ aeads []cipher.AEAD }

// SecretKeySize is the length of each key EVOTOR_PARTNER_SECRET_KEY carries (hex-encoded).
const SecretKeySize = 32

// ErrNotSealedHere: no key of the ring opens the value (another key sealed it, or it was
// altered, or it belongs to another label).
var ErrNotSealedHere = errors.New("none of the secret keys opens the sealed value")

// New builds a sealer from 32-byte keys, the first of which seals.
func New(keys ...[]byte) (*Sealer, error) {
	if len(keys) == 0 {
		return nil, errors.New("no secret key")
	}
	s := &Sealer{}
	for i, key := range keys {
		if len(key) != SecretKeySize {
			return nil, fmt.Errorf("secret key %d must be %d bytes, got %d", i+1, SecretKeySize, len(key))
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		s.aeads = append(s.aeads, aead)
	}
	return s, nil
}

// Seal encrypts plaintext with the first key; label binds the ciphertext to its owner (e.g.
// the user id) so a row copied onto another user does not decrypt.
func (s *Sealer) Seal(plaintext []byte, label string) []byte {
	aead := s.aeads[0]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return aead.Seal(nonce, nonce, plaintext, []byte(label))
}

// SealedWithFirst reports whether the first key (the one that seals) opens sealed: a value a
// ring that seals with another key would not produce.
func (s *Sealer) SealedWithFirst(sealed []byte, label string) bool {
	aead := s.aeads[0]
	if len(sealed) < aead.NonceSize() {
		return false
	}
	_, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte(label))
	return err == nil
}

// Open decrypts what Seal produced for the same label, with whichever key sealed it.
func (s *Sealer) Open(sealed []byte, label string) ([]byte, error) {
	for _, aead := range s.aeads {
		n := aead.NonceSize()
		if len(sealed) < n {
			return nil, errors.New("sealed value too short")
		}
		if plain, err := aead.Open(nil, sealed[:n], sealed[n:], []byte(label)); err == nil {
			return plain, nil
		}
	}
	return nil, ErrNotSealedHere
}
