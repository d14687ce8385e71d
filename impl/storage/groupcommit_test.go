package storage

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Group commit on SQLite, seen from inside: deliveries waiting while a commit is under way
// share the next one, and each still gets its own result.

func openSQLiteStore(t *testing.T) *Store {
	t.Helper()
	st, err := Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if st.committer == nil {
		t.Fatal("SQLite store without a committer")
	}
	return st
}

func receiptJob(owner, receiptID, storeID string) (InboxEntry, func(tx *Tx) error) {
	body := fmt.Appendf(nil, `{"id":%q,"storeId":%q}`, receiptID, storeID)
	entry := InboxEntry{Operation: "postReceipts", EvotorUserID: &owner, PathParams: "{}", Body: body}
	return entry, func(tx *Tx) error {
		if err := tx.ClaimStores(owner, storeID); err != nil {
			return err
		}
		return tx.InsertReceipts([]ReceiptRow{{OwnerID: owner, ID: receiptID, ReceiptUUID: "d", StoreUUID: storeID, Type: "SELL", Raw: body,
			Items: []ReceiptItemRow{{ItemUUID: "i1"}, {ItemUUID: "i2"}}}})
	}
}

// waitFor polls until cond holds (the committer runs on its own goroutine).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func count(t *testing.T, st *Store, table, where string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := st.db.Table(table).Where(where, args...).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// TestWaitingDeliveriesShareOneCommitEachWithItsOwnResult holds the committer inside a first
// delivery, queues a mix of deliveries behind it (new receipts, the same receipt twice, another
// owner's store, one whose caller gives up, one that panics), then lets go: the queued ones are
// committed by a single transaction, and each gets the result it would have got alone.
func TestWaitingDeliveriesShareOneCommitEachWithItsOwnResult(t *testing.T) {
	st := openSQLiteStore(t)
	ctx := context.Background()

	release, started := make(chan struct{}), make(chan struct{})
	firstEntry, firstApply := receiptJob("alice", "r-first", "s-alice")
	firstDone := make(chan error, 1)
	go func() {
		firstDone <- st.Accept(ctx, firstEntry, func(tx *Tx) error {
			close(started)
			<-release
			return firstApply(tx)
		})
	}()
	<-started

	type delivery struct {
		name     string
		ctx      context.Context
		entry    InboxEntry
		apply    func(tx *Tx) error
		want     error
		panics   bool
		gotErr   error
		gotPanic any
	}
	var ds []*delivery
	add := func(name string, want error, entry InboxEntry, apply func(tx *Tx) error) *delivery {
		d := &delivery{name: name, ctx: ctx, entry: entry, apply: apply, want: want}
		ds = append(ds, d)
		return d
	}
	for i := range 6 {
		e, a := receiptJob("alice", fmt.Sprintf("r-%d", i), "s-alice")
		add(fmt.Sprintf("alice r-%d", i), nil, e, a)
	}
	for range 2 { // the same receipt twice in one batch: stored once
		e, a := receiptJob("alice", "r-twice", "s-alice")
		add("alice r-twice", nil, e, a)
	}
	for i := range 3 { // claims a store of her own first, then names alice's store: nothing kept
		e, a := receiptJob("mallory", fmt.Sprintf("m-%d", i), "s-mallory")
		add(fmt.Sprintf("mallory m-%d", i), ErrNotOwner, e, func(tx *Tx) error {
			if err := a(tx); err != nil {
				return err
			}
			return tx.ClaimStores("mallory", "s-alice")
		})
	}
	e, a := receiptJob("bob", "b-panic", "s-bob")
	add("bob panics", nil, e, func(tx *Tx) error {
		if err := a(tx); err != nil {
			return err
		}
		panic("apply failed badly")
	}).panics = true
	cancelled, cancel := context.WithCancel(ctx)
	e, a = receiptJob("carol", "c-gone", "s-carol")
	add("carol gone", context.Canceled, e, a).ctx = cancelled

	var wg sync.WaitGroup
	for _, d := range ds {
		wg.Go(func() {
			defer func() { d.gotPanic = recover() }()
			d.gotErr = st.Accept(d.ctx, d.entry, d.apply)
		})
	}
	waitFor(t, "the deliveries to queue", func() bool { return st.committer.waiting.Load() == int64(len(ds)) })
	cancel()
	close(release)
	wg.Wait()
	if err := <-firstDone; err != nil {
		t.Fatalf("first delivery: %v", err)
	}

	for _, d := range ds {
		switch {
		case d.panics && d.gotPanic == nil:
			t.Errorf("%s: no panic in the caller", d.name)
		case !d.panics && d.gotPanic != nil:
			t.Errorf("%s: panicked: %v", d.name, d.gotPanic)
		case !d.panics && !errors.Is(d.gotErr, d.want):
			t.Errorf("%s: %v, want %v", d.name, d.gotErr, d.want)
		}
	}
	if n := st.committer.commits.Load(); n != 2 {
		t.Errorf("%d commits for the first delivery and %d waiting ones, want 2", n, len(ds))
	}
	// alice: r-first, r-0..r-5, r-twice; nobody else kept anything.
	if n := count(t, st, "receipts", "owner_id = ?", "alice"); n != 8 {
		t.Errorf("alice has %d receipts, want 8", n)
	}
	if n := count(t, st, "receipt_items", "1 = 1"); n != 16 {
		t.Errorf("%d receipt items, want 16", n)
	}
	if n := count(t, st, "inbox", "evotor_user_id = ?", "alice"); n != 8 {
		t.Errorf("alice has %d inbox rows, want 8 (a redelivery adds none)", n)
	}
	for _, table := range []string{"receipts", "stores"} {
		if n := count(t, st, table, "owner_id <> ?", "alice"); n != 0 {
			t.Errorf("%d %s of refused, failed or abandoned deliveries", n, table)
		}
	}
	if n := count(t, st, "inbox", "evotor_user_id <> ?", "alice"); n != 0 {
		t.Errorf("%d inbox rows of refused, failed or abandoned deliveries", n)
	}
}

