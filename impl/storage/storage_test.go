package storage_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/evotor-partner/evotor-partner/impl/apperr"
	"github.com/evotor-partner/evotor-partner/impl/billing"
	"github.com/evotor-partner/evotor-partner/impl/installation"
	"github.com/evotor-partner/evotor-partner/impl/storage"
	"github.com/evotor-partner/evotor-partner/impl/storage/storagetest"
)

// The storage layer on its own, on SQLite and (with TEST_DATABASE_URL) PostgreSQL: what a
// delivery writes, what a redelivery does not, who owns what, and events arriving late.

var ctx = context.Background()

func inbox(t *testing.T, st *storage.Store, user string) []storage.InboxListed {
	t.Helper()
	entries, _, err := st.InboxOf(ctx, user, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

func receiptDelivery(owner, receiptID, storeID string) (storage.InboxEntry, func(tx *storage.Tx) error) {
	body := fmt.Appendf(nil, `{"id":%q,"data":{"id":"d","storeId":%q,"type":"SELL"}}`, receiptID, storeID)
	entry := storage.InboxEntry{Operation: "postReceipts", EvotorUserID: &owner, PathParams: "{}", Body: body}
	return entry, func(tx *storage.Tx) error {
		if err := tx.ClaimStores(owner, storeID); err != nil {
			return err
		}
		return tx.InsertReceipts([]storage.ReceiptRow{{OwnerID: owner, ID: receiptID, ReceiptUUID: "d", StoreUUID: storeID, Type: "SELL", Raw: body}})
	}
}

// TestAcceptStoresOnceAndRedeliveryWritesNothing: a delivery writes its rows and one inbox
// row together; the same receipt again adds no inbox row.
func TestAcceptStoresOnceAndRedeliveryWritesNothing(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, b storagetest.Backend) {
		st := b.Open(t).Store
		entry, apply := receiptDelivery("u1", "r-1", "s-1")
		for range 3 {
			if err := st.Accept(ctx, entry, apply); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(inbox(t, st, "u1")); n != 1 {
			t.Fatalf("%d inbox rows, want 1", n)
		}
		items, _, err := st.List(ctx, storage.ReceiptsOf("u1"), "", 10)
		if err != nil || len(items) != 1 {
			t.Fatalf("%d receipts, %v", len(items), err)
		}
	})
}

// TestAnotherOwnersObjectRefusesTheWholeDelivery: a delivery naming another user's store or
// receipt fails with NotOwner and writes nothing, not even its inbox row.
func TestAnotherOwnersObjectRefusesTheWholeDelivery(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, b storagetest.Backend) {
		st := b.Open(t).Store
		entry, apply := receiptDelivery("alice", "r-1", "s-1")
		if err := st.Accept(ctx, entry, apply); err != nil {
			t.Fatal(err)
		}
		for name, d := range map[string][2]string{"store": {"r-2", "s-1"}, "receipt": {"r-1", "s-2"}} {
			entry, apply := receiptDelivery("mallory", d[0], d[1])
			if err := st.Accept(ctx, entry, apply); !errors.Is(err, apperr.ErrNotOwner) {
				t.Fatalf("another user's %s: %v, want NotOwner", name, err)
			}
		}
		if n := len(inbox(t, st, "mallory")); n != 0 {
			t.Fatalf("%d inbox rows for refused deliveries", n)
		}
		if items, _, _ := st.List(ctx, storage.StoresOf("mallory"), "", 10); len(items) != 0 {
			t.Fatalf("mallory got stores %v", items)
		}
	})
}

// TestConcurrentClaimsOfOneStoreHaveOneWinner: users racing to claim one store: exactly one
// owns it, every other claim fails with NotOwner, none with anything else.
func TestConcurrentClaimsOfOneStoreHaveOneWinner(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, b storagetest.Backend) {
		st := b.Open(t).Store
		const racers = 8
		errs := make([]error, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				owner := fmt.Sprintf("user-%d", i)
				errs[i] = st.Accept(ctx, storage.InboxEntry{Operation: "putDevices", EvotorUserID: &owner, PathParams: "{}", Body: []byte("[]")},
					func(tx *storage.Tx) error { return tx.ClaimStores(owner, "contested-store") })
			}()
		}
		wg.Wait()
		winners := 0
		for i, err := range errs {
			switch {
			case err == nil:
				winners++
			case !errors.Is(err, apperr.ErrNotOwner):
				t.Fatalf("racer %d: %v", i, err)
			}
		}
		if winners != 1 {
			t.Fatalf("%d winners, want 1", winners)
		}
	})
}

