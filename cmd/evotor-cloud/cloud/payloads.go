package cloud

import (
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Realistic payloads in Evotor's shapes, with fresh ids, for the lifecycle and the load.

func evotorTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000-0700") }

func subscriptionEvent(sub, userID, product string, seq int, typ, extra string) []byte {
	return fmt.Appendf(nil, `{"subscriptionId":%q,"productId":%q,"userId":%q,"timestamp":%q,"sequenceNumber":%d,"type":%q%s}`,
		sub, product, userID, evotorTime(time.Now()), seq, typ, extra)
}

func installationEvent(userID, product, typ string) []byte {
	return fmt.Appendf(nil, `{"id":%q,"timestamp":%d,"version":2,"type":%q,"data":{"userId":%q,"productId":%q}}`,
		uuid.NewString(), time.Now().UnixMilli(), typ, userID, product)
}

func storesBody(store string) []byte {
	return append(storeJSON([]byte("["), store, "Магазин у дома"), ']')
}

func devicesBody(device, store string) []byte {
	return append(deviceJSON([]byte("["), device, "Касса №1", store), ']')
}

func employeesBody(employee, store string) []byte {
	return append(employeeJSON([]byte("["), employee, "Иван", store), ']')
}

// storeJSON, deviceJSON and employeeJSON append one element of the lists Evotor sends to b.
func storeJSON(b []byte, store, name string) []byte {
	return fmt.Appendf(b, `{"uuid":%q,"name":%q,"address":"Россия, Москва, Старопанский переулок"}`, store, name)
}

func deviceJSON(b []byte, device, name, store string) []byte {
	return fmt.Appendf(b, `{"uuid":%q,"name":%q,"storeUuid":%q,"timezoneOffset":10800000}`, device, name, store)
}

func employeeJSON(b []byte, employee, name, store string) []byte {
	return fmt.Appendf(b, `{"uuid":%q,"name":%q,"lastName":"Иванов","patronymicName":null,"phone":79876543210,"stores":[%q],"role":"ADMIN"}`,
		employee, name, store)
}

// productsBody is a group and n products in it, with fresh uuids and barcodes.
func productsBody(n int) []byte {
	group := uuid.NewString()
	b := append(groupJSON([]byte("["), group), ',')
	code := time.Now().UnixNano() % 1e11
	for i := 0; i < n; i++ {
		b = append(productJSON(b, uuid.NewString(), code+int64(i), 12312, group), ',')
	}
	b[len(b)-1] = ']'
	return b
}

// groupJSON appends a group of products (a folder of the catalogue) to b.
func groupJSON(b []byte, group string) []byte {
	return fmt.Appendf(b, `{"uuid":%q,"name":"Напитки","group":true,"hasVariants":false,"parentUuid":null}`, group)
}

// productJSON appends a product to b: its name and barcode follow from its code, so the same
// uuid, code and price (in kopecks) give the same bytes.
func productJSON(b []byte, id string, code, kopecks int64, group string) []byte {
	return fmt.Appendf(b, `{"uuid":%q,"code":"%d","barCodes":["46%011d"],"name":"Сидр %d","price":%d.%02d,"quantity":"12.000",`+
		`"costPrice":100.123,"measureName":"шт","tax":"VAT_20","allowToSell":true,"parentUuid":%q,"group":false,"type":"NORMAL"}`,
		id, code, code, code, kopecks/100, kopecks%100, group)
}

func documentsBody(device string) []byte {
	return append(documentJSON([]byte("["), "SELL", 7, device, uuid.NewString(), uuid.NewString()), ']')
}

// documentJSON appends a document of typ (SELL, PAYBACK, …) that employee closed on device.
func documentJSON(b []byte, typ string, number int, device, session, employee string) []byte {
	t := evotorTime(time.Now())
	return fmt.Appendf(b, `{"type":%q,"uuid":%q,"extras":{},"number":%d,"closeSum":"246.24","openDate":%q,"closeDate":%q,`+
		`"deviceUuid":%q,"sessionUUID":%q,"openUserCode":null,"openUserUuid":%q,"closeUserCode":null,"closeUserUuid":%q,`+
		`"sessionNumber":"1","closeResultSum":"246.24","transactions":[{"id":"23","type":"DOCUMENT_OPEN","userUuid":%q,"creationDate":%q}]}`,
		typ, uuid.NewString(), number, t, t, device, session, employee, employee, employee, t)
}

func receiptBody(userID, store, device, employee string) []byte {
	return receiptWithItems(userID, store, device, employee, 1)
}

// receiptWithItems is a sale of n items (two of each at 123.12), with fresh ids.
func receiptWithItems(userID, store, device, employee string, n int) []byte {
	items := make([]byte, 0, 256*n)
	for i := range n {
		if i > 0 {
			items = append(items, ',')
		}
		items = fmt.Appendf(items, `{"id":%q,"name":"Сидр","itemType":"NORMAL","measureName":"шт","quantity":2,`+
			`"price":123.12,"costPrice":100.12,"sumPrice":246.24,"tax":37.56,"taxPercent":18,"discount":0}`, uuid.NewString())
	}
	total := fmt.Sprintf(`"totalTax":%.2f,"totalDiscount":0,"totalAmount":%.2f`, 37.56*float64(n), 246.24*float64(n))
	return fmt.Appendf(nil, `{"id":%q,"timestamp":%d,"userId":%q,"type":"ReceiptCreated","version":2,"data":{"id":%q,`+
		`"deviceId":%q,"storeId":%q,"dateTime":%q,"type":"SELL","shiftId":"80","employeeId":%q,"paymentSource":"PAY_CASH",`+
		`"infoCheck":false,"egais":false,"items":[%s],%s,"extras":{}}}`,
		uuid.NewString(), time.Now().UnixMilli(), userID, uuid.NewString(), device, store,
		time.Now().UTC().Format(time.RFC3339), employee, items, total)
}
