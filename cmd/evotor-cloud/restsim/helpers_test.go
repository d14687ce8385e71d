package restsim

import (
	"fmt"
	"iter"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/evotor-partner/evotor-partner/impl/evotorapi"
)

// sim is the API under test: served by httptest, every answer checked against the contract
// (a test fails at its end if one was not as the contract says), and a client of it built on
// impl/evotorapi, so both sides are the contract's.
type sim struct {
	t      *testing.T
	srv    *Server
	url    string
	client *evotorapi.Client
}

func newSim(t *testing.T, cfg Config) *sim {
	t.Helper()
	cfg.CheckAnswers = true
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	client, err := evotorapi.New(evotorapi.Config{BaseURL: hs.URL, Timeout: 5 * time.Second, BaseDelay: 5 * time.Millisecond,
		MaxDelay: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if v := srv.ContractViolations(); len(v) > 0 {
			t.Errorf("%d answers not as openapi/evotor-rest.yaml says:\n  %s", len(v), strings.Join(v, "\n  "))
		}
	})
	return &sim{t: t, srv: srv, url: hs.URL, client: client}
}

// withUser1 is the API holding aUser's records, and user1's session with its cloud token.
func withUser1(t *testing.T, cfg Config) (*sim, *evotorapi.Session) {
	t.Helper()
	s := newSim(t, cfg)
	aUser(t, s.srv.Model())
	return s, s.user(user1, "cloud-token-1")
}

// session is the API as the user with this cloud token calls it.
func (s *sim) session(token string) *evotorapi.Session {
	return s.client.Session(evotorapi.NewCloudToken(token))
}

// user gives an Evotor user a cloud token, as user/token does.
func (s *sim) user(id, token string) *evotorapi.Session {
	s.srv.Tokens().Set(id, token)
	return s.session(token)
}

// do sends a raw request (for what the client never does wrong), with the headers given.
func (s *sim) do(method, path, body string, header ...string) *http.Response {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

// all runs a listing to its end.
func all[T any](t *testing.T, seq iter.Seq2[evotorapi.Item[T], error]) []evotorapi.Item[T] {
	t.Helper()
	var out []evotorapi.Item[T]
	for it, err := range seq {
		if err != nil {
			t.Fatalf("after %d items: %v", len(out), err)
		}
		if it.Mismatch != nil {
			t.Errorf("item %s does not fit the contract's type: %v", it.ID, it.Mismatch)
		}
		out = append(out, it)
	}
	return out
}

func ids[T any](items []evotorapi.Item[T]) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

func recordIDs(rs []Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// array is a webhook body of n items made by item(i).
func array(n int, item func(i int) string) []byte {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = item(i)
	}
	return []byte("[" + strings.Join(parts, ",") + "]")
}

func storeID(i int) string  { return fmt.Sprintf("20170228-F4F1-401B-80FA-%012X", i) }
func deviceID(i int) string { return fmt.Sprintf("20170222-D58C-40E0-8051-%012X", i) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
