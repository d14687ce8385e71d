package tests

import (
	"testing"
	"time"

	"github.com/evotor-partner/evotor-partner/impl/metrics"
	"github.com/evotor-partner/evotor-partner/impl/storage"
)

// TestMetricsShowTablesAndTheForwardingBacklog: a scrape reports each table's estimated size,
// each destination's pending messages by their last HTTP status, its dead messages and its
// oldest pending one (from the database), and the attempts counted as they happened; the
// census is read once a minute, not at every scrape.
func TestMetricsShowTablesAndTheForwardingBacklog(t *testing.T) {
	t.Parallel() // PostgreSQL's statistics take up to ten seconds to show writes
	eachBackend(t, func(t *testing.T, b backend) {
		var m *metrics.Metrics
		e := newEnv(t, b, withMetrics(t, &m))
		const user = "01-000000000000001"
		e.createUser(user)
		for seq := 1; seq <= 6; seq++ {
			e.sendEvent(subscriptionEvent("sub-metrics", user, seq, "SubscriptionTermsChanged", ""))
		}
		var inbox []int64
		e.db.Model(&storage.InboxEntry{}).Order("id").Pluck("id", &inbox)
		const dest, quiet = "https://partner.example/hook", "https://quiet.partner.example/hook"
		received := time.Now().UTC().Add(-time.Hour)
		status := func(s int64) *int64 { return &s }
		msgs := []storage.ForwardMessage{
			{Destination: dest, InboxID: inbox[0], State: storage.ForwardDelivered, Attempts: 1, LastStatus: status(200)},
			{Destination: dest, InboxID: inbox[1], State: storage.ForwardPending, Attempts: 3, LastStatus: status(503), CreatedAt: received},
			{Destination: dest, InboxID: inbox[2], State: storage.ForwardPending, Attempts: 1},                       // no answer
			{Destination: dest, InboxID: inbox[3], State: storage.ForwardPending},                                    // not tried yet
			{Destination: dest, InboxID: inbox[4], State: storage.ForwardDead, Attempts: 9, LastStatus: status(404)}, // given up on
			{Destination: quiet, InboxID: inbox[0], State: storage.ForwardDelivered, Attempts: 1, LastStatus: status(204)},
		}
		for i := range msgs {
			msgs[i].EvotorUserID, msgs[i].Seq = user, int64(i+1)
			if msgs[i].CreatedAt.IsZero() {
				msgs[i].CreatedAt = time.Now().UTC()
			}
		}
		if err := e.db.Create(&msgs).Error; err != nil {
			t.Fatal(err)
		}
		m.ForwardAttempt(dest, 200)
		m.ForwardAttempt(dest, 503)
		m.ForwardAttempt(dest, 503)
		m.ForwardAttempt(dest, 0)
		m.ForwardAttempt(quiet, 204)

		got := scrape(t, m)
		expectValues(t, "forward_pending", values(t, got, "evotor_partner_forward_pending", "destination"), map[string]float64{dest: 3, quiet: 0})
		expectValues(t, "forward_pending_by_last_status", values(t, got, "evotor_partner_forward_pending_by_last_status", "destination", "last_status"),
			map[string]float64{dest + "/503": 1, dest + "/none": 1, dest + "/untried": 1})
		expectValues(t, "forward_dead", values(t, got, "evotor_partner_forward_dead", "destination"), map[string]float64{dest: 1, quiet: 0})
		age := values(t, got, "evotor_partner_forward_oldest_pending_age_seconds", "destination")
		if age[dest] < 3500 || age[dest] > 3700 || age[quiet] != 0 {
			t.Errorf("oldest_pending_age_seconds: %v, want an hour for %s and 0 for %s", age, dest, quiet)
		}
		expectValues(t, "forward_delivered_total", values(t, got, "evotor_partner_forward_delivered_total", "destination"), map[string]float64{dest: 1, quiet: 1})
		expectValues(t, "forward_failed_attempts_total", values(t, got, "evotor_partner_forward_failed_attempts_total", "destination", "status"),
			map[string]float64{dest + "/503": 2, dest + "/none": 1})

		// Table sizes: exact here on SQLite (nothing was deleted); PostgreSQL's statistics
		// catch up within a second or two of the writes.
		want := map[string]float64{"inbox": 6, "forward_messages": float64(len(msgs)), "user_tokens": 1, "subscriptions": 1, "receipts": 0}
		sizes := func() map[string]float64 {
			return values(t, scrape(t, m), "evotor_partner_table_rows_estimate", "table")
		}
		waitFor(t, 15*time.Second, func() bool {
			got := sizes()
			for table, n := range want {
				if got[table] != n {
					return false
				}
			}
			return true
		})
		got = scrape(t, m)
		for _, table := range []string{"inbox", "forward_messages", "receipts", "receipt_items", "products", "documents", "user_tokens", "subscription_events"} {
			if _, ok := values(t, got, "evotor_partner_table_rows_estimate", "table")[table]; !ok {
				t.Errorf("no size for %s", table)
			}
		}

		// The census was read at the first scrape: a token issued since shows within a minute,
		// not at once.
		e.createUser("01-000000000000002")
		expectValues(t, "user_tokens_issued_total", values(t, scrape(t, m), "evotor_partner_user_tokens_issued_total"), map[string]float64{"": 1})
	})
}
