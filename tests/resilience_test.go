package tests

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evotor-partner/evotor-partner/generated"
	"github.com/evotor-partner/evotor-partner/impl/store"
)

// The goals when PostgreSQL stops answering (Evotor gives up after 10 s and re-sends).
const (
	readyzLimit    = time.Second                          // /readyz answers 503 within this
	deliveryLimit  = store.DefaultTimeout + time.Second/2 // a delivery fails with 503 within this
	knownDownLimit = 100 * time.Millisecond               // once the database is known not to answer
	recoveryLimit  = 5 * time.Second                      // answers are back this soon after the database
	hangLimit      = 12 * time.Second                     // beyond this a request counts as hung
)

// answer is one request's outcome and how long it took.
type answer struct {
	status  int
	body    []byte
	elapsed time.Duration
}

type request func(ctx context.Context) (*http.Response, error)

// callAll sends the requests at the same instant, each in its own goroutine, and fails the
// test if one hangs.
func callAll(t *testing.T, requests ...request) []answer {
	t.Helper()
	answers := make([]answer, len(requests))
	var wg sync.WaitGroup
	start := time.Now()
	for i, send := range requests {
		wg.Go(func() {
			a := answer{status: -1}
			if res, err := send(context.Background()); err != nil {
				a.body = []byte(err.Error())
			} else {
				var buf bytes.Buffer
				_, _ = buf.ReadFrom(res.Body)
				_ = res.Body.Close()
				a.status, a.body = res.StatusCode, buf.Bytes()
			}
			a.elapsed = time.Since(start)
			answers[i] = a
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return answers
	case <-time.After(hangLimit):
		t.Fatalf("requests still hanging after %s", hangLimit)
		return nil
	}
}

func call(t *testing.T, send request) answer { return callAll(t, send)[0] }

// TestFrozenDatabase: PostgreSQL stops answering (a proxy in between stalls, sockets open).
// /readyz and deliveries fail fast with 503, and succeed again once the database answers,
// without a restart.
func TestFrozenDatabase(t *testing.T) {
	databaseURL := os.Getenv("TEST_DATABASE_URL")
	if databaseURL == "" {
		t.Skip("PostgreSQL only: set TEST_DATABASE_URL")
	}
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := startStallProxy(t, u.Host)
	e := newEnv(t, backend{name: "postgres via a stalling proxy", open: func(t testing.TB) *store.Store {
		return openPostgresSchema(t, proxy.viaProxy(t, databaseURL))
	}})
	t.Cleanup(proxy.Resume) // before the schema is dropped, whatever happened
	client := e.client.ClientInterface.(*generated.Client)
	userToken := e.createUser("01-000000000000031")

	var sequence atomic.Int64
	names := []string{"stores (user token)", "subscription event (app token)"}
	sends := []request{
		func(ctx context.Context) (*http.Response, error) {
			body := []byte(`[{"uuid":"20170228-F4F1-401B-80FA-9ECCA8451FFB","name":"Магазин"}]`)
			return opByID(t, "putStores").Do(ctx, client, "", body, auth(bearer(userToken)))
		},
		func(ctx context.Context) (*http.Response, error) {
			body := fmt.Appendf(nil, `{"subscriptionId":"01-000000000000031-sub","productId":"p1","userId":"01-000000000000031",`+
				`"timestamp":"2026-01-02T03:04:05.000+0000","sequenceNumber":%d,"type":"SubscriptionCreated"}`, sequence.Add(1))
			return opByID(t, "subscriptionEvent").Do(ctx, client, "", body, auth(bearer(appToken)))
		},
	}
	readyz := func(ctx context.Context) (*http.Response, error) { return client.Readyz(ctx) }

	for i, send := range sends {
		if a := call(t, send); a.status != http.StatusOK {
			t.Fatalf("%s while the database answers: %d %s", names[i], a.status, a.body)
		}
	}

	// The database stops answering while readyz and the deliveries are on their way.
	proxy.Stall()
	answers := callAll(t, append([]request{readyz}, sends...)...)
	t.Logf("frozen: readyz %d in %s", answers[0].status, answers[0].elapsed.Round(time.Millisecond))
	if answers[0].status != http.StatusServiceUnavailable || answers[0].elapsed > readyzLimit {
		t.Errorf("readyz: %d after %s, want 503 within %s", answers[0].status, answers[0].elapsed, readyzLimit)
	}
	for i, a := range answers[1:] {
		t.Logf("frozen: %s %d in %s", names[i], a.status, a.elapsed.Round(time.Millisecond))
		expectError(t, a.status, a.body, http.StatusServiceUnavailable, http.StatusServiceUnavailable, "")
		if a.elapsed > deliveryLimit {
			t.Errorf("%s: 503 after %s, want within %s", names[i], a.elapsed, deliveryLimit)
		}
	}
	// Still frozen, known to be: new requests fail at once.
	for i, send := range sends {
		a := call(t, send)
		t.Logf("still frozen: %s %d in %s", names[i], a.status, a.elapsed.Round(time.Millisecond))
		expectError(t, a.status, a.body, http.StatusServiceUnavailable, http.StatusServiceUnavailable, "")
		if a.elapsed > knownDownLimit {
			t.Errorf("%s: 503 after %s once the database is known not to answer, want within %s", names[i], a.elapsed, knownDownLimit)
		}
	}

	proxy.Resume()
	resumed := time.Now()
	for a := call(t, readyz); a.status != http.StatusOK; a = call(t, readyz) {
		if time.Since(resumed) > recoveryLimit {
			t.Fatalf("readyz still %d %s after the database answers again", a.status, a.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("answering again: readyz 200 %s after the proxy resumed", time.Since(resumed).Round(time.Millisecond))
	for i, send := range sends {
		a := call(t, send)
		t.Logf("answering again: %s %d in %s", names[i], a.status, a.elapsed.Round(time.Millisecond))
		if a.status != http.StatusOK {
			t.Errorf("%s after the database answers again: %d %s", names[i], a.status, a.body)
		}
	}
}

// TestSlowAnswerIsNotCut: a delivery that waits longer than the database timeout for a lock
// (another transaction holds the inbox) is not mistaken for a frozen database: it succeeds.
func TestSlowAnswerIsNotCut(t *testing.T) {
	databaseURL := os.Getenv("TEST_DATABASE_URL")
	if databaseURL == "" {
		t.Skip("PostgreSQL only: set TEST_DATABASE_URL")
	}
	e := newEnv(t, backend{name: "postgres", open: func(t testing.TB) *store.Store { return openPostgresSchema(t, databaseURL) }})
	client := e.client.ClientInterface.(*generated.Client)
	userToken := e.createUser("01-000000000000032")
	const held = store.DefaultTimeout + time.Second

	locked := make(chan error, 1)
	release := e.store.DB().Begin()
	if err := release.Exec("LOCK TABLE inbox IN EXCLUSIVE MODE").Error; err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(held, func() { locked <- release.Rollback().Error })
	a := call(t, func(ctx context.Context) (*http.Response, error) {
		body := []byte(`[{"uuid":"20170228-F4F1-401B-80FA-9ECCA8451FFB","name":"Магазин"}]`)
		return opByID(t, "putStores").Do(ctx, client, "", body, auth(bearer(userToken)))
	})
	if err := <-locked; err != nil {
		t.Fatal(err)
	}
	t.Logf("stores behind a %s lock: %d in %s", held, a.status, a.elapsed.Round(time.Millisecond))
	if a.status != http.StatusOK || a.elapsed < held {
		t.Fatalf("%d %s after %s, want 200 after the lock (%s) is released", a.status, a.body, a.elapsed, held)
	}
}
