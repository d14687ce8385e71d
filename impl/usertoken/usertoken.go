// Package usertoken is the user token this server issues to Evotor (user/create, user/verify):
// how it is made and hashed, what is stored of it, and the one rule of when it authenticates.
package usertoken

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/evotor-partner/evotor-partner/impl/apperr"
)

// Hash is how a user token is stored and looked up: its SHA-256. The token itself is
// shown once, to Evotor, and never stored.
type Hash [sha256.Size]byte

// HashOf is the one place a user token is hashed.
func HashOf(token string) Hash {
	var buf [64]byte // user tokens are 43 characters: hashed without copying them to the heap
	if len(token) <= len(buf) {
		return sha256.Sum256(append(buf[:0], token...))
	}
	return sha256.Sum256([]byte(token))
}

// New returns a fresh user token (256 bits from crypto/rand, URL-safe base64, 43
// characters: inside Evotor's 128) and its hash.
func New() (string, Hash) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error()) // never happens on Linux; no safe fallback
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	return token, HashOf(token)
}

// Record is what the store knows of an issued user token.
type Record struct {
	ID           int64
	UserID       string
	Revoked      bool
	SupersededAt *time.Time // when a newer token was issued for the user; nil while it is the newest
}

// Refusal is why the token does not authenticate (0 when it does): revoked, 1002; superseded by
// a newer token at or before cutoff (see Check), 1003. The rule is stated here, in Go and, for
// the database's side, in SQL (RefusalSQL); the contract suite (tests/contract_suite_test.go)
// holds both to the same answers.
func (r Record) Refusal(cutoff time.Time) apperr.Kind {
	switch {
	case r.Revoked:
		return apperr.BadUserToken
	case r.SupersededAt != nil && !r.SupersededAt.After(cutoff):
		return apperr.ExpiredUserToken
	}
	return 0
}

// Cutoff is the Check.Cutoff at now for a grace period (0: never expire).
func Cutoff(now time.Time, grace time.Duration) time.Time {
	if grace <= 0 {
		return time.Time{}
	}
	return now.Add(-grace)
}

// Check is what a delivery confirms about its user token inside its own transaction.
// The authenticator may have answered from a cache (security.CachedUserTokens), and an uninstall or a
// newer token, on any replica, must still refuse the delivery at once.
type Check struct {
	ID int64 // the token's row
	// Cutoff: a token superseded at or before this instant has expired (1003); the zero time
	// when superseded tokens never expire.
	Cutoff time.Time
}

// RefusalSQL is Refusal as a SQL expression over a user_tokens row (alias row: its revoked_at
// and superseded_at) and a cutoff expression: 'bad' (1002), 'expired' (1003) or 'ok'. The
// PostgreSQL receipts statement judges tokens in the database, inside its one round trip.
func RefusalSQL(row, cutoff string) string {
	return fmt.Sprintf("CASE WHEN %[1]s.revoked_at IS NOT NULL THEN 'bad' WHEN %[1]s.superseded_at <= %[2]s THEN 'expired' ELSE 'ok' END", row, cutoff)
}
