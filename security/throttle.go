package security

import (
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/time/rate"
)

// LoginThrottle slows guessing at user/verify: each login and each Evotor user has a budget of
// failed logins (loginBurst), refilled one a minute. A key whose budget is spent is refused
// (429) without its password being checked, until the budget refills: a guesser gets a
// password a minute per login, and the real merchant is never locked out for longer than that.
// A success clears the budget's record. Per process (each replica keeps its own).
type LoginThrottle struct {
	now     func() time.Time
	mu      sync.Mutex
	budgets *expirable.LRU[string, *rate.Limiter]
}

const (
	loginBurst  = 5           // failures in a row before the throttle applies
	loginRefill = time.Minute // one more failure allowed per interval after that
	// a budget untouched this long is full again anyway: forget it
	loginForget   = loginBurst * loginRefill
	loginMaxTrack = 100_000 // logins and users tracked at most (oldest forgotten first)
)

// NewLoginThrottle makes a throttle reading the time from now (nil: time.Now).
func NewLoginThrottle(now func() time.Time) *LoginThrottle {
	if now == nil {
		now = time.Now
	}
	return &LoginThrottle{now: now, budgets: expirable.NewLRU[string, *rate.Limiter](loginMaxTrack, nil, loginForget)}
}

// LoginKeys are the keys a login attempt is counted under: the login (case-insensitive, as
// accounts are found) and the Evotor user.
func LoginKeys(login, userID string) []string {
	return []string{"login:" + strings.ToLower(login), "user:" + userID}
}

// Allowed reports whether every key still has a failure to spend.
func (t *LoginThrottle) Allowed(keys []string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for _, k := range keys {
		if b, ok := t.budgets.Get(k); ok && b.TokensAt(now) < 1 {
			return false
		}
	}
	return true
}

// Failed spends a failure of each key.
func (t *LoginThrottle) Failed(keys []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for _, k := range keys {
		b, ok := t.budgets.Get(k)
		if !ok {
			b = rate.NewLimiter(rate.Every(loginRefill), loginBurst) // starts full
		}
		b.AllowN(now, 1)
		t.budgets.Add(k, b)
	}
}

// Succeeded forgets the keys' failures.
func (t *LoginThrottle) Succeeded(keys []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range keys {
		t.budgets.Remove(k)
	}
}
