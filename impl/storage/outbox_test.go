package storage_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evotor-partner/evotor-partner/impl/forward"
	"github.com/evotor-partner/evotor-partner/impl/storage"
	"github.com/evotor-partner/evotor-partner/impl/storage/storagetest"
)

// TestMessagesAreNumberedInCommitOrder: several writers per user deliver one after another
// (each waits for its Accept before the next), to two destinations, while two forwarding
// services (replicas) number messages as they commit (on PostgreSQL; SQLite numbers them in
// the delivery). Then each user's deliveries are numbered 1..n, once each, a delivery's
// messages sharing its number; what a writer delivered later has a higher number; and each
// user and destination has one send job, owning its first message (nothing was sent, so the
// head is still the first) and the messages numbered with it, a run from the first.
func TestMessagesAreNumberedInCommitOrder(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, b storagetest.Backend) {
		opened := b.Open(t)
		st := opened.Store
		destinations := []string{"http://127.0.0.1:1/a", "http://127.0.0.1:1/b"}
		replicas := []*forward.Service{forwarding(t, st, destinations...), forwarding(t, st, destinations...)}
		users := []string{"u1", "u2", "u3"}
		const writersPerUser, perWriter = 3, 12
		stop := make(chan struct{})
		var sequencers sync.WaitGroup
		for _, svc := range replicas { // number while the deliveries commit
			sequencers.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if err := svc.Sequence(ctx); err != nil {
						t.Error(err)
						return
					}
					time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond)
				}
			})
		}
		written := map[string][]string{} // writer → its receipts, in the order it delivered them
		var mu sync.Mutex
		var writers sync.WaitGroup
		for _, u := range users {
			for w := range writersPerUser {
				writer := fmt.Sprintf("%s-w%d", u, w)
				writers.Go(func() {
					for i := range perWriter {
						receipt := fmt.Sprintf("%s-%d", writer, i)
						entry, apply := receiptDelivery(u, receipt, "s-"+u)
						entry.ForwardTo = replicas[i%2].Outbox()
						if err := st.Accept(ctx, entry, apply); err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						written[writer] = append(written[writer], receipt)
						mu.Unlock()
					}
				})
			}
		}
		writers.Wait()
		close(stop)
		sequencers.Wait()
		if err := replicas[0].Sequence(ctx); err != nil {
			t.Fatal(err)
		}

		var rows []struct {
			Destination  string
			EvotorUserID string
			Seq          *int64
			JobID        *int64
			Body         []byte
		}
		err := opened.DB.Raw(`SELECT m.destination, m.evotor_user_id, m.seq, m.job_id, i.body
			FROM forward_messages m JOIN inbox i ON i.id = m.inbox_id`).Scan(&rows).Error
		if err != nil {
			t.Fatal(err)
		}
		if want := len(users) * writersPerUser * perWriter * len(destinations); len(rows) != want {
			t.Fatalf("%d messages, want %d", len(rows), want)
		}
		seqOf := map[string]int64{}           // receipt → its number
		seen := map[string]map[int64]string{} // destination/user → number → receipt
		jobs := map[string]map[int64]int64{}  // destination/user → number → its job
		for _, r := range rows {
			body, err := storage.InboxBodyOf(r.Body)
			var receipt struct{ ID string }
			if err != nil || json.Unmarshal(body, &receipt) != nil {
				t.Fatalf("inbox body %q: %v", body, err)
			}
			if r.Seq == nil {
				t.Fatalf("receipt %s to %s: not numbered", receipt.ID, r.Destination)
			}
			if s, ok := seqOf[receipt.ID]; ok && s != *r.Seq {
				t.Errorf("receipt %s: numbered %d and %d for its two destinations", receipt.ID, s, *r.Seq)
			}
			seqOf[receipt.ID] = *r.Seq
			q := r.Destination + " " + r.EvotorUserID
			if seen[q] == nil {
				seen[q] = map[int64]string{}
			}
			if other, dup := seen[q][*r.Seq]; dup {
				t.Errorf("%s: %s and %s both numbered %d", q, other, receipt.ID, *r.Seq)
			}
			seen[q][*r.Seq] = receipt.ID
			if r.JobID != nil {
				if jobs[q] == nil {
					jobs[q] = map[int64]int64{}
				}
				jobs[q][*r.Seq] = *r.JobID
			}
		}
		for q, numbers := range seen {
			for n := int64(1); n <= writersPerUser*perWriter; n++ {
				if _, ok := numbers[n]; !ok {
					t.Errorf("%s: no message numbered %d (numbers are 1..%d without a gap)", q, n, writersPerUser*perWriter)
				}
			}
			head, ok := jobs[q][1]
			for n := int64(1); n <= int64(len(jobs[q])); n++ {
				if job, has := jobs[q][n]; !ok || !has || job != head {
					t.Errorf("%s: jobs %v (number → job), want one job, on a run of messages from the first", q, jobs[q])
					break
				}
			}
		}
		for writer, receipts := range written {
			for i := 1; i < len(receipts); i++ {
				if seqOf[receipts[i]] <= seqOf[receipts[i-1]] {
					t.Errorf("%s delivered %s after %s, numbered %d after %d", writer, receipts[i], receipts[i-1],
						seqOf[receipts[i]], seqOf[receipts[i-1]])
				}
			}
		}
	})
}

