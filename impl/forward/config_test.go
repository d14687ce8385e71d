package forward

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/evotor-partner/evotor-partner/impl/storage"
)

const secretA, secretB = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

func TestParseDestinations(t *testing.T) {
	d, err := ParseDestinations(" http://a.test/x , https://b.test/y", secretA, true)
	if err != nil || len(d) != 2 || d[1].URL != "https://b.test/y" || d[1].Secret.String() != secretA {
		t.Fatalf("one secret for all: %+v %v", d, err)
	}
	d, err = ParseDestinations("http://a.test/x,https://b.test/y", secretA+","+secretB, true)
	if err != nil || d[0].Secret.String() != secretA || d[1].Secret.String() != secretB {
		t.Fatalf("one secret each: %+v %v", d, err)
	}
	if d, err := ParseDestinations("", "", false); err != nil || d != nil {
		t.Fatalf("none: %v %v", d, err)
	}
	for name, c := range map[string][2]string{
		"no secret":        {"http://a.test/", ""},
		"secret, no URL":   {"", secretA},
		"counts differ":    {"http://a.test/,http://b.test/,http://c.test/", secretA + "," + secretB},
		"credentials":      {"https://user:pw@a.test/", secretA},
		"not http":         {"ftp://a.test/", secretA},
		"no host":          {"http:///x", secretA},
		"twice":            {"http://a.test/,http://a.test/", secretA},
		"secret not whsec": {"http://a.test/", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
	} {
		if _, err := ParseDestinations(c[0], c[1], true); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestDestinationsAreHTTPSWithoutSecretsInTheURL: http:// only to this machine or when allowed;
// no secret in a query parameter (the URL is logged and shown), whatever the scheme.
func TestDestinationsAreHTTPSWithoutSecretsInTheURL(t *testing.T) {
	for raw, allowed := range map[string]bool{
		"https://erp.example.ru/hook":             true,
		"https://erp.example.ru/hook?source=evo":  true,
		"http://127.0.0.1:8090/":                  true,
		"http://localhost:8090/":                  true,
		"http://[::1]:8090/":                      true,
		"http://erp.example.ru/hook":              false,
		"http://10.0.0.5/hook":                    false,
		"https://erp.example.ru/hook?token=abc":   false,
		"https://erp.example.ru/hook?api_key=abc": false,
		"https://erp.example.ru/hook?Signature=x": false,
		"http://127.0.0.1/hook?secret=x":          false,
	} {
		_, err := ParseDestinations(raw, secretA, false)
		if (err == nil) != allowed {
			t.Errorf("%s: accepted %v, want %v (%v)", raw, err == nil, allowed, err)
		}
	}
	if _, err := ParseDestinations("http://erp.example.ru/hook", secretA, true); err != nil {
		t.Errorf("http:// with the opt-in: %v", err)
	}
}

// The schedule: about a second, doubling, capped, and retried for at least RetryFor.
func TestBackoffLastsAtLeastThreeDays(t *testing.T) {
	b := backoff{base: time.Second, cap: time.Hour}
	if b.delay(1) != time.Second || b.delay(2) != 2*time.Second || b.delay(5) != 16*time.Second || b.delay(40) != time.Hour {
		t.Fatalf("delays %v %v %v %v", b.delay(1), b.delay(2), b.delay(5), b.delay(40))
	}
	n := b.maxAttempts(72 * time.Hour)
	var total time.Duration
	for i := 1; i < n; i++ {
		total += b.delay(i)
	}
	if total < 72*time.Hour || total-b.delay(n-1) >= 72*time.Hour {
		t.Fatalf("%d attempts span %s: not the fewest that last 72h", n, total)
	}
}

// TestMessageCarriesTheBodyByteForByte: the body goes out exactly as Evotor sent it —
// whitespace, <, > and &, escapes and all — inside a valid JSON message.
func TestMessageCarriesTheBodyByteForByte(t *testing.T) {
	body := []byte("{ \"name\" : \"A & B <x>\",\n\t\"esc\": \"\\u0041\\n\", \"n\": 1.50 }")
	out, err := encode(storage.Outgoing{ForwardMessage: storage.ForwardMessage{InboxID: 7, Seq: 3}, Operation: "putStores", PathParams: `{"storeUuid":"s"}`, Body: body})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(out, append(append([]byte(`"body":`), body...), '}')) || !json.Valid(out) {
		t.Fatalf("message %s", out)
	}
	var m Message
	if err := json.Unmarshal(out, &m); err != nil || m.ID != "msg_7" || m.Seq != 3 || m.PathParams["storeUuid"] != "s" || !bytes.Equal(m.Body, body) {
		t.Fatalf("decoded %+v %v", m, err)
	}
}
