package tests

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/evotor-partner/evotor-partner/impl/forward"
)

// TestForwardingSurvivesKill9: deliveries acknowledged while the destination is down are
// enqueued; the server is killed with SIGKILL before any is delivered; once the destination
// (`evotor-cloud receive`) is up and the server restarted, every one arrives, in order.
func TestForwardingSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes")
	}
	for name, database := range processDatabases() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dbURL, dataDir := database(t), t.TempDir()
			receiverAddr := freeAddr(t) // nobody listens there yet: the destination is down
			env := partnerEnv(freeAddr(t), dbURL, dataDir, "http://"+receiverAddr+"/hook")
			server := startPartner(t, env)

			users := []string{"01-000000000000501", "01-000000000000502"}
			const perUser = 5
			for i := 1; i <= perUser; i++ {
				for _, u := range users {
					body := subscriptionEvent("sub-"+u, u, i, "SubscriptionTermsChanged", fmt.Sprintf(`,"deviceNumber":%d`, i))
					if status := post(server.addr, "/api/v1/subscription/event", bearer(appToken), body); status != 200 {
						t.Fatalf("event: %d", status)
					}
				}
			}
			time.Sleep(300 * time.Millisecond) // a first attempt or two fail against the closed port
			server.kill()

			_, cloudBin := binaries(t)
			receiver := startProc(t, cloudBin, nil, "receive", "--listen", receiverAddr, "--secret", forwardSecret)
			startPartner(t, env)

			want := perUser * len(users)
			deadline := time.Now().Add(90 * time.Second)
			var got []forward.Message
			for len(got) < want {
				if time.Now().After(deadline) {
					t.Fatalf("%d of %d messages received after the restart", len(got), want)
				}
				time.Sleep(100 * time.Millisecond)
				got = got[:0]
				for _, line := range strings.Split(receiver.out.String(), "\n") {
					var m forward.Message
					if strings.HasPrefix(line, "{") && json.Unmarshal([]byte(line), &m) == nil {
						got = append(got, m)
					}
				}
			}
			checkInOrder(t, got, users, perUser)
		})
	}
}
