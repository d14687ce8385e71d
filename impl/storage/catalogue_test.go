package storage_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/evotor-partner/evotor-partner/impl/storage"
	"github.com/evotor-partner/evotor-partner/impl/storage/storagetest"
)

// productItems is a catalogue of n products, each one barcode, raw, and how each becomes a row.
func productItems(n int) ([][]byte, func(raw []byte) (storage.ProductRow, error)) {
	items := make([][]byte, n)
	for i := range items {
		items[i] = fmt.Appendf(nil, `{"uuid":"%08x-8707-4f47-9d9c-4db058054cb2","name":"p%d","barCodes":["%013d"]}`, i, i, i)
	}
	row := func(raw []byte) (storage.ProductRow, error) {
		var i int
		if _, err := fmt.Sscanf(string(raw), `{"uuid":"%08x-`, &i); err != nil {
			return storage.ProductRow{}, err
		}
		codes := fmt.Sprintf(`["%013d"]`, i)
		return storage.ProductRow{UUID: fmt.Sprintf("%08x-8707-4f47-9d9c-4db058054cb2", i), Name: fmt.Sprintf("p%d", i), BarCodes: &codes, Raw: raw}, nil
	}
	return items, row
}

// TestCatalogueCommitsWithItsDelivery: a catalogue of several batches (copied, on PostgreSQL, on
// the transaction's own connection) is written with its inbox row or not at all.
func TestCatalogueCommitsWithItsDelivery(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, b storagetest.Backend) {
		db := b.Open(t)
		const owner, store = "01-000000000000001", "20991231-0000-4000-8000-000000000001"
		items, row := productItems(2500)
		count := func() (products, barcodes, deliveries int64) {
			db.DB.Model(&storage.ProductRow{}).Count(&products)
			db.DB.Model(&storage.ProductBarcode{}).Count(&barcodes)
			db.DB.Model(&storage.InboxEntry{}).Count(&deliveries)
			return
		}
		deliver := func(fail error) error {
			entry := storage.InboxEntry{Operation: "createProducts", EvotorUserID: new(string), PathParams: "{}", Body: []byte("[]")}
			return db.Store.Accept(ctx, entry, func(tx *storage.Tx) error {
				if err := tx.ClaimStores(owner, store); err != nil {
					return err
				}
				if err := tx.UpsertProducts(owner, store, items, row); err != nil {
					return err
				}
				return fail
			})
		}
		boom := errors.New("refused after the products")
		if err := deliver(boom); !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if p, bc, d := count(); p+bc+d != 0 {
			t.Fatalf("a refused delivery left %d products, %d barcodes, %d deliveries", p, bc, d)
		}
		if err := deliver(nil); err != nil {
			t.Fatal(err)
		}
		if p, bc, d := count(); p != 2500 || bc != 2500 || d != 1 {
			t.Fatalf("%d products, %d barcodes, %d deliveries; want 2500, 2500, 1", p, bc, d)
		}
	})
}