// TestLoneDeliveryCommitsAtOnce: with nothing else waiting, a delivery is committed without
// waiting for company; refused, it leaves nothing.
func TestLoneDeliveryCommitsAtOnce(t *testing.T) {
	st := openSQLiteStore(t)
	for i := range 3 {
		e, a := receiptJob("alice", fmt.Sprintf("r-%d", i), "s-alice")
		if err := st.Accept(context.Background(), e, a); err != nil {
			t.Fatal(err)
		}
		if n := st.committer.commits.Load(); n != int64(i+1) {
			t.Fatalf("%d commits after %d deliveries", n, i+1)
		}
	}
	// Alone it has no savepoint: its failure rolls back the whole transaction.
	e, a := receiptJob("mallory", "m-1", "s-mallory")
	err := st.Accept(context.Background(), e, func(tx *Tx) error {
		if err := a(tx); err != nil {
			return err
		}
		return tx.ClaimStores("mallory", "s-alice")
	})
	if !errors.Is(err, ErrNotOwner) {
		t.Fatalf("refused delivery alone: %v", err)
	}
	if n := count(t, st, "stores", "owner_id = ?", "mallory") + count(t, st, "inbox", "evotor_user_id = ?", "mallory"); n != 0 {
		t.Fatalf("a refused delivery alone kept %d rows", n)
	}
}

// TestAcceptAfterCloseFails: a closed store refuses deliveries instead of hanging.
func TestAcceptAfterCloseFails(t *testing.T) {
	st := openSQLiteStore(t)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	e, a := receiptJob("alice", "r", "s")
	if err := st.Accept(context.Background(), e, a); !errors.Is(err, errStoreClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
}

// TestDeliveryWhoseCallerWentAwayIsSkipped: a delivery taken into a batch after its caller has
// given up is not applied, and says why.
func TestDeliveryWhoseCallerWentAwayIsSkipped(t *testing.T) {
	st := openSQLiteStore(t)
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	e, a := receiptJob("carol", "c-1", "s-carol")
	j := &commitJob{ctx: gone, entry: e, apply: a, done: make(chan struct{})}
	st.committer.commitBatch([]*commitJob{j}) // the committer itself is idle
	<-j.done
	if !errors.Is(j.err, context.Canceled) {
		t.Fatalf("skipped delivery: %v", j.err)
	}
	if n := count(t, st, "inbox", "1 = 1"); n != 0 {
		t.Fatalf("%d inbox rows", n)
	}
}

// BenchmarkAcceptReceipt: deliveries of one new receipt (four items, ~1.7 KB) from 32
// concurrent callers, as in the load benchmark's closed loop, storage alone.
func BenchmarkAcceptReceipt(b *testing.B) {
	st, err := Open(context.Background(), "", b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	body := make([]byte, 1700)
	for i := range body {
		body[i] = 'x'
	}
	var n atomic.Int64
	cpuBefore := processCPU(b)
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprintf("r-%d", n.Add(1))
			owner := "01-000000000000001"
			entry := InboxEntry{Operation: "postReceipts", EvotorUserID: &owner, PathParams: "{}", Body: body}
			err := st.Accept(context.Background(), entry, func(tx *Tx) error {
				if err := tx.ClaimStores(owner, "s-1"); err != nil {
					return err
				}
				items := make([]ReceiptItemRow, 4)
				for i := range items {
					name, qty := "Сидр яблочный", "2"
					items[i] = ReceiptItemRow{ItemUUID: fmt.Sprintf("%s-%d", id, i), Name: &name, Quantity: &qty, Price: &qty, SumPrice: &qty}
				}
				now := time.Now()
				return tx.InsertReceipts([]ReceiptRow{{OwnerID: owner, ID: id, ReceiptUUID: id, StoreUUID: "s-1", Type: "SELL",
					DateTime: &now, Raw: body, Items: items}})
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/float64(st.committer.commits.Load()), "deliveries/commit")
	b.ReportMetric(float64((processCPU(b)-cpuBefore).Microseconds())/float64(b.N), "cpu-µs/op")
}

// processCPU is the CPU time the process has used (other work on the machine does not count).
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
