package evotorapi

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Evotor's documentation lists 429 ("too many requests in the current period") but not the
// headers that come with it, so the client reads every common form (openapi/evotor-rest.yaml,
// x-evotor-unconfirmed.rate-limit-headers):
//   - Retry-After: seconds, or an HTTP date (RFC 9110);
//   - X-RateLimit-Reset: seconds until the period ends, or its Unix time in seconds or in
//     milliseconds, told apart by size;
//   - RateLimit-Reset: seconds until the period ends (the IETF RateLimit fields draft).

// waitHint is how long an answer asks to wait before the next request, when it says.
func (c *Client) waitHint(h http.Header) (time.Duration, bool) {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 && !math.IsInf(secs, 0) {
			return seconds(secs), true
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(c.now()), 0), true
		}
	}
	return c.resetHint(h)
}

// resetHint is the wait until the rate-limit period ends, from X-RateLimit-Reset or RateLimit-Reset.
func (c *Client) resetHint(h http.Header) (time.Duration, bool) {
	for _, name := range []string{"X-RateLimit-Reset", "RateLimit-Reset"} {
		v := strings.TrimSpace(h.Get(name))
		if v == "" {
			continue
		}
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || n < 0 || math.IsInf(n, 0) || math.IsNaN(n) {
			continue
		}
		switch {
		case n >= 1e12: // Unix milliseconds
			return max(time.UnixMilli(int64(n)).Sub(c.now()), 0), true
		case n >= 1e9: // Unix seconds (a delta this long would be 31 years)
			return max(time.Unix(int64(n), 0).Sub(c.now()), 0), true
		default: // seconds from now
			return seconds(n), true
		}
	}
	return 0, false
}

// seconds converts without overflowing: anything past a day is a day (past MaxDelay anyway).
func seconds(s float64) time.Duration {
	if s > 86400 {
		s = 86400
	}
	return time.Duration(s * float64(time.Second))
}
