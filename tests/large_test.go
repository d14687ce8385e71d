package tests

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/evotor-partner/evotor-partner/impl/storage"
	"github.com/evotor-partner/evotor-partner/security"
)

// catalogue builds a products body of about size bytes, in Evotor's product shape.
func catalogue(size int) []byte {
	var b bytes.Buffer
	b.WriteString("[")
	for i := 0; b.Len() < size; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		writeProduct(&b, i, "123.12")
	}
	b.WriteString("]")
	return b.Bytes()
}

// products is a catalogue of n products numbered from first, each at price.
func products(first, n int, price string) []byte {
	var b bytes.Buffer
	b.WriteString("[")
	for i := first; i < first+n; i++ {
		if i > first {
			b.WriteString(",")
		}
		writeProduct(&b, i, price)
	}
	b.WriteString("]")
	return b.Bytes()
}

// writeProduct writes product number i (a real catalogue's shape, ~500 bytes).
func writeProduct(b *bytes.Buffer, i int, price string) {
	fmt.Fprintf(b, `{"uuid":"%08x-8707-4f47-9d9c-4db058054cb2","code":"%d","barCodes":["%013d"],"alcoCodes":null,`+
		`"name":"Товар номер %d из большого каталога","price":%s,"quantity":"12.000","costPrice":100.123,"measureName":"шт",`+
		`"tax":"VAT_20","allowToSell":true,"description":"Описание товара, достаточно длинное для реального каталога: %d",`+
		`"articleNumber":"A-%d","parentUuid":null,"group":false,"type":"NORMAL","hasVariants":false}`, i, i, 4600000000000+i, i, price, i, i)
}

// TestTenMegabyteCatalogueIsStoredWhole: Evotor sends whole catalogues in one body.
func TestTenMegabyteCatalogueIsStoredWhole(t *testing.T) {
	t.Parallel() // on databases of its own: runs beside the others
	if testing.Short() {
		t.Skip("10 MB bodies, seconds of CPU: make test runs it")
	}
	body := catalogue(10 << 20)
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		token := e.createUser("01-000000000000001")
		status, resp := e.send(opByID(t, "createProducts"), body, bearer(token))
		if status != 200 {
			t.Fatalf("%d %s", status, resp)
		}
		var got storage.InboxEntry
		err := e.db.Take(&got).Error
		stored := got.Body
		if err == nil {
			got.Body, err = storage.InboxBodyOf(stored) // stored compressed (impl/storage/inbox_body.go)
		}
		if err != nil || !bytes.Equal(got.Body, body) {
			t.Fatalf("stored %d of %d bytes, %d as stored (%v)", len(got.Body), len(body), len(stored), err)
		}
	})
}

// TestLargeReceiptsArrayIsStoredWhole: one delivery of 3,000 receipts with two items each
// (1.8 MB), stored whole in one answer. On PostgreSQL such a batch runs on the hash-join plan:
// on the nested loops meant for a few receipts it took seconds, growing with the square of the
// rows (receipts_batch.go).
func TestLargeReceiptsArrayIsStoredWhole(t *testing.T) {
	t.Parallel()
	const n = 3000
	parts := make([]string, n)
	for i := range parts {
		parts[i] = string(receipt(fmt.Sprintf("b5c9e8a2-3d1f-4a6e-9b7c-%012d", i), "20170928-3176-40EB-80E2-A11F032E282A", 2))
	}
	body := []byte("[" + strings.Join(parts, ",") + "]")
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		token := e.createUser("01-000000000000001")
		start := time.Now()
		status, resp := e.send(opByID(t, "postReceipts"), body, bearer(token))
		if status != 200 {
			t.Fatalf("%d %s", status, resp)
		}
		t.Logf("%d receipts (%d KB) stored in %s", n, len(body)>>10, time.Since(start))
		var receipts, items int64
		e.db.Model(&storage.ReceiptRow{}).Count(&receipts)
		e.db.Model(&storage.ReceiptItemRow{}).Count(&items)
		if receipts != n || items != 2*n {
			t.Fatalf("stored %d receipts and %d items, want %d and %d", receipts, items, n, 2*n)
		}
	})
}

// productName is what catalogue writes as product i's name.
func productName(i int) string {
	return fmt.Sprintf(`"name":"Товар номер %d из большого каталога"`, i)
}