// TestCatalogueIsWhatWasSentLast: whatever the deliveries — products new, changed, unchanged,
// sent twice in one delivery or changed and changed back, across batch boundaries, into an
// empty store or a full one — each product is stored as it was sent last, with its barcodes.
// (Each delivery looks up only its own items: this checks it never skips one it should write.)
func TestCatalogueIsWhatWasSentLast(t *testing.T) {
	defer storage.SetProductBatchRows(3)()
	storagetest.Each(t, func(t *testing.T, b storagetest.Backend) {
		db := b.Open(t)
		const owner = "01-000000000000001"
		stores := 0
		rapid.Check(t, func(rt *rapid.T) {
			stores++ // a store of its own per case
			store := fmt.Sprintf("20991231-0000-4000-8000-%012d", stores)
			want := map[string]string{} // uuid → the raw last sent
			for d := range rapid.IntRange(1, 4).Draw(rt, "deliveries") {
				n := rapid.IntRange(0, 10).Draw(rt, "items")
				var items [][]byte
				for range n {
					p := rapid.IntRange(0, 5).Draw(rt, "product")
					v := rapid.IntRange(0, 2).Draw(rt, "version")
					raw := fmt.Sprintf(`{"uuid":"p%d","name":"v%d","barCodes":["%d%d"]}`, p, v, p, v%2) // v0 and v2: a new name, the same barcode
					items = append(items, []byte(raw))
					want[fmt.Sprintf("p%d", p)] = raw
				}
				entry := storage.InboxEntry{Operation: "createProducts", EvotorUserID: new(string), PathParams: "{}", Body: []byte("[]")}
				err := db.Store.Accept(ctx, entry, func(tx *storage.Tx) error {
					if err := tx.ClaimStores(owner, store); err != nil {
						return err
					}
					return tx.UpsertProducts(owner, store, items, productRowOf)
				})
				if err != nil {
					rt.Fatalf("delivery %d: %v", d, err)
				}
			}
			var rows []storage.ProductRow
			db.DB.Where("store_uuid = ?", store).Find(&rows)
			var codes []storage.ProductBarcode
			db.DB.Where("store_uuid = ?", store).Find(&codes)
			got, gotCodes := map[string]string{}, map[string]string{}
			for _, r := range rows {
				got[r.UUID] = string(r.Raw)
			}
			for _, c := range codes {
				gotCodes[c.ProductUUID] += c.Barcode
			}
			if !maps.Equal(got, want) {
				rt.Fatalf("stored %v, sent last %v", got, want)
			}
			for uuid, raw := range want {
				var p struct{ BarCodes []string }
				_ = json.Unmarshal([]byte(raw), &p)
				if gotCodes[uuid] != p.BarCodes[0] {
					rt.Fatalf("%s: barcodes %q, want %q", uuid, gotCodes[uuid], p.BarCodes[0])
				}
			}
		})
	})
}

// productRowOf binds an item of TestCatalogueIsWhatWasSentLast.
func productRowOf(raw []byte) (storage.ProductRow, error) {
	var p struct {
		UUID     string
		Name     string
		BarCodes json.RawMessage
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return storage.ProductRow{}, err
	}
	codes := string(p.BarCodes)
	return storage.ProductRow{UUID: p.UUID, Name: p.Name, BarCodes: &codes, Raw: raw}, nil
}

// deliverProducts accepts a products delivery into store; during carries on inside its
// transaction, after the products are written (nil: nothing).
func deliverProducts(st *storage.Store, owner, store string, items [][]byte, during func()) error {
	entry := storage.InboxEntry{Operation: "createProducts", EvotorUserID: new(string), PathParams: "{}", Body: []byte("[]")}
	return st.Accept(ctx, entry, func(tx *storage.Tx) error {
		if err := tx.ClaimStores(owner, store); err != nil {
			return err
		}
		if err := tx.UpsertProducts(owner, store, items, productRowOf); err != nil {
			return err
		}
		if during != nil {
			during()
		}
		return nil
	})
}

// productsNumbered are one version of products first..first+n-1.
func productsNumbered(first, n, version int) [][]byte {
	items := make([][]byte, n)
	for i := range items {
		p := first + i
		items[i] = fmt.Appendf(nil, `{"uuid":"p%d","name":"v%d","barCodes":["%d-%d"]}`, p, version, p, version%2)
	}
	return items
}

