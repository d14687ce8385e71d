package tests

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/evotor-partner/evotor-partner/impl/storage"
)

// TestRetentionPrunesDeliveredHistoryOnly: a month and more after the fact, pruning (in
// batches of two) deletes the delivered forwarding messages and the inbox rows nothing needs,
// and keeps pending and dead messages with their inbox rows, a message delivered late, recent
// rows, the inbox rows receipts are spans of (PostgreSQL's receipts path), and every domain
// table: receipts, products and subscriptions read back through the admin API as sent.
func TestRetentionPrunesDeliveredHistoryOnly(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		e := newEnv(t, b, withAdmin)
		const user = "01-000000000000001"
		token := bearer(e.createUser(user))
		receipts := [][]byte{
			receipt("b5c9e8a2-3d1f-4a6e-9b7c-2f0e1d3c0001", storeUUID, 2),
			receipt("b5c9e8a2-3d1f-4a6e-9b7c-2f0e1d3c0002", storeUUID, 1),
		}
		for _, body := range receipts {
			if status, resp := e.send(opByID(t, "postReceipts"), body, token); status != 200 {
				t.Fatalf("receipt: %d %s", status, resp)
			}
		}
		if status, resp := e.send(opByID(t, "createProducts"), catalogue(2_000), token); status != 200 {
			t.Fatalf("products: %d %s", status, resp)
		}
		for seq := 1; seq <= 8; seq++ {
			e.sendEvent(subscriptionEvent("sub-retention", user, seq, "SubscriptionTermsChanged", fmt.Sprintf(`,"deviceNumber":%d`, seq)))
		}
		var old []int64 // every inbox row so far, made 40 days old
		if err := e.db.Model(&storage.InboxEntry{}).Order("id").Pluck("id", &old).Error; err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		monthsAgo := now.Add(-40 * 24 * time.Hour)
		if err := e.db.Model(&storage.InboxEntry{}).Where("id IN ?", old).Update("received_at", monthsAgo).Error; err != nil {
			t.Fatal(err)
		}
		e.sendEvent(subscriptionEvent("sub-retention", user, 9, "SubscriptionTermsChanged", `,"deviceNumber":9`)) // recent

		// The subscription events' rows were forwarded to two destinations, long ago.
		events := old[len(old)-8:]
		const a, z = "https://a.partner.example/hook", "https://z.partner.example/hook"
		delivered := func(at time.Time) (string, *time.Time) { return storage.ForwardDelivered, &at }
		var msgs []storage.ForwardMessage
		add := func(dest string, inbox int64, state string, deliveredAt *time.Time) {
			msgs = append(msgs, storage.ForwardMessage{Destination: dest, EvotorUserID: user, Seq: int64(len(msgs) + 1),
				InboxID: inbox, State: state, Attempts: 1, CreatedAt: monthsAgo, DeliveredAt: deliveredAt})
		}
		for i, id := range events {
			switch i {
			case 0: // pending for a month (retried since)
				add(a, id, storage.ForwardPending, nil)
			case 1: // given up on: kept until re-sent
				add(a, id, storage.ForwardDead, nil)
			case 2: // re-sent by the admin API and delivered today: kept until it is old
				st, at := delivered(now)
				add(a, id, st, at)
			case 3: // delivered to one destination, dead at the other
				st, at := delivered(monthsAgo)
				add(a, id, st, at)
				add(z, id, storage.ForwardDead, nil)
			default: // delivered everywhere, long ago
				st, at := delivered(monthsAgo)
				add(a, id, st, at)
				add(z, id, st, at)
			}
		}
		if err := e.db.Create(&msgs).Error; err != nil {
			t.Fatal(err)
		}
		var spans []int64 // inbox rows receipts keep their JSON in
		e.db.Model(&storage.ReceiptRow{}).Where("inbox_id IS NOT NULL").Pluck("inbox_id", &spans)
		if b.Name == "postgres" && len(spans) != len(receipts) {
			t.Fatalf("receipts kept as spans of %v, want each of the %d", spans, len(receipts))
		}

		pruned, err := e.store.Prune(ctx, now.Add(-30*24*time.Hour), 2)
		if err != nil {
			t.Fatal(err)
		}
		// Kept: the inbox rows of messages pending, dead or delivered late, the receipts' spans
		// and the recent event; the other old rows go, and the delivered messages with them.
		keptInbox := append([]int64{events[0], events[1], events[2], events[3]}, spans...)
		var inboxLeft []int64
		e.db.Model(&storage.InboxEntry{}).Where("id IN ?", old).Order("id").Pluck("id", &inboxLeft)
		slices.Sort(keptInbox)
		if !slices.Equal(inboxLeft, keptInbox) {
			t.Fatalf("old inbox rows left %v, want %v", inboxLeft, keptInbox)
		}
		if n := e.inboxCount(); n != int64(len(keptInbox)+1) {
			t.Fatalf("%d inbox rows, want %d kept and the recent one", n, len(keptInbox)+1)
		}
		var left []storage.ForwardMessage
		e.db.Order("id").Find(&left)
		var states []string
		for _, m := range left {
			states = append(states, m.Destination[8:9]+":"+m.State)
		}
		if want := []string{"a:pending", "a:dead", "a:delivered", "z:dead"}; !slices.Equal(states, want) {
			t.Fatalf("messages left %v, want %v", states, want)
		}
		if want := (storage.Pruned{ForwardMessages: int64(len(msgs) - 4), Inbox: int64(len(old) - len(keptInbox))}); pruned != want {
			t.Fatalf("pruned %+v, want %+v", pruned, want)
		}

		// What the domain tables hold reads back as sent.
		stored := e.adminAll("receipts", user, "")
		if len(stored) != len(receipts) {
			t.Fatalf("%d receipts read back, want %d", len(stored), len(receipts))
		}
		for i, body := range receipts {
			if !reflect.DeepEqual(stored[i], decodeNumbers(t, body)) {
				t.Fatalf("receipt %d read back as %v", i, stored[i])
			}
		}
		if products := e.adminAll("products", user, storeUUID); len(products) == 0 {
			t.Fatal("no products read back")
		}
		if sub := e.subscription("sub-retention"); sub.DeviceNumber == nil || *sub.DeviceNumber != 9 {
			t.Fatalf("subscription: %+v", sub)
		}
		if listed := e.adminAll("events", user, ""); len(listed) != len(keptInbox)+1 {
			t.Fatalf("%d events listed, want the %d kept", len(listed), len(keptInbox)+1)
		}

		// Nothing more to do: a second run deletes nothing.
		if again, err := e.store.Prune(ctx, now.Add(-30*24*time.Hour), 2); err != nil || again.Any() {
			t.Fatalf("second run: %+v, %v", again, err)
		}
		// The pending message is delivered at last (long ago, as far as retention is concerned):
		// the next run deletes it and its inbox row, though the inbox walk went past that row.
		err = e.db.Model(&storage.ForwardMessage{}).Where("inbox_id = ?", events[0]).
			Updates(map[string]any{"state": storage.ForwardDelivered, "delivered_at": monthsAgo}).Error
		if err != nil {
			t.Fatal(err)
		}
		if again, err := e.store.Prune(ctx, now.Add(-30*24*time.Hour), 2); err != nil || again != (storage.Pruned{ForwardMessages: 1, Inbox: 1}) {
			t.Fatalf("after the pending message was delivered: %+v, %v", again, err)
		}
	})
}

