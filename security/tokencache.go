package security

import (
	"context"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/evotor-partner/evotor-partner/impl/usertoken"
)

// CachedUserTokens remembers the user tokens it found, so that authenticating a delivery
// costs no database round trip. What it remembers may be stale: an uninstall revokes a token,
// a newer token supersedes it, on this replica or another. That is safe because every
// delivery confirms its token (Principal.Token) inside its own transaction, which a
// revocation committed anywhere refuses at once; the cache only spares the lookup. Unknown
// tokens are not remembered: a flood of made-up tokens cannot fill it.
type CachedUserTokens struct {
	inner UserTokens
	found *expirable.LRU[usertoken.Hash, usertoken.Record]
}

// Token cache bounds: a replica serves a few thousand users' tokens; an hour keeps the ones
// in use without keeping a forgotten one for long.
const (
	tokenCacheSize = 50_000
	tokenCacheTTL  = time.Hour
)

// NewCachedUserTokens wraps the store's lookup.
func NewCachedUserTokens(inner UserTokens) *CachedUserTokens {
	return &CachedUserTokens{inner: inner, found: expirable.NewLRU[usertoken.Hash, usertoken.Record](tokenCacheSize, nil, tokenCacheTTL)}
}

// LookupUserToken implements UserTokens.
func (c *CachedUserTokens) LookupUserToken(ctx context.Context, hash usertoken.Hash) (usertoken.Record, bool, error) {
	if rec, ok := c.found.Get(hash); ok {
		return rec, true, nil
	}
	rec, found, err := c.inner.LookupUserToken(ctx, hash)
	if err == nil && found && !rec.Revoked {
		c.found.Add(hash, rec)
	}
	return rec, found, err
}
