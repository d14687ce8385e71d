// Package webhook signs and verifies messages as the Standard Webhooks specification writes
// them (https://www.standardwebhooks.com): headers webhook-id, webhook-timestamp (Unix seconds)
// and webhook-signature ("v1," + base64 HMAC-SHA256 of "id.timestamp.body", several separated by
// spaces), with a secret written "whsec_" + base64. The server signs what it forwards with it;
// `evotor-cloud receive` and the tests verify with it.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names of the specification.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

const secretPrefix = "whsec_"

// Tolerance is how far a message's timestamp may be from the receiver's clock (the
// specification's recommended 5 minutes), so a captured message cannot be replayed later.
const Tolerance = 5 * time.Minute

// Secret is a signing key.
type Secret []byte

// ParseSecret reads "whsec_" + base64 (standard alphabet, padded or not).
func ParseSecret(s string) (Secret, error) {
	b64, ok := strings.CutPrefix(strings.TrimSpace(s), secretPrefix)
	if !ok {
		return nil, errors.New(`want "whsec_" followed by base64`)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(b64)
	}
	if err != nil || len(key) < 16 {
		return nil, errors.New(`want "whsec_" followed by the base64 of at least 16 bytes`)
	}
	return key, nil
}

// String writes the secret back as "whsec_…".
func (s Secret) String() string { return secretPrefix + base64.StdEncoding.EncodeToString(s) }

// Sign is the webhook-signature value of one message: "v1," + base64(HMAC-SHA256(id.ts.body)).
func (s Secret) Sign(id string, ts time.Time, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(s.mac(id, strconv.FormatInt(ts.Unix(), 10), body))
}

func (s Secret) mac(id, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, s)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	return m.Sum(nil)
}

// SetHeaders puts the three signature headers on an outgoing request.
func (s Secret) SetHeaders(h http.Header, id string, ts time.Time, body []byte) {
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, s.Sign(id, ts, body))
}

// Verify checks a received message: its timestamp within Tolerance of now, and one of the
// signatures in webhook-signature made with this secret over this exact body. It returns the
// message's webhook-id.
func (s Secret) Verify(h http.Header, body []byte, now time.Time) (string, error) {
	id, ts, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || ts == "" || sigs == "" {
		return "", errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", fmt.Errorf("webhook-timestamp %q is not Unix seconds", ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > Tolerance || d < -Tolerance {
		return "", errors.New("webhook-timestamp too far from now")
	}
	want := s.mac(id, ts, body)
	for _, sig := range strings.Fields(sigs) {
		b64, ok := strings.CutPrefix(sig, "v1,")
		if !ok {
			continue // another scheme (v1a, …): not ours to check
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return id, nil
		}
	}
	return "", errors.New("no valid signature")
}