// TestSmallProductDeliveriesOfOneStoreRunSideBySide (PostgreSQL): Evotor's notifications that
// a merchant edited a product do not queue behind each other in one store; a larger delivery
// (which inserts what it did not find without a conflict check) still has the store to itself.
func TestSmallProductDeliveriesOfOneStoreRunSideBySide(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, b storagetest.Backend) {
		db := b.Open(t)
		if !db.Store.OnPostgres() {
			t.Skip("SQLite: one writer at a time")
		}
		const owner, store = "01-000000000000001", "20991231-0000-4000-8000-0000000051de" // its own: the lock is per database
		if err := deliverProducts(db.Store, owner, store, nil, nil); err != nil {         // the store claimed and committed
			t.Fatal(err)
		}
		inside, release := make(chan struct{}), make(chan struct{})
		var releaseOnce sync.Once
		letGo := func() { releaseOnce.Do(func() { close(release) }) }
		defer letGo() // a failure does not leave the first transaction open
		first := make(chan error, 1)
		go func() {
			first <- deliverProducts(db.Store, owner, store, productsNumbered(0, 5, 1), func() { close(inside); <-release })
		}()
		<-inside // the first small delivery holds its transaction open
		second := make(chan error, 1)
		go func() { second <- deliverProducts(db.Store, owner, store, productsNumbered(10, 5, 1), nil) }()
		select {
		case err := <-second:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("a small delivery waited for another small one of its store")
		}
		large := make(chan error, 1)
		go func() { large <- deliverProducts(db.Store, owner, store, productsNumbered(100, 150, 1), nil) }()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			var waiting int64
			db.DB.Raw(`SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'
				AND query LIKE 'SELECT pg_advisory_xact_lock(%' AND datname = current_database()`).Scan(&waiting)
			if waiting > 0 {
				break // the large delivery waits for the store's lock
			}
			if time.Now().After(deadline) {
				t.Fatal("the large delivery did not wait for the small one's transaction")
			}
		}
		select {
		case err := <-large:
			t.Fatalf("the large delivery ended (%v) while a small one held its store", err)
		default:
		}
		letGo()
		if err := <-first; err != nil {
			t.Fatal(err)
		}
		if err := <-large; err != nil {
			t.Fatal(err)
		}
		var products, barcodes int64
		db.DB.Model(&storage.ProductRow{}).Count(&products)
		db.DB.Model(&storage.ProductBarcode{}).Count(&barcodes)
		if products != 160 || barcodes != 160 {
			t.Fatalf("%d products, %d barcodes; want 160 of each", products, barcodes)
		}
	})
}

// TestConcurrentProductDeliveriesNeverDeadlockAndEndAsOneOfThem: deliveries small and large
// (several batches) into one store at once, their products overlapping in every order, all
// succeed; each product is stored as one of them sent it, with exactly that version's barcode.
func TestConcurrentProductDeliveriesNeverDeadlockAndEndAsOneOfThem(t *testing.T) {
	defer storage.SetProductBatchRows(6)() // small: at most 6 items; larger ones in batches of 6
	storagetest.Each(t, func(t *testing.T, b storagetest.Backend) {
		db := b.Open(t)
		const owner, store, products, workers, each = "01-000000000000001", "20991231-0000-4000-8000-000000000001", 8, 6, 15
		errs := make(chan error, workers*each)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(w), 1))
				for range each {
					var items [][]byte
					for range 1 + r.IntN(10) {
						items = append(items, productsNumbered(r.IntN(products), 1, r.IntN(3))...)
					}
					errs <- deliverProducts(db.Store, owner, store, items, nil)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		var rows []storage.ProductRow
		db.DB.Find(&rows)
		var codes []storage.ProductBarcode
		db.DB.Find(&codes)
		byProduct := map[string][]string{}
		for _, c := range codes {
			byProduct[c.ProductUUID] = append(byProduct[c.ProductUUID], c.Barcode)
		}
		if len(rows) != products {
			t.Fatalf("%d products stored, want %d", len(rows), products)
		}
		for _, r := range rows {
			var p struct{ BarCodes []string }
			if err := json.Unmarshal(r.Raw, &p); err != nil {
				t.Fatal(err)
			}
			if got := byProduct[r.UUID]; !slices.Equal(got, p.BarCodes) {
				t.Errorf("%s stored as %s, with barcodes %v", r.UUID, r.Raw, got)
			}
		}
	})
}
