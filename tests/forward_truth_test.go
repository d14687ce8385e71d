package tests

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evotor-partner/evotor-partner/impl/forward"
	"github.com/evotor-partner/evotor-partner/impl/storage"
)

// Forwarding tells the truth about what a destination answered: a redirect is a failed
// attempt (never followed: the signed body goes nowhere else), 410 Gone ends the message at
// once, and a Retry-After on 429/503 is waited out.

// scripted is a destination that answers each request as its script says, and records when.
type scripted struct {
	srv    *httptest.Server
	mu     sync.Mutex
	times  []time.Time
	answer func(n int, w http.ResponseWriter) // n counts requests from 1
}

func newScripted(t *testing.T, answer func(n int, w http.ResponseWriter)) *scripted {
	s := &scripted{answer: answer}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.times = append(s.times, time.Now())
		n := len(s.times)
		s.mu.Unlock()
		s.answer(n, w)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *scripted) requests() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.times...)
}

// onlyMessage is the one forwarded message of the test.
func onlyMessage(t *testing.T, e *env) storage.ForwardMessage {
	t.Helper()
	var msgs []storage.ForwardMessage
	if err := e.db.Find(&msgs).Error; err != nil || len(msgs) != 1 {
		t.Fatalf("%d messages, %v", len(msgs), err)
	}
	return msgs[0]
}

func TestForwardingTellsTheTruth(t *testing.T) {
	t.Parallel() // mostly waiting on retries: runs beside the others
	event := subscriptionEvent("sub-truth", "01-000000000000777", 1, "SubscriptionCreated", "")
	eachBackend(t, func(t *testing.T, b backend) { // each case waits on retries, on a database of its own: side by side
		for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
			t.Run("a "+http.StatusText(status)+" is a failed attempt, never followed", func(t *testing.T) {
				t.Parallel()
				elsewhere := newScripted(t, func(int, http.ResponseWriter) {})
				dest := newScripted(t, func(_ int, w http.ResponseWriter) {
					w.Header().Set("Location", elsewhere.srv.URL+"/stolen")
					w.WriteHeader(status)
				})
				e := newEnv(t, b)
				startForwarding(t, e, forward.Config{}, dest.srv.URL)
				e.sendEvent(event)
				waitFor(t, 10*time.Second, func() bool { return len(dest.requests()) >= 2 })
				m := onlyMessage(t, e)
				if len(elsewhere.requests()) != 0 || m.State != storage.ForwardPending || m.LastStatus == nil || *m.LastStatus != int64(status) ||
					m.LastError == nil || !strings.Contains(*m.LastError, "redirect") || !strings.Contains(*m.LastError, "/stolen") {
					t.Fatalf("after %d redirects: %d requests elsewhere, message %+v", len(dest.requests()), len(elsewhere.requests()), m)
				}
			})
		}
		t.Run("410 Gone ends the message at once", func(t *testing.T) {
			t.Parallel()
			dest := newScripted(t, func(_ int, w http.ResponseWriter) { w.WriteHeader(http.StatusGone) })
			e := newEnv(t, b)
			startForwarding(t, e, forward.Config{}, dest.srv.URL)
			e.sendEvent(event)
			waitFor(t, 10*time.Second, func() bool { return onlyMessage(t, e).State == storage.ForwardDead })
			time.Sleep(300 * time.Millisecond) // retries would come every 20-200 ms
			if m := onlyMessage(t, e); len(dest.requests()) != 1 || m.Attempts != 1 || m.LastStatus == nil || *m.LastStatus != 410 ||
				m.LastError == nil || !strings.Contains(*m.LastError, "gone") {
				t.Fatalf("%d requests, message %+v", len(dest.requests()), m)
			}
		})
		for _, status := range []int{http.StatusServiceUnavailable, http.StatusTooManyRequests} {
			t.Run(http.StatusText(status)+" with Retry-After is waited out", func(t *testing.T) {
				t.Parallel()
				dest := newScripted(t, func(n int, w http.ResponseWriter) {
					if n == 1 {
						w.Header().Set("Retry-After", "1")
						w.WriteHeader(status)
					}
				})
				e := newEnv(t, b)
				startForwarding(t, e, forward.Config{RetryCap: 5 * time.Second}, dest.srv.URL)
				e.sendEvent(event)
				waitFor(t, 10*time.Second, func() bool { return onlyMessage(t, e).State == storage.ForwardDelivered })
				times := dest.requests()
				// the backoff alone would try again after 20-24 ms
				if gap := times[1].Sub(times[0]); gap < 950*time.Millisecond {
					t.Fatalf("second attempt %s after the first; Retry-After asked 1 s", gap)
				}
			})
		}
	})
}

