package evotorapi

import (
	"fmt"
	"log/slog"
	"strings"
)

// CloudToken is a user's Evotor cloud token, unsealed, held in memory for the calls made with
// it. It prints as "[cloud token]" whatever the verb (%v, %+v, %#v, %s, %q, %x), logs as that
// through slog and marshals to JSON as that, so a token put in a log line, an error or a
// struct dump by mistake does not leak. Only the Authorization header sees the value.
type CloudToken struct {
	secret string
}

const redactedToken = "[cloud token]"

// NewCloudToken holds a cloud token as Evotor sent it in user/token (surrounding blanks trimmed).
func NewCloudToken(s string) CloudToken { return CloudToken{secret: strings.TrimSpace(s)} }

// Empty reports whether no token is held.
func (t CloudToken) Empty() bool { return t.secret == "" }

// String hides the token.
func (t CloudToken) String() string { return redactedToken }

// GoString hides the token from %#v.
func (t CloudToken) GoString() string { return redactedToken }

// Format hides the token from every fmt verb.
func (t CloudToken) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redactedToken)) }

// LogValue hides the token from slog.
func (t CloudToken) LogValue() slog.Value { return slog.StringValue(redactedToken) }

// MarshalJSON hides the token from encoding/json.
func (t CloudToken) MarshalJSON() ([]byte, error) { return []byte(`"` + redactedToken + `"`), nil }

// MarshalText hides the token from text encoders (and map keys).
func (t CloudToken) MarshalText() ([]byte, error) { return []byte(redactedToken), nil }

// usable reports whether the token can go into a header: no control characters (net/http would
// refuse the request, and a header-injection attempt is no token).
func (t CloudToken) usable() bool {
	if t.secret == "" {
		return false
	}
	for i := 0; i < len(t.secret); i++ {
		if c := t.secret[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// scrub removes the token from s, in case Evotor (or anything on the way) echoed it in a
// message that ends up in an error.
func (t CloudToken) scrub(s string) string {
	if len(t.secret) < 4 { // too short to be a real token; replacing it would garble text
		return s
	}
	return strings.ReplaceAll(s, t.secret, redactedToken)
}
