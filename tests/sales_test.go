package tests

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/evotor-partner/evotor-partner/impl/storage"
)

func receipt(id, storeID string, items int) []byte {
	var it []string
	for i := 0; i < items; i++ {
		it = append(it, fmt.Sprintf(`{"id":"01ba18b6-8707-5f47-3d9c-4db05805%04d","name":"item %d","itemType":"NORMAL","quantity":"1.000","price":10,"sumPrice":10,"tax":0,"discount":0}`, i, i))
	}
	return fmt.Appendf(nil, `{"id":%q,"timestamp":1496826444000,"userId":"01-000000000000001","type":"ReceiptCreated","version":2,`+
		`"data":{"id":"2ae3d6c1-9b8f-4e7a-a1c2-d3e4f5a6b7c8","storeId":%q,"dateTime":"2017-06-07T12:55:18.000Z","type":"SELL","items":[%s],"totalAmount":"%d.00"}}`,
		id, storeID, strings.Join(it, ","), 10*items)
}

// TestConcurrentCopiesOfReceiptsAndProducts: 50 overlapping copies of 20 receipts and of a
// catalogue: each receipt stored once with its items, each product once, no 5xx.
func TestConcurrentCopiesOfReceiptsAndProducts(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		user := bearer(e.createUser("01-000000000000001"))
		var wg sync.WaitGroup
		var failures atomic.Int64
		catalogueBody := catalogue(20_000) // a few dozen products
		for copyN := 0; copyN < 50; copyN++ {
			for r := 0; r < 20; r++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					body := receipt(fmt.Sprintf("b5c9e8a2-3d1f-4a6e-9b7c-2f0e1d3c%04d", r), "20170928-3176-40EB-80E2-A11F032E282A", 3)
					if status, resp := e.send(opByID(t, "postReceipts"), body, user); status != 200 {
						failures.Add(1)
						t.Logf("receipt: %d %s", status, resp)
					}
				}()
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if status, resp := e.send(opByID(t, "createProducts"), catalogueBody, user); status != 200 {
					failures.Add(1)
					t.Logf("products: %d %s", status, resp)
				}
			}()
		}
		wg.Wait()
		var receipts, items, products int64
		e.db.Model(&storage.ReceiptRow{}).Count(&receipts)
		e.db.Model(&storage.ReceiptItemRow{}).Count(&items)
		e.db.Model(&storage.ProductRow{}).Count(&products)
		wantProducts := int64(strings.Count(string(catalogueBody), `"uuid"`))
		if failures.Load() != 0 || receipts != 20 || items != 60 || products != wantProducts {
			t.Fatalf("%d failures; %d receipts, %d items, %d of %d products", failures.Load(), receipts, items, products, wantProducts)
		}
		var inboxReceipts int64
		e.db.Model(&storage.InboxEntry{}).Where("operation = ?", "postReceipts").Count(&inboxReceipts)
		if inboxReceipts != 20 {
			t.Fatalf("%d receipt deliveries in the inbox, want 20 (redeliveries add none)", inboxReceipts)
		}
	})
}

// TestOtherUsersReceiptsAndDocumentsAreAbsent: ids that belong to user B, sent with user A's
// token on A's own store, are refused and B's rows stay as they were.
func TestOtherUsersReceiptsAndDocumentsAreAbsent(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		userA, userB := bearer(e.createUser("01-000000000000001")), bearer(e.createUser("01-000000000000002"))
		const storeA, storeB = "20991231-0000-4000-8000-00000000000a", "20991231-0000-4000-8000-00000000000b"
		recID := "b5c9e8a2-3d1f-4a6e-9b7c-2f0e1d3c4b5a"
		if status, resp := e.send(opByID(t, "postReceipts"), receipt(recID, storeB, 2), userB); status != 200 {
			t.Fatalf("%d %s", status, resp)
		}
		if status, resp := e.sendTo(opByID(t, "putDocuments"), storeB, fixture(t, "documents_sell.json"), userB); status != 200 {
			t.Fatalf("%d %s", status, resp)
		}
		before := e.dumpTables()
		if status, resp := e.send(opByID(t, "postReceipts"), receipt(strings.ToUpper(recID), storeA, 1), userA); status != 404 || string(resp) != "{}\n" {
			t.Fatalf("A re-sending B's receipt id: %d %s", status, resp)
		}
		if status, resp := e.sendTo(opByID(t, "putDocuments"), storeA, fixture(t, "documents_sell.json"), userA); status != 404 {
			t.Fatalf("A sending B's document uuid: %d %s", status, resp)
		}
		// A batch where only one of two devices is B's fails whole.
		e.send(opByID(t, "putDevices"), []byte(`[{"uuid":"20991231-0000-4000-8000-0000000000d1","storeUuid":"`+storeB+`"}]`), userB)
		before = e.dumpTables()
		status, _ := e.send(opByID(t, "putDevices"), []byte(`[{"uuid":"20991231-0000-4000-8000-0000000000d2"},{"uuid":"20991231-0000-4000-8000-0000000000d1"}]`), userA)
		if status != 404 || e.dumpTables() != before {
			t.Fatalf("mixed batch: %d, or rows changed", status)
		}
	})
}

// TestTenMegabyteCatalogueBecomesProducts: every product of a 10 MB body is stored.
func TestTenMegabyteCatalogueBecomesProducts(t *testing.T) {
	t.Parallel() // on databases of its own: runs beside the others
	if testing.Short() {
		t.Skip("10 MB bodies, seconds of CPU: make test runs it")
	}
	body := catalogue(10 << 20)
	want := int64(strings.Count(string(body), `"uuid"`))
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		if status, resp := e.send(opByID(t, "createProducts"), body, bearer(e.createUser("01-000000000000001"))); status != 200 {
			t.Fatalf("%d %s", status, resp)
		}
		var products, barcodes int64
		e.db.Model(&storage.ProductRow{}).Count(&products)
		e.db.Model(&storage.ProductBarcode{}).Count(&barcodes)
		if products != want || barcodes != want {
			t.Fatalf("%d products and %d barcodes stored of %d", products, barcodes, want)
		}
	})
}