// TestConcurrentDeliveriesEachGetTheirOwnResult: many deliveries at once (on SQLite they share
// commits), forwarded to a destination: refused ones (another owner's receipt, after claiming
// a store of their own) fail with NotOwner and leave nothing, not even a message to forward;
// each receipt, sent twice at the same moment, is stored, kept in the inbox and forwarded once.
func TestConcurrentDeliveriesEachGetTheirOwnResult(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, b storagetest.Backend) {
		opened := b.Open(t)
		st := opened.Store
		svc := forwarding(t, st, "http://127.0.0.1:1/")
		receiptDelivery := func(owner, receipt, store string) (storage.InboxEntry, func(*storage.Tx) error) {
			entry, apply := receiptDelivery(owner, receipt, store)
			entry.ForwardTo = svc.Outbox() // every delivery is forwarded
			return entry, apply
		}
		entry, apply := receiptDelivery("alice", "r-alice", "s-alice")
		if err := st.Accept(ctx, entry, apply); err != nil {
			t.Fatal(err)
		}
		const receipts, refused = 12, 8
		errs := make(chan error, 2*receipts)
		refusals := make(chan error, refused)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range receipts {
			entry, apply := receiptDelivery("alice", fmt.Sprintf("r-%d", i), "s-alice")
			for range 2 {
				wg.Go(func() { <-start; errs <- st.Accept(ctx, entry, apply) })
			}
		}
		for i := range refused {
			entry, apply := receiptDelivery("mallory", "r-alice", fmt.Sprintf("s-mallory-%d", i))
			wg.Go(func() { <-start; refusals <- st.Accept(ctx, entry, apply) })
		}
		close(start)
		wg.Wait()
		close(errs)
		close(refusals)
		for err := range errs {
			if err != nil {
				t.Errorf("alice's delivery: %v", err)
			}
		}
		for err := range refusals {
			if !errors.Is(err, apperr.ErrNotOwner) {
				t.Errorf("mallory's delivery: %v, want NotOwner", err)
			}
		}
		if n := len(inbox(t, st, "alice")); n != receipts+1 {
			t.Errorf("alice has %d inbox rows, want %d", n, receipts+1)
		}
		if items, _, _ := st.List(ctx, storage.ReceiptsOf("alice"), "", 100); len(items) != receipts+1 {
			t.Errorf("alice has %d receipts, want %d", len(items), receipts+1)
		}
		if n := len(inbox(t, st, "mallory")); n != 0 {
			t.Errorf("%d inbox rows for refused deliveries", n)
		}
		if items, _, _ := st.List(ctx, storage.StoresOf("mallory"), "", 100); len(items) != 0 {
			t.Errorf("refused deliveries kept mallory's stores %v", items)
		}
		if err := svc.Sequence(ctx); err != nil { // PostgreSQL numbers them after their commit
			t.Fatal(err)
		}
		var msgs []storage.ForwardMessage
		if err := opened.DB.Order("seq").Find(&msgs).Error; err != nil {
			t.Fatal(err)
		}
		if len(msgs) != receipts+1 {
			t.Errorf("%d forwarding messages, want one per stored delivery (%d)", len(msgs), receipts+1)
		}
		// One send job, the head's (alice's first message), owning the messages numbered with
		// it; it drains the rest in order.
		var jobs int64
		if err := opened.DB.Table("river_job").Count(&jobs).Error; err != nil {
			t.Fatal(err)
		}
		for i, m := range msgs {
			if m.Seq != int64(i+1) || (i == 0 && m.JobID == nil) || (m.JobID != nil && *m.JobID != *msgs[0].JobID) {
				t.Errorf("message %d: seq %d, job %v; want seq %d, the first's job or none", i, m.Seq, m.JobID, i+1)
			}
		}
		if jobs != 1 {
			t.Errorf("%d send jobs, want 1 (the user's first message's)", jobs)
		}
	})
}

// TestLateEventsDoNotUndoNewerOnes: a subscription's state follows its events in sequence
// order and an installation its newest event, whatever order they are stored in.
func TestLateEventsDoNotUndoNewerOnes(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, b storagetest.Backend) {
		st := b.Open(t).Store
		user := "u-late"
		record := func(body string, apply func(tx *storage.Tx) error) {
			t.Helper()
			if err := st.Accept(ctx, storage.InboxEntry{Operation: "event", EvotorUserID: &user, PathParams: "{}", Body: []byte(body)}, apply); err != nil {
				t.Fatal(err)
			}
		}
		sub := func(seq int, typ string) {
			body := fmt.Sprintf(`{"subscriptionId":"sub","productId":"p","userId":%q,"sequenceNumber":%d,"type":%q}`, user, seq, typ)
			record(body, func(tx *storage.Tx) error {
				_, err := tx.RecordSubscriptionEvent("sub", []byte(body), storage.SubscriptionRule{Fold: billing.Fold, Step: billing.Step})
				return err
			})
		}
		sub(3, "SubscriptionTerminated")
		sub(1, "SubscriptionCreated")
		sub(2, "SubscriptionActivated")
		subs, err := st.SubscriptionsOf(ctx, user)
		if err != nil || len(subs) != 1 || subs[0].Status != "terminated" {
			t.Fatalf("subscriptions %+v, %v; want terminated", subs, err)
		}
		install := func(id, typ string, ms int64) {
			record("{}", func(tx *storage.Tx) error {
				return tx.RecordInstallationEvent(storage.InstallationEvent{EventID: id, EvotorUserID: user, ProductID: "p", Type: typ, OccurredMs: ms, Body: []byte("{}")}, installation.Apply)
			})
		}
		install("e2", "ApplicationUninstalled", 200)
		install("e1", "ApplicationInstalled", 100) // older, arriving late
		view, err := st.User(ctx, user)
		if err != nil || len(view.Installations) != 1 || view.Installations[0].Installed || view.Installations[0].LastEventMs != 200 {
			t.Fatalf("installations %+v, %v; want uninstalled at 200", view.Installations, err)
		}
	})
}

// TestSQLiteRunsAsConfigured: the server's SQLite connection is durable (WAL, synchronous
// FULL = 2) and keeps 32 MiB of pages (cache_size in KiB, negative), not SQLite's 2 MB.
func TestSQLiteRunsAsConfigured(t *testing.T) {
	st, err := storage.Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for name, want := range map[string]string{"journal_mode": "wal", "synchronous": "2", "cache_size": "-32768", "foreign_keys": "1"} {
		if got, err := st.Pragma(name); err != nil || got != want {
			t.Errorf("PRAGMA %s = %q (%v), want %q", name, got, err, want)
		}
	}
}
