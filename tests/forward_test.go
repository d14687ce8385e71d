package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/evotor-partner/evotor-partner/cmd/evotor-cloud/cloud"
	"github.com/evotor-partner/evotor-partner/impl/forward"
	"github.com/evotor-partner/evotor-partner/impl/metrics"
	"github.com/evotor-partner/evotor-partner/impl/storage"
	"github.com/evotor-partner/evotor-partner/security/webhook"
)

const forwardSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// destination is the partner's system in a test: it fails when told to, checks that no two
// messages of one user are ever in flight together, and hands what passes to a cloud.Receiver
// (signature verified, once per webhook-id).
type destination struct {
	t        testing.TB
	srv      *httptest.Server
	receiver *cloud.Receiver

	mu          sync.Mutex
	failFirst   int       // answer 503 to this many requests first
	failEach    int       // answer 503 to each message's first this many attempts
	downUntil   time.Time // close the connection without answering until then
	requests    int
	attempts    []forward.Message // every request, in arrival order
	delivered   []forward.Message // verified and handed on, in order
	duplicates  int
	statuses    map[string][]int // webhook-id → statuses answered
	inFlight    map[string]bool  // user → a request of theirs is being answered
	overlapping []string
}

func newDestination(t testing.TB, secret string) *destination {
	d := &destination{t: t, statuses: map[string][]int{}, inFlight: map[string]bool{}}
	key, err := webhook.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	d.receiver = &cloud.Receiver{Secret: key,
		Deliver: func(_ string, body []byte) error {
			var m forward.Message
			if err := json.Unmarshal(body, &m); err != nil {
				return err
			}
			d.mu.Lock()
			d.delivered = append(d.delivered, m)
			d.mu.Unlock()
			return nil
		},
		Duplicate: func(string) { d.mu.Lock(); d.duplicates++; d.mu.Unlock() }}
	d.srv = httptest.NewServer(http.HandlerFunc(d.serve))
	t.Cleanup(d.srv.Close)
	return d
}