// TestFinishAttemptsRecordsWhatTheJobOwns: a job's run of attempts is written on the messages
// the job still owns, and only on them (one taken over by another job meanwhile keeps its
// state; the job then hands nothing over); a successful run claims the user's next queued
// messages, returned head first; a failure that is not final leaves the message pending with
// the job, its status and error written; the counters count what was written.
func TestFinishAttemptsRecordsWhatTheJobOwns(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, b storagetest.Backend) {
		opened := b.Open(t)
		st := opened.Store
		svc := forwarding(t, st, "http://127.0.0.1:1/a")
		deliver := func(receipts ...string) {
			for _, r := range receipts {
				entry, apply := receiptDelivery("u1", r, "s-1")
				entry.ForwardTo = svc.Outbox()
				if err := st.Accept(ctx, entry, apply); err != nil {
					t.Fatal(err)
				}
			}
			if err := svc.Sequence(ctx); err != nil {
				t.Fatal(err)
			}
		}
		messages := func() []storage.ForwardMessage {
			var all []storage.ForwardMessage
			if err := opened.DB.Order("seq").Find(&all).Error; err != nil {
				t.Fatal(err)
			}
			return all
		}
		setJob := func(job int64, ms ...storage.ForwardMessage) {
			for _, m := range ms {
				if err := opened.DB.Model(&storage.ForwardMessage{}).Where("id = ?", m.ID).Update("job_id", job).Error; err != nil {
					t.Fatal(err)
				}
			}
		}
		ok := func(m storage.ForwardMessage) storage.Sent {
			return storage.Sent{ID: m.ID, Attempt: storage.Attempt{At: time.Now().UTC(), Status: 200}}
		}
		const job, thief = 1_000_001, 1_000_002

		// One of the run taken over meanwhile: the others are written, nothing is claimed.
		deliver("r1", "r2", "r3")
		m := messages()
		setJob(job, m...)
		setJob(thief, m[1])
		next, owned, err := st.FinishAttempts(ctx, job, m[0], []storage.Sent{ok(m[0]), ok(m[1]), ok(m[2])}, 32, nil)
		if err != nil || owned || len(next) != 0 {
			t.Fatalf("FinishAttempts with one message taken over: next %v, owned %v, %v; want none, false", next, owned, err)
		}
		after := messages()
		for i, want := range []struct {
			state    string
			attempts int64
		}{{storage.ForwardDelivered, 1}, {storage.ForwardPending, 0}, {storage.ForwardDelivered, 1}} {
			if after[i].State != want.state || after[i].Attempts != want.attempts {
				t.Errorf("message %d: %s after %d attempts, want %s after %d", i+1, after[i].State, after[i].Attempts, want.state, want.attempts)
			}
		}
		if after[0].DeliveredAt == nil || after[0].LastStatus == nil || *after[0].LastStatus != 200 || after[0].LastError != nil {
			t.Errorf("delivered message: delivered at %v, status %v, error %v", after[0].DeliveredAt, after[0].LastStatus, after[0].LastError)
		}
		stats, err := st.ForwardingStats(ctx)
		if err != nil || len(stats) != 1 || stats[0].Delivered != 2 {
			t.Fatalf("stats %+v, %v: want 2 delivered", stats, err)
		}

		// A whole run written: the user's next messages are claimed, the head first.
		deliver("r4", "r5")
		m = messages()
		setJob(job, m[1])
		next, owned, err = st.FinishAttempts(ctx, job, m[1], []storage.Sent{ok(m[1])}, 32, nil)
		if err != nil || !owned || len(next) != 2 || next[0].ID != m[3].ID || next[1].ID != m[4].ID {
			t.Fatalf("FinishAttempts claiming: next %+v, owned %v, %v; want messages 4 and 5", next, owned, err)
		}
		run, head, err := st.OwnedBy(ctx, job)
		if err != nil || len(run) != 2 || head != m[3].ID || run[0].ID != m[3].ID {
			t.Fatalf("OwnedBy after the claim: %+v, head %d, %v; want messages 4 and 5, head 4", run, head, err)
		}

		// A failure that is not final: pending, still the job's, its status and error written.
		failed := storage.Sent{ID: m[3].ID, Attempt: storage.Attempt{At: time.Now().UTC(), Status: 503, Err: "HTTP 503"}}
		next, owned, err = st.FinishAttempts(ctx, job, m[3], []storage.Sent{failed}, 32, nil)
		if err != nil || !owned || len(next) != 0 {
			t.Fatalf("FinishAttempts after a failure: next %v, owned %v, %v", next, owned, err)
		}
		m4 := messages()[3]
		if m4.State != storage.ForwardPending || m4.JobID == nil || *m4.JobID != job || m4.Attempts != 1 ||
			m4.LastStatus == nil || *m4.LastStatus != 503 || m4.LastError == nil || *m4.LastError != "HTTP 503" || m4.DeliveredAt != nil {
			t.Errorf("failed message: %+v", m4)
		}
		if stats, err = st.ForwardingStats(ctx); err != nil || stats[0].Delivered != 3 || stats[0].FailedAttempts != 1 || stats[0].Pending != 2 {
			t.Fatalf("stats %+v, %v: want 3 delivered, 1 failed attempt, 2 pending", stats, err)
		}
	})
}

