package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/evotor-partner/evotor-partner/impl/forward"
)

// receiver is a partner's endpoint that answers 200 at once: it checks that each user's
// messages arrive in order, one at a time, and tells when it has n of them. hold, when set,
// keeps every request waiting until it is closed.
type receiver struct {
	srv  *httptest.Server
	hold chan struct{}

	mu          sync.Mutex
	got         int
	want        int
	done        chan struct{}
	next        map[string]int64 // user → the seq expected next
	inFlight    map[string]bool
	disordered  []string
	overlapping int
}

// held is how many requests are in flight.
func (r *receiver) held() (n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, busy := range r.inFlight {
		if busy {
			n++
		}
	}
	return n
}

func newReceiver(t testing.TB, want int) *receiver {
	r := &receiver{want: want, done: make(chan struct{}), next: map[string]int64{}, inFlight: map[string]bool{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	var m forward.Message
	_ = json.Unmarshal(body, &m)
	user := ""
	if m.UserID != nil {
		user = *m.UserID
	}
	r.mu.Lock()
	if r.inFlight[user] {
		r.overlapping++
	}
	r.inFlight[user] = true
	r.mu.Unlock()
	if r.hold != nil {
		<-r.hold
	}
	r.mu.Lock()
	r.inFlight[user] = false
	if m.Seq != 0 { // a forwarded message (the bare loop posts the deliveries themselves)
		if want := r.next[user] + 1; m.Seq != want {
			r.disordered = append(r.disordered, fmt.Sprintf("user %s: seq %d, want %d", user, m.Seq, want))
		}
		r.next[user] = m.Seq
	}
	r.got++
	if r.got == r.want {
		close(r.done)
	}
	r.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// wait waits until the receiver has what it wants, and reports whether it did within d.
func (r *receiver) wait(d time.Duration) bool {
	select {
	case <-r.done:
		return true
	case <-time.After(d):
		return false
	}
}

// backlog makes env forward to url through a service that is not started yet, and accepts n
// subscription events of each user: the backlog a destination's outage leaves behind.
func backlog(t testing.TB, b backend, url string, cfg forward.Config, users []string, n int) (*env, *forward.Service, [][]byte) {
	e := newEnv(t, b)
	dests, err := forward.ParseDestinations(url, forwardSecret, false)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Destinations = dests
	svc, err := forward.New(context.Background(), e.store, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.cfg.Forwarding = svc
	e.assemble()
	var bodies [][]byte
	for i := 1; i <= n; i++ {
		for _, u := range users {
			body := subscriptionEvent("sub-"+u, u, i, "SubscriptionTermsChanged", fmt.Sprintf(`,"deviceNumber":%d`, i))
			e.sendEvent(body)
			bodies = append(bodies, body)
		}
	}
	return e, svc, bodies
}

// start starts svc until the test ends.
func start(t testing.TB, svc *forward.Service) {
	ctx, cancel := context.WithCancel(context.Background())
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopCtx, done := context.WithTimeout(context.Background(), 5*time.Second)
		defer done()
		_ = svc.Stop(stopCtx)
		cancel()
	})
}

// TestABacklogDrainsAsTheDestinationAnswers: a user's next message goes out as soon as the
// previous one is answered, not after a queue poll: with the queue polled every 5 s (and two
// replicas working it), 3 users' 150 messages each, queued behind their first ones, which the
// destination holds, all arrive within seconds of its release, in order per user, one at a
// time. (Before, each message waited for a poll or a notification: 9–10 a second.)
func TestABacklogDrainsAsTheDestinationAnswers(t *testing.T) {
	if testing.Short() {
		t.Skip("a few seconds per database")
	}
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		users := []string{"01-000000000000701", "01-000000000000702", "01-000000000000703"}
		const n = 150
		r := newReceiver(t, len(users)*n)
		r.hold = make(chan struct{})
		cfg := forward.Config{PollInterval: 5 * time.Second}
		e, svc, _ := backlog(t, b, r.srv.URL, cfg, users, 1)
		start(t, svc)
		cfg.Destinations, _ = forward.ParseDestinations(r.srv.URL, forwardSecret, false)
		other, err := forward.New(context.Background(), e.store, cfg, nil) // a second replica
		if err != nil {
			t.Fatal(err)
		}
		start(t, other)
		// Each user's first message is being sent (held); the rest queue up behind it.
		waitFor(t, 15*time.Second, func() bool { return r.held() == len(users) })
		for i := 2; i <= n; i++ {
			for _, u := range users {
				e.sendEvent(subscriptionEvent("sub-"+u, u, i, "SubscriptionTermsChanged", ""))
			}
		}
		released := time.Now()
		close(r.hold)
		if !r.wait(15 * time.Second) {
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("%d of %d messages arrived within 15 s of the release", r.got, r.want)
		}
		t.Logf("%d messages in %s", r.want, time.Since(released))
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.overlapping != 0 {
			t.Fatalf("%d messages sent while the user's previous one was in flight", r.overlapping)
		}
		for _, d := range r.disordered {
			t.Error(d)
		}
	})
}

// BenchmarkBacklogDrain (`make bench-drain`): one user's backlog of 1,000 messages forwarded to
// a local receiver that answers at once, against a bare loop that POSTs the same deliveries to
// the same receiver one after another. msgs/s for both, measured in the same run; the goal is
// ≥ 200 msgs/s forwarded.
func BenchmarkBacklogDrain(b *testing.B) {
	const n = 1000
	for _, be := range backends() {
		b.Run(be.Name, func(b *testing.B) {
			for range b.N {
				bare := newReceiver(b, n)
				forwarded := newReceiver(b, n)
				_, svc, bodies := backlog(b, be, forwarded.srv.URL, forward.Config{}, []string{"01-000000000000777"}, n)
				began := time.Now()
				for _, body := range bodies {
					resp, err := http.Post(bare.srv.URL, "application/json", bytes.NewReader(body))
					if err != nil {
						b.Fatal(err)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				bareTook := time.Since(began)
				began = time.Now()
				start(b, svc)
				if !forwarded.wait(5 * time.Minute) {
					b.Fatalf("%d of %d forwarded", forwarded.got, n)
				}
				took := time.Since(began)
				if len(forwarded.disordered) > 0 || forwarded.overlapping > 0 {
					b.Fatalf("out of order: %v, %d overlapping", forwarded.disordered, forwarded.overlapping)
				}
				b.ReportMetric(float64(n)/took.Seconds(), "msgs/s")
				b.ReportMetric(float64(n)/bareTook.Seconds(), "bare-msgs/s")
			}
		})
	}
}
