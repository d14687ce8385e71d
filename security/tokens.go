package security

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// TokenHash is how a user token is stored and looked up: its SHA-256. The token itself is
// shown once, to Evotor, and never stored.
type TokenHash [sha256.Size]byte

// HashToken is the one place a user token is hashed.
func HashToken(token string) TokenHash {
	var buf [64]byte // user tokens are 43 characters: hashed without copying them to the heap
	if len(token) <= len(buf) {
		return sha256.Sum256(append(buf[:0], token...))
	}
	return sha256.Sum256([]byte(token))
}

// NewUserToken returns a fresh user token (256 bits from crypto/rand, URL-safe base64, 43
// characters: inside Evotor's 128) and its hash.
func NewUserToken() (string, TokenHash) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error()) // never happens on Linux; no safe fallback
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token)
}