// withProductChanged is body with product i's text old replaced by new (exactly once).
func withProductChanged(t testing.TB, body []byte, i int, old, new string) []byte {
	t.Helper()
	at := bytes.Index(body, fmt.Appendf(nil, `{"uuid":"%08x-`, i))
	end := at + bytes.IndexByte(body[at:], '}') + 1
	item := bytes.Replace(body[at:end], []byte(old), []byte(new), 1)
	if at < 0 || bytes.Equal(item, body[at:end]) {
		t.Fatalf("product %d has no %s", i, old)
	}
	return append(append(append([]byte{}, body[:at]...), item...), body[end:]...)
}

// TestBigArrayBodyWithABadElementInTheMiddle: a catalogue of 2,000 products whose 1,000th is
// bad is refused as a small one would be (the element is checked on its own, not in a tree of
// the whole body): the same code and subject, nothing stored; a body that is not JSON further
// on is refused as not JSON whatever comes before.
func TestBigArrayBodyWithABadElementInTheMiddle(t *testing.T) {
	t.Parallel()
	body := catalogue(1 << 20)
	const middle = 1000
	cases := []struct {
		name    string
		body    []byte
		code    int
		subject string
	}{
		{"name a number", withProductChanged(t, body, middle, productName(middle), `"name":12`), security.CodeIncorrect, "name"},
		{"name missing", withProductChanged(t, body, middle, productName(middle)+",", ""), security.CodeMissing, "name"},
		{"NUL in description", withProductChanged(t, body, middle, `"description":"`, `"description":"\u0000`), security.CodeIncorrect, "description"},
		{"NUL after a bad name", withProductChanged(t, withProductChanged(t, body, 10, productName(10), `"name":12`),
			middle, `"description":"`, `"description":"\u0000`), security.CodeIncorrect, "description"},
		{"field repeated", withProductChanged(t, body, middle, `"tax":`, `"tax":"VAT_0","tax":`), security.CodeIncorrect, "tax"},
		{"not JSON after a bad name", cutShort(withProductChanged(t, body, middle, productName(middle), `"name":12`)), security.CodeMalformed, ""},
	}
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		user := bearer(e.createUser("01-000000000000001"))
		before := e.dumpTables()
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				status, resp := e.send(opByID(t, "createProducts"), c.body, user)
				expectError(t, status, resp, 400, c.code, c.subject)
				if e.dumpTables() != before {
					t.Fatal("a refused catalogue changed the database")
				}
			})
		}
	})
}

// cutShort is an array body with its last element cut in the middle, then closed: not JSON.
func cutShort(body []byte) []byte {
	return append(bytes.Clone(body[:len(body)-100]), ']')
}

