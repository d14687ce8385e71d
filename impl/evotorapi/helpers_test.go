package evotorapi

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
)

// testToken is what the tests hand the client; it must never come back in an error or a log.
const testToken = "c1oud-T0KEN-5ecret-7f3a9e21"

// seen is one request as the stand-in for Evotor received it.
type seen struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	Body   []byte
}

// evotorStub stands in for Evotor: it records every request and answers with reply.
type evotorStub struct {
	t     *testing.T
	srv   *httptest.Server
	mu    sync.Mutex
	reqs  []seen
	reply func(n int, r seen, w http.ResponseWriter) // n counts from 0
}

func newStub(t *testing.T, reply func(n int, r seen, w http.ResponseWriter)) *evotorStub {
	t.Helper()
	s := &evotorStub{t: t, reply: reply}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec := seen{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: body}
		s.mu.Lock()
		n := len(s.reqs)
		s.reqs = append(s.reqs, rec)
		s.mu.Unlock()
		s.reply(n, rec, w)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *evotorStub) requests() []seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seen(nil), s.reqs...)
}

// fakeClock makes waiting instant and recorded: sleep advances now.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slept = append(c.slept, d)
	c.now = c.now.Add(d)
	return nil
}

func (c *fakeClock) Slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}

// newTestClient is a Client pointed at the stub, with a fake clock.
func newTestClient(t *testing.T, baseURL string, cfg Config) (*Client, *fakeClock) {
	t.Helper()
	cfg.BaseURL = baseURL
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{now: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)}
	c.now, c.sleep = clock.Now, clock.Sleep
	return c, clock
}

func answerJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", MediaType)
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// collect runs a listing to its end: the items, and the error that ended it (nil at the end).
func collect[T any](seq func(func(Item[T], error) bool)) ([]Item[T], error) {
	var out []Item[T]
	for it, err := range seq {
		if err != nil {
			return out, err
		}
		out = append(out, it)
	}
	return out, nil
}
