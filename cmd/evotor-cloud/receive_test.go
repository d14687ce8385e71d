package main

import (
	"bytes"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/evotor-partner/evotor-partner/security/webhook"
)

// TestReceiveVerifiesAndPrintsOnce runs `evotor-cloud receive` and sends it what the server's
// forwarding sends: a signed message is printed once (a re-send is answered 200, not printed
// again), a tampered one or one signed with another secret is refused with 401.
func TestReceiveVerifiesAndPrintsOnce(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	cmd, stdout, lines := startReadingStderr(t, "receive", "--listen", "127.0.0.1:0", "--secret", secret)
	if !lines.Scan() {
		t.Fatal("no first line on stderr")
	}
	_, url, ok := strings.Cut(lines.Text(), "receiving on ")
	url, _, _ = strings.Cut(url, " ")
	if !ok {
		t.Fatalf("first line %q", lines.Text())
	}
	var rest strings.Builder
	done := make(chan struct{})
	go func() {
		for lines.Scan() {
			rest.WriteString(lines.Text() + "\n")
		}
		close(done)
	}()

	key, _ := webhook.ParseSecret(secret)
	other, _ := webhook.ParseSecret("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	body := []byte(`{"id": "msg_1", "operation": "postReceipts", "seq": 1, "body": {"a": 1}}`)
	post := func(k webhook.Secret, signed, sent []byte) int {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(sent))
		k.SetHeaders(req.Header, "msg_1", time.Now(), signed)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if res, err := http.Get(strings.TrimSuffix(url, "/") + "/healthz"); err != nil || res.StatusCode != 200 {
		t.Fatalf("GET /healthz (the container's probe): %v %v", res, err)
	} else {
		res.Body.Close()
	}
	tampered := bytes.Replace(body, []byte(`"a": 1`), []byte(`"a": 2`), 1)
	for _, c := range []struct {
		name         string
		key          webhook.Secret
		signed, sent []byte
		want         int
	}{
		{"genuine", key, body, body, 200},
		{"re-sent", key, body, body, 200},
		{"tampered", key, body, tampered, 401},
		{"other secret", other, body, body, 401},
	} {
		if got := post(c.key, c.signed, c.sent); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	<-done
	if want := `{"id":"msg_1","operation":"postReceipts","seq":1,"body":{"a":1}}` + "\n"; stdout.String() != want {
		t.Errorf("stdout %q, want %q", stdout.String(), want)
	}
	if strings.Count(rest.String(), "refused POST") != 2 || !strings.Contains(rest.String(), "duplicate msg_1") {
		t.Errorf("stderr:\n%s", rest.String())
	}
}
