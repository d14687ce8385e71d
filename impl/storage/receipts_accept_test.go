package storage_test

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evotor-partner/evotor-partner/impl/apperr"
	"github.com/evotor-partner/evotor-partner/impl/deliver"
	"github.com/evotor-partner/evotor-partner/impl/storage"
	"github.com/evotor-partner/evotor-partner/impl/storage/storagetest"
	"github.com/evotor-partner/evotor-partner/impl/usertoken"
)

// userToken registers an Evotor user with a fresh token and returns what a delivery confirms.
func userToken(t *testing.T, st *storage.Store, user string) usertoken.Check {
	t.Helper()
	_, hash := usertoken.New()
	if _, err := st.RegisterEvotorUser(ctx, user, storage.NewAccount{}, hash[:]); err != nil {
		t.Fatal(err)
	}
	rec, found, err := st.LookupUserToken(ctx, hash)
	if err != nil || !found {
		t.Fatalf("token of %s: found %v, %v", user, found, err)
	}
	return usertoken.Check{ID: rec.ID}
}

// sendReceipt delivers one receipt through the application layer's receipts rule.
func sendReceipt(st *storage.Store, token usertoken.Check, owner, id, store string) (bool, error) {
	return sendReceiptTo(nil, st, token, owner, id, store)
}

// sendReceiptTo is sendReceipt with the delivery forwarded to outbox (nil: nowhere).
func sendReceiptTo(outbox func() storage.Outbox, st *storage.Store, token usertoken.Check, owner, id, store string) (bool, error) {
	body := fmt.Appendf(nil, `{"id":%q,"data":{"id":"d","storeId":%q,"type":"SELL"}}`, id, store)
	item := "x"
	return receiptsTo(outbox, st, token, owner, body, []storage.ReceiptRow{{OwnerID: owner, ID: id, ReceiptUUID: "d",
		StoreUUID: store, Type: "SELL", Raw: body, Items: []storage.ReceiptItemRow{{ItemUUID: "i", Name: &item}}}})
}

// receipts stores a receipts delivery of owner, body and rows, as impl/deliver does.
func receipts(st *storage.Store, token usertoken.Check, owner string, body []byte, rows []storage.ReceiptRow) (bool, error) {
	return receiptsTo(nil, st, token, owner, body, rows)
}

func receiptsTo(outbox func() storage.Outbox, st *storage.Store, token usertoken.Check, owner string, body []byte, rows []storage.ReceiptRow) (bool, error) {
	return deliver.New(deliver.Store(st), deliver.Policy{}, outbox).Receipts(ctx, deliver.Sender{UserID: owner, Token: token},
		deliver.Delivery{Operation: "postReceipts", Body: body}, rows)
}

// TestReceiptsUnderConcurrency: many receipts deliveries at once (on PostgreSQL they share
// statements, see receipts_batch.go), mixing a duplicate storm, another owner's receipt and a
// revoked token: each receipt is stored exactly once with one inbox row, each copy but one is a
// redelivery, and every refused delivery is refused alone and writes nothing. Every delivery
// is forwarded to two destinations: each stored one has a message for each, the others none,
// and (on PostgreSQL, where they are numbered after the commit) the sequencer was woken for
// each stored one and numbers them all.
func TestReceiptsUnderConcurrency(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, b storagetest.Backend) {
		o := b.Open(t)
		st := o.Store
		svc := forwarding(t, st, "http://127.0.0.1:1/a", "http://127.0.0.1:1/b")
		var woken atomic.Int64
		outbox := func() storage.Outbox {
			out := svc.Outbox()
			out.Committed = func() { woken.Add(1) }
			return out
		}
		alice, bob, carol := userToken(t, st, "alice"), userToken(t, st, "bob"), userToken(t, st, "carol")
		if _, err := sendReceipt(st, bob, "bob", "bob-1", "bob-store"); err != nil {
			t.Fatal(err)
		}
		if err := o.DB.Exec("UPDATE user_tokens SET revoked_at = CURRENT_TIMESTAMP WHERE id = ?", carol.ID).Error; err != nil {
			t.Fatal(err)
		}
		const receipts, copies = 40, 3
		var fresh, redelivered, notOwner, badToken atomic.Int64
		var wg sync.WaitGroup
		send := func(token usertoken.Check, owner, id, store string) {
			defer wg.Done()
			redelivery, err := sendReceiptTo(outbox, st, token, owner, id, store)
			switch {
			case err == nil && redelivery:
				redelivered.Add(1)
			case err == nil:
				fresh.Add(1)
			case errors.Is(err, apperr.ErrNotOwner):
				notOwner.Add(1)
			case errors.Is(err, apperr.New(apperr.BadUserToken, "")):
				badToken.Add(1)
			default:
				t.Errorf("%s %s: %v", owner, id, err)
			}
		}
		for c := range copies {
			for i := range receipts {
				wg.Add(1)
				go send(alice, "alice", fmt.Sprint("a-", i), fmt.Sprint("alice-store-", i%3))
			}
			wg.Add(3)
			go send(alice, "alice", "bob-1", "alice-store-0")                     // bob's receipt
			go send(alice, "alice", fmt.Sprint("a-steal-", c), "bob-store")       // bob's store
			go send(carol, "carol", fmt.Sprint("c-", c), fmt.Sprint("carol-", c)) // revoked token
		}
		wg.Wait()
		if fresh.Load() != receipts || redelivered.Load() != receipts*(copies-1) || notOwner.Load() != 2*copies || badToken.Load() != copies {
			t.Fatalf("fresh %d, redelivered %d, not owner %d, bad token %d; want %d, %d, %d, %d",
				fresh.Load(), redelivered.Load(), notOwner.Load(), badToken.Load(), receipts, receipts*(copies-1), 2*copies, copies)
		}
		if batches, deliveries := st.ReceiptBatches(); b.Name == "postgres" {
			t.Logf("%d deliveries in %d statements", deliveries, batches)
			if batches >= deliveries {
				t.Fatalf("%d deliveries in %d statements: no group commit", deliveries, batches)
			}
		}
		var stored, inboxRows, items, carolStores int64
		o.DB.Table("receipts").Where("owner_id = ?", "alice").Count(&stored)
		o.DB.Table("inbox").Where("evotor_user_id = ?", "alice").Count(&inboxRows)
		o.DB.Table("receipt_items").Where("receipt_id LIKE ?", "a-%").Count(&items)
		o.DB.Table("stores").Where("owner_id = ?", "carol").Count(&carolStores)
		if stored != receipts || inboxRows != receipts || items != receipts || carolStores != 0 {
			t.Fatalf("alice: %d receipts, %d inbox rows, %d items (want %d each); carol: %d stores", stored, inboxRows, items, receipts, carolStores)
		}
		if b.Name == "postgres" && woken.Load() != receipts {
			t.Errorf("the sequencer was woken %d times, want once per stored delivery (%d)", woken.Load(), receipts)
		}
		if err := svc.Sequence(ctx); err != nil {
			t.Fatal(err)
		}
		var messages []struct {
			Destination string
			Seq         *int64
			Operation   string
		}
		o.DB.Raw(`SELECT m.destination, m.seq, i.operation FROM forward_messages m JOIN inbox i ON i.id = m.inbox_id
			WHERE m.evotor_user_id = 'alice'`).Scan(&messages)
		perDestination := map[string]int{}
		for _, m := range messages {
			if m.Seq == nil || m.Operation != "postReceipts" {
				t.Fatalf("message %+v: want numbered, of a receipts delivery", m)
			}
			perDestination[m.Destination]++
		}
		var others int64
		o.DB.Table("forward_messages").Where("evotor_user_id <> ?", "alice").Count(&others)
		if len(messages) != 2*receipts || perDestination["http://127.0.0.1:1/a"] != receipts || others != 0 {
			t.Fatalf("messages: alice's %d %v, the others' %d; want %d to each destination, none of others (carol's were refused)", len(messages), perDestination, others, receipts)
		}
	})
}