func (d *destination) serve(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(r.Body)
	var m forward.Message
	_ = json.Unmarshal(buf.Bytes(), &m)
	user := ""
	if m.UserID != nil {
		user = *m.UserID
	}
	d.mu.Lock()
	d.requests++
	d.attempts = append(d.attempts, m)
	if d.inFlight[user] {
		d.overlapping = append(d.overlapping, m.ID)
	}
	d.inFlight[user] = true
	fail := d.requests <= d.failFirst || len(d.statuses[r.Header.Get(webhook.HeaderID)]) < d.failEach
	down := time.Now().Before(d.downUntil)
	d.mu.Unlock()
	defer func() { d.mu.Lock(); d.inFlight[user] = false; d.mu.Unlock() }()
	time.Sleep(2 * time.Millisecond) // a receiver takes a moment: overlaps would show
	if down {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
	}
	rec := httptest.NewRecorder()
	if fail {
		rec.WriteHeader(http.StatusServiceUnavailable)
	} else {
		r.Body = http.NoBody
		r2 := r.Clone(r.Context())
		r2.Body = readCloser{bytes.NewReader(buf.Bytes())}
		d.receiver.ServeHTTP(rec, r2)
	}
	d.mu.Lock()
	d.statuses[r.Header.Get(webhook.HeaderID)] = append(d.statuses[r.Header.Get(webhook.HeaderID)], rec.Code)
	d.mu.Unlock()
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// waitDelivered waits until n messages were handed on.
func (d *destination) waitDelivered(n int, within time.Duration) []forward.Message {
	d.t.Helper()
	deadline := time.Now().Add(within)
	for {
		d.mu.Lock()
		got := append([]forward.Message(nil), d.delivered...)
		d.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("%d of %d messages delivered after %s", len(got), n, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startForwarding makes e forward to the given destinations with fast retries.
func startForwarding(t testing.TB, e *env, cfg forward.Config, urls ...string) *forward.Service {
	svc := newForwarding(t, e, cfg, urls...)
	start(t, svc)
	return svc
}

// newForwarding is startForwarding's service, not started.
func newForwarding(t testing.TB, e *env, cfg forward.Config, urls ...string) *forward.Service {
	for _, u := range urls {
		dests, err := forward.ParseDestinations(u, forwardSecret, false)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Destinations = append(cfg.Destinations, dests...)
	}
	cfg.RetryBase = max(cfg.RetryBase, 20*time.Millisecond)
	cfg.RetryCap = max(cfg.RetryCap, 200*time.Millisecond)
	cfg.PollInterval = 20 * time.Millisecond
	if cfg.Observe == nil && e.cfg.Metrics != nil {
		cfg.Observe = e.cfg.Metrics.ForwardAttempt
	}
	svc, err := forward.New(context.Background(), e.store, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e.cfg.Forwarding == nil { // the API forwards each delivery through svc's outbox
		e.cfg.Forwarding = svc
		e.assemble()
	}
	return svc
}

// TestAcknowledgedDeliveriesAreForwardedAfterARestart: deliveries acknowledged by a process
// that died before forwarding anything (on PostgreSQL, before even numbering them) are
// forwarded by the next process to start, each once, in order per user.
func TestAcknowledgedDeliveriesAreForwardedAfterARestart(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		dest := newDestination(t, forwardSecret)
		newForwarding(t, e, forward.Config{}, dest.srv.URL) // the process that answered: never started
		users := []string{"01-000000000000121", "01-000000000000122"}
		sendUsersEvents(e, users, 4)
		time.Sleep(100 * time.Millisecond)
		dest.mu.Lock()
		early := dest.requests
		dest.mu.Unlock()
		if early != 0 {
			t.Fatalf("%d requests before any forwarding started", early)
		}
		startForwarding(t, e, forward.Config{}, dest.srv.URL) // the next process
		got := dest.waitDelivered(8, 20*time.Second)
		checkInOrder(t, got, users, 4)
	})
}

// sendUsersEvents sends n subscription events to each user, interleaved (user a's 1, user b's
// 1, a's 2, …), each acknowledged 200 before the next.
func sendUsersEvents(e *env, users []string, n int) {
	for i := 1; i <= n; i++ {
		for _, u := range users {
			e.sendEvent(subscriptionEvent("sub-"+u, u, i, "SubscriptionTermsChanged", fmt.Sprintf(`,"deviceNumber":%d`, i)))
		}
	}
}

// checkInOrder asserts each user's messages arrived once each, seq 1..n, events in the order
// they were sent.
func checkInOrder(t testing.TB, got []forward.Message, users []string, n int) {
	t.Helper()
	next := map[string]int64{}
	for _, m := range got {
		if m.UserID == nil {
			t.Fatalf("message %s without user", m.ID)
		}
		u := *m.UserID
		next[u]++
		var ev struct{ SequenceNumber int64 }
		_ = json.Unmarshal(m.Body, &ev)
		if m.Seq != next[u] || ev.SequenceNumber != next[u] {
			t.Fatalf("user %s: got seq %d (event %d), want %d", u, m.Seq, ev.SequenceNumber, next[u])
		}
		if m.Operation != "subscriptionEvent" || m.ReceivedAt.IsZero() || m.PathParams == nil {
			t.Fatalf("message fields: %+v", m)
		}
	}
	for _, u := range users {
		if next[u] != int64(n) {
			t.Fatalf("user %s: %d messages, want %d", u, next[u], n)
		}
	}
}

func TestForwardingRetriesUntilDeliveredOnceInOrder(t *testing.T) {
	t.Parallel() // mostly waiting on retries: runs beside the others
	eachBackend(t, func(t *testing.T, b backend) {
		var m *metrics.Metrics
		e := newEnv(t, b, withMetrics(t, &m))
		dest := newDestination(t, forwardSecret)
		dest.failFirst = 3
		startForwarding(t, e, forward.Config{}, dest.srv.URL)
		users := []string{"01-000000000000101", "01-000000000000102"}
		sendUsersEvents(e, users, 5)
		e.sendEvent(subscriptionEvent("sub-"+users[0], users[0], 1, "SubscriptionTermsChanged", `,"deviceNumber":1`)) // a redelivery: not forwarded

		got := dest.waitDelivered(10, 20*time.Second)
		time.Sleep(200 * time.Millisecond) // anything sent twice would show by now
		dest.mu.Lock()
		defer dest.mu.Unlock()
		checkInOrder(t, dest.delivered, users, 5)
		if len(dest.delivered) != 10 || dest.duplicates != 0 || len(dest.overlapping) != 0 {
			t.Fatalf("%d delivered (%d duplicates, overlapping %v), want 10 once each", len(got), dest.duplicates, dest.overlapping)
		}
		for id, st := range dest.statuses {
			if n2xx := count(st, 200); n2xx != 1 {
				t.Fatalf("%s answered 200 %d times: %v", id, n2xx, st)
			}
		}
		if dest.requests != 13 {
			t.Fatalf("%d requests, want 10 + 3 failures", dest.requests)
		}
		stats, err := e.store.ForwardingStats(context.Background())
		if err != nil || len(stats) != 1 || stats[0].Delivered != 10 || stats[0].Pending != 0 || stats[0].FailedAttempts != 3 {
			t.Fatalf("stats %+v, %v", stats, err)
		}
		// The totals are counters, not a count of the rows: retention deleting every delivered
		// message leaves them as they were.
		if pruned, err := e.store.Prune(context.Background(), time.Now().Add(time.Hour), 100); err != nil || pruned.ForwardMessages != 10 {
			t.Fatalf("pruned %+v, %v; want the 10 delivered messages", pruned, err)
		}
		if again, err := e.store.ForwardingStats(context.Background()); err != nil || len(again) != 1 || again[0] != stats[0] {
			t.Fatalf("after pruning: stats %+v, %v; want %+v", again, err, stats)
		}
		families := scrape(t, m)
		for name, want := range map[string]float64{"evotor_partner_forward_delivered_total": 10, "evotor_partner_forward_failed_attempts_total": 3,
			"evotor_partner_forward_pending": 0, "evotor_partner_forward_dead": 0, "evotor_partner_forward_oldest_pending_age_seconds": 0} {
			if got := values(t, families, name, "destination")[dest.srv.URL]; got != want {
				t.Errorf("%s{destination=%q} = %v, want %v", name, dest.srv.URL, got, want)
			}
		}
	})
}

func count(xs []int, v int) (n int) {
	for _, x := range xs {
		if x == v {
			n++
		}
	}
	return n
}

func TestForwardingCatchesUpWhenTheDestinationReturns(t *testing.T) {
	t.Parallel() // mostly waiting on retries: runs beside the others
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		dest := newDestination(t, forwardSecret)
		dest.downUntil = time.Now().Add(time.Hour) // until the test brings it back
		startForwarding(t, e, forward.Config{}, dest.srv.URL)
		users := []string{"01-000000000000201", "01-000000000000202", "01-000000000000203"}
		sendUsersEvents(e, users, 4)
		waitFor(t, 10*time.Second, func() bool { // each user's first message tried twice, on average
			dest.mu.Lock()
			defer dest.mu.Unlock()
			return dest.requests >= 2*len(users)
		})
		dest.mu.Lock()
		dest.downUntil = time.Time{} // back up (a fixed 1.5 s down failed under -race: the first attempt came after it)
		dest.mu.Unlock()
		got := dest.waitDelivered(12, 20*time.Second)
		checkInOrder(t, got, users, 4)
		var retried int64
		e.db.Model(&storage.ForwardMessage{}).Where("attempts > 1").Count(&retried)
		if retried == 0 {
			t.Fatal("no message was retried: the destination was never down")
		}
	})
}

func TestForwardingSignsEveryMessage(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		good := newDestination(t, forwardSecret)
		wrongKey := newDestination(t, "whsec_"+"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
		startForwarding(t, e, forward.Config{}, good.srv.URL, wrongKey.srv.URL)
		e.sendEvent(subscriptionEvent("sub-s", "01-000000000000301", 1, "SubscriptionCreated", ""))
		got := good.waitDelivered(1, 10*time.Second)

		// The same message, captured, with one byte of the body changed: refused.
		body, _ := json.Marshal(got[0])
		key, _ := webhook.ParseSecret(forwardSecret)
		h := http.Header{}
		key.SetHeaders(h, got[0].ID, time.Now(), body)
		tampered := bytes.Replace(body, []byte(`"sequenceNumber":1`), []byte(`"sequenceNumber":2`), 1)
		if bytes.Equal(tampered, body) {
			t.Fatal("nothing tampered")
		}
		for name, b := range map[string][]byte{"genuine": body, "tampered": tampered} {
			req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(b))
			req.Header = h.Clone()
			rec := httptest.NewRecorder()
			(&cloud.Receiver{Secret: key, Deliver: func(string, []byte) error { return nil }}).ServeHTTP(rec, req)
			if want := map[string]int{"genuine": 200, "tampered": 401}[name]; rec.Code != want {
				t.Fatalf("%s: %d, want %d", name, rec.Code, want)
			}
		}

		// A destination with another secret refuses every attempt: the message stays pending,
		// with the refusal visible.
		deadline := time.Now().Add(10 * time.Second)
		for {
			var m storage.ForwardMessage
			err := e.db.Where("destination = ?", wrongKey.srv.URL).Take(&m).Error
			if err == nil && m.LastStatus != nil && *m.LastStatus == 401 && m.State == storage.ForwardPending {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("wrong-key destination: %+v %v", m, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if n := len(wrongKey.waitDeliveredNone()); n != 0 {
			t.Fatalf("a receiver with another secret accepted %d messages", n)
		}
	})
}

func (d *destination) waitDeliveredNone() []forward.Message {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.delivered
}

// TestEachMessageHasItsOwnAttempts: a message's retries are its own. Every message fails as
// many attempts as the schedule allows but one: the first is delivered on its job's last
// attempt, and the one behind it, which that job may own (PostgreSQL numbers a batch of
// deliveries together and the head's job takes the batch), still gets all its attempts, not
// the rest of the job's.
func TestEachMessageHasItsOwnAttempts(t *testing.T) {
	t.Parallel() // mostly waiting on retries: runs beside the others
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		dest := newDestination(t, forwardSecret)
		dest.failEach = 2 // of 3 attempts: 60 ms of retries, after 20 and 40 ms (startForwarding's backoff)
		startForwarding(t, e, forward.Config{RetryFor: 60 * time.Millisecond}, dest.srv.URL)
		user := "01-000000000000501"
		sendUsersEvents(e, []string{user}, 2)
		checkInOrder(t, dest.waitDelivered(2, 20*time.Second), []string{user}, 2)
		var msgs []storage.ForwardMessage
		waitFor(t, 10*time.Second, func() bool { // the receiver answers before the attempt is written
			e.db.Order("seq").Find(&msgs)
			return len(msgs) == 2 && msgs[1].State != storage.ForwardPending
		})
		for _, m := range msgs {
			if m.State != storage.ForwardDelivered || m.Attempts != 3 {
				t.Errorf("message %d: %s after %d attempts, want delivered after 3", m.Seq, m.State, m.Attempts)
			}
		}
	})
}