// TestResentCatalogueRewritesOnlyChangedProducts: a catalogue of three batches is stored
// exactly (read back through the admin API); sent again with three products changed, exactly
// those three are rewritten (updated_at) and re-indexed (barcodes), and the rest kept as is;
// a product sent changed and then as stored is stored as sent last.
func TestResentCatalogueRewritesOnlyChangedProducts(t *testing.T) {
	t.Parallel() // on databases of its own: runs beside the others
	body := catalogue(1_300_000)
	n := bytes.Count(body, []byte(`"uuid"`))
	changed := map[int]bool{7: true, n / 2: true, n - 1: true}
	resent := body
	for i := range changed {
		resent = withProductChanged(t, resent, i, productName(i), `"name":"renamed"`)
		resent = withProductChanged(t, resent, i, fmt.Sprintf(`"barCodes":["%013d"]`, 4600000000000+i), `"barCodes":["2000000000001","2000000000002"]`)
	}
	// Product 20 changed, then sent again as stored: the last wins, so it is as stored.
	const twice = 20
	at := bytes.Index(resent, fmt.Appendf(nil, `{"uuid":"%08x-`, twice))
	original := resent[at : at+bytes.IndexByte(resent[at:], '}')+1]
	resent = withProductChanged(t, resent, twice, productName(twice), `"name":"renamed"`)
	resent = append(append(bytes.Clone(resent[:len(resent)-1]), ','), append(bytes.Clone(original), ']')...)
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, withAdmin)
		const user = "01-000000000000001"
		token := bearer(e.createUser(user))
		if status, resp := e.sendTo(opByID(t, "createProducts"), storeUUID, body, token); status != 200 {
			t.Fatalf("%d %s", status, resp)
		}
		e.expectProducts(user, body)
		written := e.productsUpdatedAt()
		time.Sleep(10 * time.Millisecond) // a rewrite shows in updated_at
		if status, resp := e.sendTo(opByID(t, "createProducts"), storeUUID, resent, token); status != 200 {
			t.Fatalf("%d %s", status, resp)
		}
		e.expectProducts(user, resent)
		rewritten := e.productsUpdatedAt()
		if len(rewritten) != n {
			t.Fatalf("%d products, want %d", len(rewritten), n)
		}
		for i := range n {
			if i == twice {
				continue // written, then written back: its content is checked above
			}
			uuid := fmt.Sprintf("%08x-8707-4f47-9d9c-4db058054cb2", i)
			if rewritten[uuid].Equal(written[uuid]) == changed[i] {
				t.Errorf("product %d: updated_at %v then %v (changed: %v)", i, written[uuid], rewritten[uuid], changed[i])
			}
		}
		var codes []storage.ProductBarcode
		e.db.Where("barcode LIKE ?", "2%").Order("product_uuid, barcode").Find(&codes)
		var old int64
		e.db.Model(&storage.ProductBarcode{}).Where("barcode IN ?", []string{"4600000000007", fmt.Sprintf("%013d", 4600000000000+n-1)}).Count(&old)
		if len(codes) != 6 || old != 0 {
			t.Fatalf("the changed products' barcodes: %d new of 6, %d old left", len(codes), old)
		}
		var all int64
		e.db.Model(&storage.ProductBarcode{}).Count(&all)
		if all != int64(n+3) {
			t.Fatalf("%d barcodes, want %d", all, n+3)
		}
	})
}

// expectProducts reads the store's products back through the admin API: each as sent.
func (e *env) expectProducts(user string, body []byte) {
	e.t.Helper()
	sent := decodeNumbers(e.t, body).([]any)
	stored := e.adminAll("products", user, storeUUID)
	lastSent := map[string]any{} // a uuid sent twice is stored as sent last
	for _, p := range sent {
		lastSent[p.(map[string]any)["uuid"].(string)] = p
	}
	if len(stored) != len(lastSent) {
		e.t.Fatalf("%d products read back, %d sent", len(stored), len(lastSent))
	}
	for _, p := range stored {
		if uuid := strings.ToLower(p.(map[string]any)["uuid"].(string)); !reflect.DeepEqual(lastSent[uuid], p) {
			e.t.Fatalf("%s read back as %v\nsent %v", uuid, p, lastSent[uuid])
		}
	}
}

// productsUpdatedAt is when each stored product was last written, by uuid.
func (e *env) productsUpdatedAt() map[string]time.Time {
	var rows []storage.ProductRow
	if err := e.db.Select("uuid", "updated_at").Find(&rows).Error; err != nil {
		e.t.Fatal(err)
	}
	at := make(map[string]time.Time, len(rows))
	for _, r := range rows {
		at[r.UUID] = r.UpdatedAt
	}
	return at
}

// BenchmarkTenMegabyteCatalogue: a 10 MB products notification end to end (Evotor waits 10 s):
// "new" into a store that has none of the products (every iteration another store), "resent"
// the same catalogue again (Evotor's retry after a late answer).
func BenchmarkTenMegabyteCatalogue(b *testing.B) {
	body := catalogue(10 << 20)
	for _, be := range backends() {
		e := newEnv(b, be)
		token := bearer(e.createUser("01-000000000000001"))
		o := opByID(b, "createProducts")
		b.Run(be.Name+"/new", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			n := 0
			for b.Loop() {
				n++
				if status, resp := e.sendTo(o, fmt.Sprintf("20991231-0000-4000-8000-%012d", n), body, token); status != 200 {
					b.Fatalf("%d %s", status, resp)
				}
			}
		})
		b.Run(be.Name+"/resent", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			e.sendTo(o, storeUUID, body, token) // the first delivery, not measured
			for b.Loop() {
				if status, resp := e.sendTo(o, storeUUID, body, token); status != 200 {
					b.Fatalf("%d %s", status, resp)
				}
			}
		})
	}
}