// TestReceiptJSONIsKeptOnce: the receipts of an array body read back byte for byte; on
// PostgreSQL's receipts path they are spans of the inbox row's body, not copies.
func TestReceiptJSONIsKeptOnce(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, b storagetest.Backend) {
		o := b.Open(t)
		token := userToken(t, o.Store, "u")
		elements := []string{`{"id":"r-1","data":{"id":"a","storeId":"s","type":"SELL"}}`, `{ "id" : "r-2", "data":{"id":"b","storeId":"s","type":"PAYBACK"} }`}
		body := []byte(" [\n  " + elements[0] + " ,\t" + elements[1] + "\n]")
		var rows []storage.ReceiptRow
		for i, el := range elements {
			at := bytes.Index(body, []byte(el))
			rows = append(rows, storage.ReceiptRow{OwnerID: "u", ID: fmt.Sprint("r-", i+1), ReceiptUUID: "x", StoreUUID: "s", Type: "SELL",
				Raw: body[at : at+len(el)], BodyOffset: at})
		}
		if _, err := receipts(o.Store, token, "u", body, rows); err != nil {
			t.Fatal(err)
		}
		items, _, err := o.Store.List(ctx, storage.ReceiptsOf("u"), "", 10)
		if err != nil || len(items) != 2 {
			t.Fatalf("%d receipts, %v", len(items), err)
		}
		for i, it := range items {
			if string(it.Raw) != elements[i] {
				t.Fatalf("receipt %s reads back as %q, want %q", it.Key, it.Raw, elements[i])
			}
		}
		var copied int64
		o.DB.Raw("SELECT coalesce(sum(length(raw)), 0) FROM receipts").Scan(&copied)
		if b.Name == "postgres" && copied != 0 {
			t.Fatalf("%d bytes of receipt JSON stored besides the inbox body", copied)
		}
	})
}

// TestLargeInboxBodiesUseLZ4: on PostgreSQL (built with lz4, as Debian's is) the inbox body
// column compresses with lz4 (migration 00009).
func TestLargeInboxBodiesUseLZ4(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, b storagetest.Backend) {
		if b.Name != "postgres" {
			t.Skip("PostgreSQL only")
		}
		o := b.Open(t)
		var method string
		o.DB.Raw("SELECT attcompression FROM pg_attribute WHERE attrelid = 'inbox'::regclass AND attname = 'body'").Scan(&method)
		if method != "l" {
			t.Fatalf("inbox.body compression %q, want l (lz4)", method)
		}
	})
}

// TestCloseAnswersEveryReceiptsDelivery: deliveries sent while the store closes each get an
// answer (stored, or an error), none waits forever.
func TestCloseAnswersEveryReceiptsDelivery(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, b storagetest.Backend) {
		st := b.Open(t).Store
		token := userToken(t, st, "u")
		var wg sync.WaitGroup
		for i := range 200 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = sendReceipt(st, token, "u", fmt.Sprint("c-", i), "s")
			}()
		}
		time.Sleep(time.Millisecond)
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		answered := make(chan struct{})
		go func() { wg.Wait(); close(answered) }()
		select {
		case <-answered:
		case <-time.After(10 * time.Second):
			t.Fatal("deliveries still waiting 10 s after Close")
		}
	})
}