func TestForwardingGivesUpThenResends(t *testing.T) {
	t.Parallel() // mostly waiting on retries: runs beside the others
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		dest := newDestination(t, forwardSecret)
		dest.failFirst = 1 << 30
		svc := startForwarding(t, e, forward.Config{RetryFor: 150 * time.Millisecond}, dest.srv.URL)
		user := "01-000000000000401"
		sendUsersEvents(e, []string{user}, 2)

		waitFor(t, 20*time.Second, func() bool {
			var dead int64
			e.db.Model(&storage.ForwardMessage{}).Where("state = ?", storage.ForwardDead).Count(&dead)
			return dead == 2
		})
		// While the first was pending, the second was never tried.
		dest.mu.Lock()
		firstOfSecond := len(dest.attempts)
		for i, a := range dest.attempts {
			if a.Seq == 2 {
				firstOfSecond = min(firstOfSecond, i)
			}
			if a.Seq == 1 && i > firstOfSecond {
				t.Fatalf("message 1 tried after message 2 (attempt %d of %d)", i+1, len(dest.attempts))
			}
		}
		if firstOfSecond < 2 {
			t.Fatalf("message 2 tried before message 1 had failed a few times (at %d)", firstOfSecond)
		}
		dest.failFirst = 0
		dest.mu.Unlock()

		n, err := svc.ResendDead(context.Background(), 0, dest.srv.URL)
		if err != nil || n != 2 {
			t.Fatalf("ResendDead = %d, %v", n, err)
		}
		checkInOrder(t, dest.waitDelivered(2, 10*time.Second), []string{user}, 2)
	})
}

func waitFor(t testing.TB, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not so after %s", within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