// TestDestinationsAreIsolated: a destination that never answers holds up its own messages
// only: with 40 users' events forwarded to it and to a healthy one, the healthy one gets every
// message within seconds, in order per user, while the other's attempts time out.
func TestDestinationsAreIsolated(t *testing.T) {
	t.Parallel() // mostly waiting: runs beside the others
	eachBackend(t, func(t *testing.T, b backend) {
		over := make(chan struct{})
		hanging := newScripted(t, func(int, http.ResponseWriter) {
			select {
			case <-time.After(3 * time.Second):
			case <-over:
			}
		})
		healthy := newDestination(t, forwardSecret)
		e := newEnv(t, b)
		startForwarding(t, e, forward.Config{Workers: 4, Timeout: 2 * time.Second}, hanging.srv.URL, healthy.srv.URL)
		t.Cleanup(func() { close(over) }) // first: the forwarding's Stop and the server's Close wait for the hanging sends
		users := make([]string, 40)
		for i := range users {
			users[i] = fmt.Sprintf("01-000000000000%03d", 800+i)
		}
		start := time.Now()
		sendUsersEvents(e, users, 1)
		got := healthy.waitDelivered(len(users), 20*time.Second)
		if took := time.Since(start); took > 6*time.Second {
			t.Fatalf("the healthy destination got its %d messages after %s", len(got), took)
		}
		checkInOrder(t, got, users, 1)
	})
}

// TestAnyMessageCanBeSentAgain: the admin re-send takes a message in any state — here one
// already delivered (the receiver lost it) — and sends it again with its webhook-id, which a
// receiver that still has it skips.
func TestAnyMessageCanBeSentAgain(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		dest := newDestination(t, forwardSecret)
		svc := startForwarding(t, e, forward.Config{}, dest.srv.URL)
		e.sendEvent(subscriptionEvent("sub-again", "01-000000000000901", 1, "SubscriptionCreated", ""))
		dest.waitDelivered(1, 10*time.Second)
		waitFor(t, 10*time.Second, func() bool { return onlyMessage(t, e).State == storage.ForwardDelivered })
		n, err := svc.ResendDead(context.Background(), onlyMessage(t, e).ID, "")
		if err != nil || n != 1 {
			t.Fatalf("re-send of a delivered message: %d, %v", n, err)
		}
		waitFor(t, 10*time.Second, func() bool {
			dest.mu.Lock()
			defer dest.mu.Unlock()
			return dest.duplicates == 1
		})
		waitFor(t, 10*time.Second, func() bool { return onlyMessage(t, e).State == storage.ForwardDelivered })
	})
}

// TestOrphanedMessagesAreRevived: a pending message whose send job is gone (lost, or
// finalised while its row stayed pending) is found by the periodic sweep and sent, instead of
// waiting for ever.
func TestOrphanedMessagesAreRevived(t *testing.T) {
	t.Parallel() // mostly waiting: runs beside the others
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		dest := newDestination(t, forwardSecret)
		dest.mu.Lock()
		dest.failFirst = 1 << 30 // down
		dest.mu.Unlock()
		startForwarding(t, e, forward.Config{SweepInterval: 200 * time.Millisecond, RetryBase: time.Hour, RetryCap: time.Hour}, dest.srv.URL)
		e.sendEvent(subscriptionEvent("sub-orphan", "01-000000000000911", 1, "SubscriptionCreated", ""))
		waitFor(t, 10*time.Second, func() bool { return onlyMessage(t, e).Attempts >= 1 })
		// The job (waiting an hour to retry) is lost; the destination is back.
		m := onlyMessage(t, e)
		if err := e.db.Exec("DELETE FROM river_job WHERE id = ?", *m.JobID).Error; err != nil {
			t.Fatal(err)
		}
		dest.mu.Lock()
		dest.failFirst = 0
		dest.mu.Unlock()
		dest.waitDelivered(1, 10*time.Second)
	})
}

// TestForwardedBodiesAreEvotorsBytes: a forwarded message carries the delivery's body byte for
// byte, a large one (kept compressed in the inbox) as a small one.
func TestForwardedBodiesAreEvotorsBytes(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		dest := newDestination(t, forwardSecret)
		startForwarding(t, e, forward.Config{}, dest.srv.URL)
		token := bearer(e.createUser("01-000000000000921"))
		large := catalogue(300_000) // stored compressed: over 64 KiB
		if status, resp := e.send(opByID(t, "createProducts"), large, token); status != 200 {
			t.Fatalf("%d %s", status, resp)
		}
		small := subscriptionEvent("sub-bytes", "01-000000000000921", 1, "SubscriptionCreated", "")
		e.sendEvent(small)
		got := dest.waitDelivered(2, 10*time.Second)
		for i, want := range [][]byte{large, small} {
			if !bytes.Equal(got[i].Body, want) {
				t.Fatalf("message %d: %d bytes forwarded, %d sent (%.40q…)", i, len(got[i].Body), len(want), got[i].Body)
			}
		}
	})
}