// TestOnlyBookkeepingCommitsWithoutWaitingForTheDisk: forwarding's records commit without
// waiting for the disk (PostgreSQL: the WAL's flush; SQLite: the WAL's fsync); every other
// transaction (a delivery's) waits for it, also after a bookkeeping transaction that failed
// with its context canceled (SQLite's one connection is set back).
func TestOnlyBookkeepingCommitsWithoutWaitingForTheDisk(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, b storagetest.Backend) {
		st := b.Open(t).Store
		for _, c := range []struct {
			bookkeeping, fail bool
			want              string
		}{{true, false, "off"}, {false, false, "on"}, {true, true, "off"}, {false, false, "on"}, {true, false, "off"}, {false, false, "on"}} {
			got, err := st.SynchronousCommit(ctx, c.bookkeeping, c.fail)
			if err != nil || got != c.want {
				t.Errorf("bookkeeping %v (failing %v): commits %q, %v; want %q", c.bookkeeping, c.fail, got, err, c.want)
			}
		}
		if !st.OnPostgres() {
			if got, err := st.Pragma("synchronous"); err != nil || got != "2" {
				t.Errorf("after bookkeeping: synchronous %q, %v; want 2 (FULL)", got, err)
			}
		}
	})
}

// Forwarding's bookkeeping runs statements taking arrays (attempts, claims, jobs): PostgreSQL
// plans them once per connection there. Elsewhere it plans a statement's first five runs for
// their values, then chooses by cost, and for forwarding's it chose a new plan at nearly every
// run (a soak: 7,624 plans in 8,339 runs).
func TestBookkeepingPlansItsStatementsOnce(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, b storagetest.Backend) {
		st := b.Open(t).Store
		if !st.OnPostgres() {
			t.Skip("PostgreSQL's plan cache")
		}
		const runs = 12
		custom, generic, err := st.PlansOfArrayStatement(ctx, true, runs)
		if err != nil || custom != 0 || generic != runs {
			t.Errorf("bookkeeping: %d custom plans and %d generic of %d runs, %v; want every run generic", custom, generic, runs, err)
		}
		// Elsewhere PostgreSQL decides (its first runs at least): the test tells the two apart.
		custom, generic, err = st.PlansOfArrayStatement(ctx, false, runs)
		if err != nil || custom == 0 {
			t.Errorf("a plain transaction: %d custom plans and %d generic of %d runs, %v; want PostgreSQL's own choice (custom plans)", custom, generic, runs, err)
		}
	})
}

