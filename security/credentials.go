package security

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/evotor-partner/evotor-partner/impl/usertoken"
)

// AppCredentials are what the partner typed into Evotor's developer portal: one or more app
// tokens (several so a token can be rotated without downtime) and/or a Basic login+password.
type AppCredentials struct {
	Tokens        []string
	BasicUser     string
	BasicPassword string
}

// Check refuses configurations Evotor could never authenticate against: nothing configured, a
// token that is not a uuid4, half a Basic pair.
func (a AppCredentials) Check() error {
	if len(a.Tokens) == 0 && a.BasicUser == "" && a.BasicPassword == "" {
		return errors.New("no app credential configured")
	}
	for i, t := range a.Tokens {
		u, err := uuid.Parse(t)
		if err != nil || u.Version() != 4 || u.Variant() != uuid.RFC4122 || len(t) != 36 {
			return fmt.Errorf("app token #%d is not a uuid4", i+1)
		}
	}
	if (a.BasicUser == "") != (a.BasicPassword == "") {
		return errors.New("basic login and password must be set together")
	}
	if strings.Contains(a.BasicUser, ":") {
		return errors.New("basic login must not contain ':'")
	}
	return nil
}

// appMatcher compares presented app credentials with the configured ones in constant time: it
// compares SHA-256 digests (equal length whatever was presented) and always walks every token.
type appMatcher struct {
	tokens      [][sha256.Size]byte
	basicDigest *[sha256.Size]byte // digest of "user:password"
}

func newAppMatcher(a AppCredentials) appMatcher {
	m := appMatcher{}
	for _, t := range a.Tokens {
		m.tokens = append(m.tokens, sha256.Sum256([]byte(strings.ToLower(t))))
	}
	if a.BasicUser != "" {
		d := sha256.Sum256([]byte(a.BasicUser + ":" + a.BasicPassword))
		m.basicDigest = &d
	}
	return m
}

func (m appMatcher) bearer(token string) bool {
	got := sha256.Sum256([]byte(strings.ToLower(token)))
	ok := 0
	for _, want := range m.tokens {
		ok |= subtle.ConstantTimeCompare(got[:], want[:])
	}
	return ok == 1
}

func (m appMatcher) basic(userPass string) bool {
	if m.basicDigest == nil {
		return false
	}
	got := sha256.Sum256([]byte(userPass))
	return subtle.ConstantTimeCompare(got[:], m.basicDigest[:]) == 1
}

// UserTokens finds the record of a user token by its hash. found=false for an unknown token.
type UserTokens interface {
	LookupUserToken(ctx context.Context, hash usertoken.Hash) (rec usertoken.Record, found bool, err error)
}

// splitAuthorization splits "Scheme credentials"; a header without a space is a bare credential.
func splitAuthorization(h string) (scheme, credential string) {
	h = strings.TrimSpace(h)
	if i := strings.IndexByte(h, ' '); i > 0 {
		return h[:i], strings.TrimSpace(h[i+1:])
	}
	return "", h
}

// bearerToken accepts "Bearer x" with the scheme in any case; bare also accepts a token with no
// scheme at all (Evotor's own example sends the user token that way).
func bearerToken(header string, bare bool) (string, bool) {
	scheme, cred := splitAuthorization(header)
	if cred == "" {
		return "", false
	}
	if strings.EqualFold(scheme, "Bearer") || (bare && scheme == "") {
		return cred, true
	}
	return "", false
}

// basicCredentials decodes "Basic base64(user:password)" into "user:password".
func basicCredentials(header string) (string, bool) {
	scheme, cred := splitAuthorization(header)
	if !strings.EqualFold(scheme, "Basic") {
		return "", false
	}
	raw, err := base64.StdEncoding.DecodeString(cred)
	if err != nil || !strings.Contains(string(raw), ":") {
		return "", false
	}
	return string(raw), true
}
