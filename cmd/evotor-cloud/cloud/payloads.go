package cloud

import (
	"fmt"
	"strings"
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
	return fmt.Appendf(nil, `[{"uuid":%q,"name":"Магазин у дома","address":"Россия, Москва, Старопанский переулок"}]`, store)
}

func devicesBody(device, store string) []byte {
	return fmt.Appendf(nil, `[{"uuid":%q,"name":"Касса №1","storeUuid":%q,"timezoneOffset":10800000}]`, device, store)
}

func employeesBody(employee, store string) []byte {
	return fmt.Appendf(nil, `[{"uuid":%q,"name":"Иван","lastName":"Иванов","patronymicName":null,"phone":79876543210,"stores":[%q],"role":"ADMIN"}]`, employee, store)
}

// productsBody is a group and n products in it, with fresh uuids and barcodes.
func productsBody(n int) []byte {
	group := uuid.NewString()
	items := []string{fmt.Sprintf(`{"uuid":%q,"name":"Напитки","group":true,"hasVariants":false,"parentUuid":null}`, group)}
	for i := 0; i < n; i++ {
		items = append(items, fmt.Sprintf(`{"uuid":%q,"code":"%d","barCodes":["46%011d"],"name":"Сидр %d","price":123.12,"quantity":"12.000",`+
			`"costPrice":100.123,"measureName":"шт","tax":"VAT_20","allowToSell":true,"parentUuid":%q,"group":false,"type":"NORMAL"}`,
			uuid.NewString(), i, time.Now().UnixNano()%1e11+int64(i), i, group))
	}
	return []byte("[" + strings.Join(items, ",") + "]")
}

func documentsBody(device string) []byte {
	t := evotorTime(time.Now())
	return fmt.Appendf(nil, `[{"type":"SELL","uuid":%q,"extras":{},"number":7,"closeSum":"246.24","openDate":%q,"closeDate":%q,`+
		`"deviceUuid":%q,"sessionUUID":%q,"openUserCode":null,"openUserUuid":%q,"closeUserCode":null,"closeUserUuid":%q,`+
		`"sessionNumber":"1","closeResultSum":"246.24","transactions":[{"id":"23","type":"DOCUMENT_OPEN","userUuid":%q,"creationDate":%q}]}]`,
		uuid.NewString(), t, t, device, uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString(), t)
}

func receiptBody(userID, store, device, employee string) []byte {
	return fmt.Appendf(nil, `{"id":%q,"timestamp":%d,"userId":%q,"type":"ReceiptCreated","version":2,"data":{"id":%q,`+
		`"deviceId":%q,"storeId":%q,"dateTime":%q,"type":"SELL","shiftId":"80","employeeId":%q,"paymentSource":"PAY_CASH",`+
		`"infoCheck":false,"egais":false,"items":[{"id":%q,"name":"Сидр","itemType":"NORMAL","measureName":"шт","quantity":2,`+
		`"price":123.12,"costPrice":100.12,"sumPrice":246.24,"tax":37.56,"taxPercent":18,"discount":0}],`+
		`"totalTax":37.56,"totalDiscount":0,"totalAmount":246.24,"extras":{}}}`,
		uuid.NewString(), time.Now().UnixMilli(), userID, uuid.NewString(), device, store,
		time.Now().UTC().Format(time.RFC3339), employee, uuid.NewString())
}