// A run's messages are loaded together when their deliveries are small; a large one (a
// catalogue: it may be 10 MB), whether stored compressed or as received, is left to be loaded
// alone, and loads whole.
func TestSmallDeliveriesOfARunLoadTogether(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, b storagetest.Backend) {
		opened := b.Open(t)
		st := opened.Store
		svc := forwarding(t, st, "http://127.0.0.1:1/a")
		random := make([]byte, 150<<10) // incompressible: stored as large as received
		for i := range random {
			random[i] = 'a' + byte(rand.IntN(26))
		}
		bodies := map[string][]byte{}
		for i, filler := range []string{"", strings.Repeat("0", 200<<10), string(random), "x"} {
			id := fmt.Sprintf("r%d", i)
			entry, apply := receiptDelivery("u1", id, "s-1")
			entry.Operation = "createProducts" // not receipts: a large body is stored compressed if it can be
			entry.Body = fmt.Appendf(nil, `{"id":%q,"filler":%q}`, id, filler)
			entry.ForwardTo = svc.Outbox()
			if err := st.Accept(ctx, entry, apply); err != nil {
				t.Fatal(err)
			}
			bodies[id] = entry.Body
		}
		var all []storage.ForwardMessage
		if err := opened.DB.Order("id").Find(&all).Error; err != nil {
			t.Fatal(err)
		}
		ids := []int64{-1} // gone
		for _, m := range all {
			ids = append(ids, m.ID)
		}
		small, err := st.SmallOutgoing(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range all {
			whole, found, err := st.OutgoingByID(ctx, m.ID)
			if err != nil || !found {
				t.Fatalf("message %d: found %v, %v", m.ID, found, err)
			}
			var receipt struct{ ID string }
			if err := json.Unmarshal(whole.Body, &receipt); err != nil || !bytes.Equal(whole.Body, bodies[receipt.ID]) {
				t.Fatalf("message %d alone: %.40q…, not a body delivered (%v)", m.ID, whole.Body, err)
			}
			got, loaded := small[m.ID]
			if wantLoaded := len(whole.Body) < 1000; loaded != wantLoaded {
				t.Errorf("%s (%d bytes): loaded with the small ones %v, want %v", receipt.ID, len(whole.Body), loaded, wantLoaded)
			}
			if loaded && (!bytes.Equal(got.Body, whole.Body) || got.ID != m.ID || got.Operation != whole.Operation) {
				t.Errorf("%s: loaded with the others as %d %q %.40q…, alone as %d %q %.40q…", receipt.ID,
					got.ID, got.Operation, got.Body, whole.ID, whole.Operation, whole.Body)
			}
		}
		if len(small) != 2 {
			t.Errorf("%d loaded of %d messages, want the two small ones", len(small), len(all))
		}
	})
}

// forwarding is a forwarding service of st to destinations that are never called (the tests
// drive numbering and finishing themselves).
func forwarding(t *testing.T, st *storage.Store, urls ...string) *forward.Service {
	t.Helper()
	cfg := forward.Config{}
	for _, u := range urls {
		cfg.Destinations = append(cfg.Destinations, forward.Destination{URL: u})
	}
	svc, err := forward.New(ctx, st, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}
