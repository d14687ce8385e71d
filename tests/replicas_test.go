package tests

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evotor-partner/evotor-partner/impl/forward"
	"github.com/evotor-partner/evotor-partner/impl/storage"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
)

// TestThreeReplicasOnePostgres: three server processes on one PostgreSQL take a duplicate
// storm (100 receipt ids × 20 copies, subscription events out of order) spread over all three;
// one is killed with SIGKILL in the middle (its requests go to the others, as Evotor re-sends).
// Then: exactly 100 receipts, subscription states as if in order, every acknowledged delivery
// stored, every stored delivery forwarded, in order per user, never two of a user at once.
func TestThreeReplicasOnePostgres(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs real processes")
	}
	dbURL := scratchDatabase(t)
	dest := newDestination(t, forwardSecret)
	var replicas []*proc
	bin, _ := binaries(t)
	for range 3 { // started together: migrations take turns under the advisory lock
		addr := freeAddr(t)
		p := startProc(t, bin, partnerEnv(addr, dbURL, t.TempDir(), dest.srv.URL), "serve")
		p.addr = addr
		replicas = append(replicas, p)
	}
	for _, p := range replicas {
		p.waitHealthy(t)
	}

	users := []string{"01-000000000000701", "01-000000000000702", "01-000000000000703", "01-000000000000704"}
	tokens := map[string]string{}
	for i, u := range users {
		status, body := postRead(replicas[i%3].addr, "/api/v1/user/create", bearer(appToken), []byte(`{"userId":"`+u+`"}`))
		var created struct{ Token string }
		if status != 200 || json.Unmarshal(body, &created) != nil {
			t.Fatalf("user/create: %d %s", status, body)
		}
		tokens[u] = created.Token
	}

	type job struct {
		path, auth string
		body       []byte
		receipt    string // the receipt id, "" for an event
	}
	var jobs []job
	for r := range 100 {
		u := users[r%len(users)]
		id := fmt.Sprintf("c0ffee00-0000-4000-8000-%012d", r)
		storeID := fmt.Sprintf("20170928-3176-40EB-80E2-%012d", r%len(users)) // a store belongs to one user
		for range 20 {
			jobs = append(jobs, job{"/api/v2/receipts", bearer(tokens[u]), receipt(id, storeID, 2), id})
		}
	}
	for _, u := range users[:3] {
		for _, ev := range lifecycle("sub-"+u, u) {
			jobs = append(jobs, job{"/api/v1/subscription/event", bearer(appToken), ev, ""})
		}
	}
	rand.Shuffle(len(jobs), func(i, j int) { jobs[i], jobs[j] = jobs[j], jobs[i] })

	var (
		next, done atomic.Int64
		killOnce   sync.Once
		ackedMu    sync.Mutex
		acked      = map[string]bool{}
		wg         sync.WaitGroup
		failures   atomic.Int64
	)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(jobs) {
					return
				}
				if done.Load() == int64(len(jobs)/2) {
					killOnce.Do(replicas[2].kill) // in the middle of the storm
				}
				j, ok := jobs[i], false
				for try := range 6 { // Evotor re-sends what was not answered 200
					if post(replicas[(i+w+try)%3].addr, j.path, j.auth, j.body) == 200 {
						ok = true
						break
					}
				}
				if !ok {
					failures.Add(1)
				} else if j.receipt != "" {
					ackedMu.Lock()
					acked[j.receipt] = true
					ackedMu.Unlock()
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	if failures.Load() > 0 {
		t.Fatalf("%d deliveries never acknowledged", failures.Load())
	}
	killOnce.Do(replicas[2].kill)

	st, err := gorm.Open(postgres.Open(dbURL), &gorm.Config{}) // a look at the rows, as an operator would
	if err != nil {
		t.Fatal(err)
	}
	var stored []string
	st.Table("receipts").Pluck("id", &stored)
	if len(stored) != 100 || len(acked) != 100 {
		t.Fatalf("%d receipts stored, %d acknowledged, want 100", len(stored), len(acked))
	}
	for _, id := range stored {
		delete(acked, id)
	}
	if len(acked) > 0 {
		t.Fatalf("acknowledged but not stored: %v", acked)
	}

	// Subscription states as the same events give in order, on one in-process server.
	inOrder := newEnv(t, backends()[0])
	for _, u := range users[:3] {
		for _, ev := range lifecycle("sub-"+u, u) {
			inOrder.sendEvent(ev)
		}
		var got storage.Subscription
		st.Where("subscription_id = ?", "sub-"+u).Take(&got)
		got.UpdatedAt = time.Time{}
		if want := stateOf(inOrder.subscription("sub-" + u)); stateOf(got) != want {
			t.Fatalf("subscription of %s: %s, want %s", u, stateOf(got), want)
		}
	}

	// Every stored delivery forwarded (the killed replica's jobs rescued by the others).
	var inbox []int64
	st.Model(&storage.InboxEntry{}).Order("id").Pluck("id", &inbox)
	got := dest.waitDelivered(len(inbox), 120*time.Second)
	ids := make([]string, len(got))
	for i, m := range got {
		ids[i] = m.ID
	}
	slices.Sort(ids)
	for _, id := range inbox {
		if _, found := slices.BinarySearch(ids, forward.MessageID(id)); !found {
			t.Fatalf("inbox row %d never forwarded", id)
		}
	}
	nextSeq := map[string]int64{}
	for _, m := range got {
		u := *m.UserID
		if nextSeq[u]++; m.Seq != nextSeq[u] {
			t.Fatalf("user %s: seq %d arrived when %d was due", u, m.Seq, nextSeq[u])
		}
	}
	dest.mu.Lock()
	defer dest.mu.Unlock()
	if len(dest.overlapping) > 0 {
		t.Fatalf("messages sent while another of the same user was in flight: %v", dest.overlapping)
	}
	t.Logf("%d requests, %d inbox rows, %d forwarded (%d duplicate sends after the kill)", len(jobs), len(inbox), len(got), dest.duplicates)
}
