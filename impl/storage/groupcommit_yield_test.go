package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A catalogue on SQLite lets the deliveries that wait meanwhile in (groupcommit.go,
// letOthersIn): they are answered before it ends; one that writes products of its store is
// not written over by it (the later edit wins); another catalogue goes after it; a catalogue
// refused half-way leaves nothing.

// catalogueItems are n products p0…p(n-1) of one version.
func catalogueItems(n int, version string) [][]byte {
	items := make([][]byte, n)
	for i := range items {
		items[i] = fmt.Appendf(nil, `{"uuid":"p%d","name":%q}`, i, version)
	}
	return items
}

// bindProduct makes a row of an item of catalogueItems; an item named "refused" is refused.
func bindProduct(raw []byte) (ProductRow, error) {
	var p struct{ UUID, Name string }
	if err := json.Unmarshal(raw, &p); err != nil || p.Name == "refused" {
		return ProductRow{}, errors.New("does not bind")
	}
	return ProductRow{UUID: p.UUID, Name: p.Name, Raw: raw}, nil
}

func productsJob(owner, store string, items [][]byte, row func([]byte) (ProductRow, error)) (InboxEntry, func(tx *Tx) error) {
	entry := InboxEntry{Operation: "createProducts", EvotorUserID: &owner, PathParams: `{"storeUuid":"` + store + `"}`, Body: []byte("[]")}
	return entry, func(tx *Tx) error {
		if err := tx.ClaimStores(owner, store); err != nil {
			return err
		}
		return tx.UpsertProducts(owner, store, items, row)
	}
}

// duringCatalogue runs a catalogue of n products into alice's store "s-big" (its items bound
// by bind) and, once it has written its first part, queues the others and waits until they
// wait; it returns the catalogue's result and what each other delivery got, and whether it
// got it before the catalogue was answered.
func duringCatalogue(t *testing.T, st *Store, n int, items [][]byte, others map[string]func() (InboxEntry, func(tx *Tx) error)) (error, map[string]error, map[string]bool) {
	t.Helper()
	ctx := context.Background()
	var catalogueDone atomic.Bool
	var mu sync.Mutex
	got, before := map[string]error{}, map[string]bool{}
	var wg sync.WaitGroup
	var once sync.Once
	bound := 0
	row := func(raw []byte) (ProductRow, error) {
		if bound++; bound > yieldRows { // the first part is written: now the others come
			once.Do(func() {
				for name, job := range others {
					entry, apply := job()
					wg.Go(func() {
						err := st.Accept(ctx, entry, apply)
						mu.Lock()
						got[name], before[name] = err, !catalogueDone.Load()
						mu.Unlock()
					})
				}
				waitFor(t, "the others to wait", func() bool { return st.committer.waiting.Load() == int64(len(others)) })
			})
		}
		return bindProduct(raw)
	}
	entry, apply := productsJob("alice", "s-big", items, row)
	err := st.Accept(ctx, entry, apply)
	catalogueDone.Store(true)
	wg.Wait()
	return err, got, before
}

func TestACatalogueLetsOthersIn(t *testing.T) {
	st := openSQLiteStore(t)
	const n = 5 * yieldRows
	others := map[string]func() (InboxEntry, func(tx *Tx) error){
		"a receipt": func() (InboxEntry, func(tx *Tx) error) { return receiptJob("alice", "r-1", "s-small") },
		"another store's products": func() (InboxEntry, func(tx *Tx) error) {
			return productsJob("alice", "s-other", catalogueItems(3, "v1"), bindProduct)
		},
		"another store's catalogue": func() (InboxEntry, func(tx *Tx) error) {
			// it could not yield in the turn it is let in: it goes after
			return productsJob("alice", "s-third", catalogueItems(smallDeliveryItems+1, "v1"), bindProduct)
		},
		"an edit of the same store": func() (InboxEntry, func(tx *Tx) error) {
			// a product of the catalogue's last part, which the catalogue reaches after the
			// edit (let in during a turn) wrote it: the edit, newer, must stay
			return productsJob("alice", "s-big", [][]byte{fmt.Appendf(nil, `{"uuid":"p%d","name":"edited"}`, n-7)}, bindProduct)
		},
	}
	err, got, before := duringCatalogue(t, st, n, catalogueItems(n, "v1"), others)
	if err != nil {
		t.Fatalf("the catalogue: %v", err)
	}
	for name := range others {
		if got[name] != nil {
			t.Errorf("%s: %v", name, got[name])
		}
	}
	if !before["a receipt"] || !before["another store's products"] || !before["an edit of the same store"] {
		t.Errorf("answered before the catalogue: %v (the receipt, the other store's products and the edit must not wait for it)", before)
	}
	// What went after the catalogue was stored after it (its inbox row is its last write).
	stored := func(store string) (id int64) {
		st.db.Model(&InboxEntry{}).Select("max(id)").Where("path_params = ?", `{"storeUuid":"`+store+`"}`).Scan(&id)
		return id
	}
	if big, other, third := stored("s-big"), stored("s-other"), stored("s-third"); !(other < big && big < third) {
		t.Errorf("stored in the order s-other %d, s-big %d, s-third %d: the other store's products go in the catalogue's turn, another catalogue after it", other, big, third)
	}
	if c := count(t, st, "products", "store_uuid = ?", "s-third"); c != smallDeliveryItems+1 {
		t.Errorf("%d products of the other catalogue, want %d", c, smallDeliveryItems+1)
	}
	if c := count(t, st, "products", "store_uuid = ?", "s-big"); c != n {
		t.Errorf("%d products of the catalogue's store, want %d", c, n)
	}
	var edited ProductRow
	if err := st.db.Where("store_uuid = ? AND uuid = ?", "s-big", fmt.Sprintf("p%d", n-7)).Take(&edited).Error; err != nil || edited.Name != "edited" {
		t.Errorf("the edited product is %q (%v): the edit that came after the catalogue began must win", edited.Name, err)
	}
	if c := count(t, st, "inbox", "operation = ?", "createProducts"); c != 4 {
		t.Errorf("%d products inbox rows, want 4 (the catalogue once, the three others)", c)
	}
	if st.committer.commits.Load() < 3 {
		t.Errorf("%d commits: the catalogue did not yield", st.committer.commits.Load())
	}
}

func TestACatalogueRefusedHalfWayLeavesNothing(t *testing.T) {
	st := openSQLiteStore(t)
	const n = 5 * yieldRows
	items := catalogueItems(n, "v1")
	items[4*yieldRows] = []byte(`{"uuid":"bad","name":"refused"}`) // after the turn the others get
	others := map[string]func() (InboxEntry, func(tx *Tx) error){
		"a receipt": func() (InboxEntry, func(tx *Tx) error) { return receiptJob("alice", "r-1", "s-small") },
	}
	err, got, _ := duringCatalogue(t, st, n, items, others)
	if err == nil {
		t.Fatal("a catalogue with an item that does not bind was stored")
	}
	if got["a receipt"] != nil {
		t.Errorf("the receipt waiting meanwhile: %v", got["a receipt"])
	}
	if c := count(t, st, "products", "store_uuid = ?", "s-big"); c != 0 {
		t.Errorf("%d products of the refused catalogue are stored", c)
	}
	if c := count(t, st, "receipts", "1 = 1"); c != 1 {
		t.Errorf("%d receipts, want the one that waited", c)
	}
}

// TestACatalogueLetsItsBatchIn: a delivery taken in the same batch as a catalogue, behind it,
// does not wait for the catalogue's end either.
func TestACatalogueLetsItsBatchIn(t *testing.T) {
	st := openSQLiteStore(t)
	ctx := context.Background()
	// A first delivery holds the committer until the catalogue and a receipt both wait, so
	// that the next batch takes the two together, the catalogue first.
	release, holding := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		entry, apply := receiptJob("alice", "r-0", "s-small")
		_ = st.Accept(ctx, entry, func(tx *Tx) error { close(holding); <-release; return apply(tx) })
	})
	<-holding
	const n = 5 * yieldRows
	var receiptAnswered atomic.Bool
	var waitedInVain atomic.Bool
	bound := 0
	row := func(raw []byte) (ProductRow, error) {
		// Past its first part (and the binding of the rest before its first turn), the
		// catalogue has let the receipt in: it is answered while the catalogue goes on.
		if bound++; bound == n+2*yieldRows {
			deadline := time.Now().Add(2 * time.Second)
			for !receiptAnswered.Load() && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			waitedInVain.Store(!receiptAnswered.Load())
		}
		return bindProduct(raw)
	}
	wg.Go(func() {
		entry, apply := productsJob("alice", "s-big", catalogueItems(n, "v1"), row)
		if err := st.Accept(ctx, entry, apply); err != nil {
			t.Errorf("the catalogue: %v", err)
		}
	})
	waitFor(t, "the catalogue to wait", func() bool { return st.committer.waiting.Load() == 1 })
	wg.Go(func() {
		entry, apply := receiptJob("alice", "r-1", "s-small")
		if err := st.Accept(ctx, entry, apply); err != nil {
			t.Errorf("the receipt: %v", err)
		}
		receiptAnswered.Store(true)
	})
	waitFor(t, "the receipt to wait", func() bool { return st.committer.waiting.Load() == 2 })
	close(release)
	wg.Wait()
	if waitedInVain.Load() {
		t.Error("the receipt behind the catalogue in its batch was not answered while the catalogue went on")
	}
	if c := count(t, st, "products", "store_uuid = ?", "s-big"); c != n {
		t.Errorf("%d products of the catalogue's store, want %d", c, n)
	}
}