// TestRetentionWalksInBatches: a thousand old deliveries pruned 100 at a time, with recent
// ones after them, leave exactly the recent ones.
func TestRetentionWalksInBatches(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		old := time.Now().UTC().Add(-48 * time.Hour)
		rows := make([]storage.InboxEntry, 1000)
		for i := range rows {
			rows[i] = storage.InboxEntry{Operation: "subscriptionEvent", PathParams: "{}", ReceivedAt: old, Body: []byte(`{}`)}
		}
		if err := e.db.CreateInBatches(&rows, 200).Error; err != nil {
			t.Fatal(err)
		}
		var msgs []storage.ForwardMessage
		for i, r := range rows[:450] {
			msgs = append(msgs, storage.ForwardMessage{Destination: "https://partner.example/", EvotorUserID: "u", Seq: int64(i + 1),
				InboxID: r.ID, State: storage.ForwardDelivered, CreatedAt: old, DeliveredAt: &old})
		}
		if err := e.db.CreateInBatches(&msgs, 200).Error; err != nil {
			t.Fatal(err)
		}
		e.sendEvent(subscriptionEvent("sub-batches", "01-000000000000001", 1, "SubscriptionCreated", ""))
		e.sendEvent(subscriptionEvent("sub-batches", "01-000000000000001", 2, "SubscriptionActivated", ""))
		pruned, err := e.store.Prune(context.Background(), time.Now().Add(-24*time.Hour), 100)
		if err != nil || pruned != (storage.Pruned{ForwardMessages: 450, Inbox: 1000}) {
			t.Fatalf("pruned %+v, %v", pruned, err)
		}
		if n := e.inboxCount(); n != 2 {
			t.Fatalf("%d inbox rows left, want the 2 recent", n)
		}
	})
}
