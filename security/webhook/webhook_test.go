package webhook

import (
	"net/http"
	"testing"
	"time"
)

// The specification's published test vector: a receiver library anywhere must accept ours.
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorBody      = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignReproducesTheSpecificationVector(t *testing.T) {
	s, err := ParseSecret(vectorSecret)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Sign(vectorID, time.Unix(vectorTimestamp, 0), []byte(vectorBody)); got != vectorSignature {
		t.Fatalf("Sign = %s, want %s", got, vectorSignature)
	}
	if s.String() != vectorSecret {
		t.Fatalf("String = %s", s)
	}
}

func TestVerify(t *testing.T) {
	s, _ := ParseSecret(vectorSecret)
	at := time.Unix(vectorTimestamp, 0)
	h := http.Header{}
	s.SetHeaders(h, vectorID, at, []byte(vectorBody))
	if id, err := s.Verify(h, []byte(vectorBody), at.Add(time.Minute)); err != nil || id != vectorID {
		t.Fatalf("Verify = %q, %v", id, err)
	}
	// Several signatures (a rotation): any one valid is enough.
	h.Set(HeaderSignature, "v1,bm9wZQ== v1a,xyz "+vectorSignature)
	if _, err := s.Verify(h, []byte(vectorBody), at); err != nil {
		t.Fatalf("rotation: %v", err)
	}
	h.Set(HeaderSignature, vectorSignature)

	other, _ := ParseSecret("whsec_" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	tampered := []byte(`{"test": 2432232315}`)
	for name, check := range map[string]func() error{
		"tampered body": func() error { _, err := s.Verify(h, tampered, at); return err },
		"other secret":  func() error { _, err := other.Verify(h, []byte(vectorBody), at); return err },
		"too old":       func() error { _, err := s.Verify(h, []byte(vectorBody), at.Add(Tolerance+time.Second)); return err },
		"from the future": func() error {
			_, err := s.Verify(h, []byte(vectorBody), at.Add(-Tolerance-time.Second))
			return err
		},
		"no headers": func() error { _, err := s.Verify(http.Header{}, []byte(vectorBody), at); return err },
	} {
		if check() == nil {
			t.Errorf("%s: verified", name)
		}
	}
}

func TestParseSecretRefusesWhatIsNotAKey(t *testing.T) {
	for _, s := range []string{"", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_", "whsec_!!!", "whsec_c2hvcnQ="} {
		if _, err := ParseSecret(s); err == nil {
			t.Errorf("ParseSecret(%q) accepted", s)
		}
	}
}
