package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evotor-partner/evotor-partner/impl/storage"
)

// TestAcknowledgedReceiptsSurviveKill9: 32 connections post new receipts (on PostgreSQL they
// share group commits); the server is killed with SIGKILL in the middle. After a restart every
// acknowledged receipt is stored with its inbox row, nothing is stored twice, and each
// acknowledged receipt sent again is a redelivery.
func TestAcknowledgedReceiptsSurviveKill9(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs real processes")
	}
	for name, database := range processDatabases() {
		t.Run(name, func(t *testing.T) {
			dbURL, dataDir := database(t), t.TempDir()
			env := partnerEnv(freeAddr(t), dbURL, dataDir, "")
			server := startPartner(t, env)
			user := "01-000000000000901"
			status, body := postRead(server.addr, "/api/v1/user/create", bearer(appToken), []byte(`{"userId":"`+user+`"}`))
			var created struct{ Token string }
			if status != 200 || json.Unmarshal(body, &created) != nil {
				t.Fatalf("user/create: %d %s", status, body)
			}
			receiptOf := func(n int64) (string, []byte) {
				id := fmt.Sprintf("dead0000-0000-4000-8000-%012d", n)
				return id, receipt(id, "20170928-3176-40EB-80E2-A11F032E282A", 2)
			}

			var next atomic.Int64
			var acked sync.Map
			var ackCount atomic.Int64
			var wg sync.WaitGroup
			for range 32 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						id, body := receiptOf(next.Add(1))
						switch post(server.addr, "/api/v2/receipts", bearer(created.Token), body) {
						case 200:
							acked.Store(id, body)
							ackCount.Add(1)
						case 0:
							return // the server is gone
						default:
							t.Errorf("receipt %s refused", id)
							return
						}
					}
				}()
			}
			for ackCount.Load() < 200 {
				time.Sleep(5 * time.Millisecond)
			}
			server.kill()
			wg.Wait()

			server = startPartner(t, env)
			resent := 0
			acked.Range(func(_, body any) bool {
				if resent < 50 {
					resent++
					if status := post(server.addr, "/api/v2/receipts", bearer(created.Token), body.([]byte)); status != 200 {
						t.Errorf("re-sent receipt: %d", status)
					}
				}
				return true
			})
			st, err := storage.Open(context.Background(), dbURL, dataDir)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			stored, _, err := st.List(context.Background(), storage.ReceiptsOf(user), "", 1_000_000)
			if err != nil {
				t.Fatal(err)
			}
			inbox, _, err := st.InboxOf(context.Background(), user, 0, 1_000_000)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for _, r := range stored {
				seen[r.Key] = true
			}
			missing := 0
			acked.Range(func(id, _ any) bool {
				if !seen[id.(string)] {
					missing++
				}
				return true
			})
			if missing > 0 || len(seen) != len(stored) || len(inbox) != len(stored) {
				t.Fatalf("%d acknowledged, %d of them missing; %d receipts stored (%d distinct), %d inbox rows",
					ackCount.Load(), missing, len(stored), len(seen), len(inbox))
			}
			t.Logf("%d acknowledged before SIGKILL, %d stored (some answered by the commit the kill cut off)", ackCount.Load(), len(stored))
		})
	}
}
