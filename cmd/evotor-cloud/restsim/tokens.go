package restsim

import (
	"sync"

	"github.com/evotor-partner/evotor-partner/impl/evotor"
)

// Tokens are the cloud tokens the simulated Cloud issued, one per user: the token it sent the
// partner in user/token. A newer token replaces the user's previous one (which then answers
// 401, as Evotor's does once it issued another), and a revoked user has none. Safe for
// concurrent use.
type Tokens struct {
	mu      sync.RWMutex
	byUser  map[string]string // user key → token
	byToken map[string]string // token → user id as given
}

// NewTokens is an empty registry.
func NewTokens() *Tokens { return &Tokens{byUser: map[string]string{}, byToken: map[string]string{}} }

// Set makes token the user's cloud token, replacing any earlier one ("" revokes).
func (t *Tokens) Set(user, token string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	key := evotor.CanonicalID(user)
	if old, ok := t.byUser[key]; ok {
		delete(t.byToken, old)
		delete(t.byUser, key)
	}
	if token == "" {
		return
	}
	if other, ok := t.byToken[token]; ok { // the same token given to another user: it is theirs now
		delete(t.byUser, evotor.CanonicalID(other))
	}
	t.byUser[key], t.byToken[token] = token, user
}

// Revoke takes the user's token away (the app uninstalled); later calls with it answer 401.
// It reports whether the user had one.
func (t *Tokens) Revoke(user string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	key := evotor.CanonicalID(user)
	token, ok := t.byUser[key]
	if ok {
		delete(t.byUser, key)
		delete(t.byToken, token)
	}
	return ok
}

// User is the user whose current token this is.
func (t *Tokens) User(token string) (string, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	user, ok := t.byToken[token]
	return user, ok
}

// Token is the user's current token.
func (t *Tokens) Token(user string) (string, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	token, ok := t.byUser[evotor.CanonicalID(user)]
	return token, ok
}
