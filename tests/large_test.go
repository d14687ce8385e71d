package tests

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/evotor-partner/evotor-partner/impl/storage"
)

// catalogue builds a products body of about size bytes, in Evotor's product shape.
func catalogue(size int) []byte {
	var b bytes.Buffer
	b.WriteString("[")
	for i := 0; b.Len() < size; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"uuid":"%08x-8707-4f47-9d9c-4db058054cb2","code":"%d","barCodes":["%013d"],"alcoCodes":null,`+
			`"name":"Товар номер %d из большого каталога","price":123.12,"quantity":"12.000","costPrice":100.123,"measureName":"шт",`+
			`"tax":"VAT_20","allowToSell":true,"description":"Описание товара, достаточно длинное для реального каталога: %d",`+
			`"articleNumber":"A-%d","parentUuid":null,"group":false,"type":"NORMAL","hasVariants":false}`, i, i, 4600000000000+i, i, i, i)
	}
	b.WriteString("]")
	return b.Bytes()
}

// TestTenMegabyteCatalogueIsStoredWhole: Evotor sends whole catalogues in one body.
func TestTenMegabyteCatalogueIsStoredWhole(t *testing.T) {
	body := catalogue(10 << 20)
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		token := e.createUser("01-000000000000001")
		status, resp := e.send(opByID(t, "createProducts"), body, bearer(token))
		if status != 200 {
			t.Fatalf("%d %s", status, resp)
		}
		var got storage.InboxEntry
		if err := e.db.Take(&got).Error; err != nil || !bytes.Equal(got.Body, body) {
			t.Fatalf("stored %d of %d bytes (%v)", len(got.Body), len(body), err)
		}
	})
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
