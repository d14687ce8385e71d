package storage_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
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
		cfg := forward.Config{Destinations: []forward.Destination{{URL: "http://127.0.0.1:1/a"}, {URL: "http://127.0.0.1:1/b"}}}
		var replicas []*forward.Service
		for range 2 {
			svc, err := forward.New(ctx, st, cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			replicas = append(replicas, svc)
		}
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
		if want := len(users) * writersPerUser * perWriter * len(cfg.Destinations); len(rows) != want {
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
