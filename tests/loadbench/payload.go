package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// receiptItem is one line of a receipt, as in tests/testdata/evotor/requests/receipts_v2_sell.json.
const receiptItem = `{"id":%q,"name":"Сидр яблочный","itemType":"ALCOHOL_NOT_MARKED","measureName":"шт","quantity":2,` +
	`"price":123.12,"costPrice":100.12,"sumPrice":246.24,"tax":37.56,"taxPercent":18,"discount":0}`

// receiptItems: four lines make the ~1.7 KB receipt the performance goals are stated for.
const receiptItems = 4

// receipt is a v2 ReceiptCreated event in the fixture's shape with fresh event, receipt and
// item ids, so that every request is a new receipt the server must store.
func receipt(userID string) []byte {
	items := make([]string, receiptItems)
	for i := range items {
		items[i] = fmt.Sprintf(receiptItem, uuid.NewString())
	}
	return fmt.Appendf(nil, `{"id":%q,"timestamp":%d,"userId":%q,"type":"ReceiptCreated","version":2,"data":{"id":%q,`+
		`"deviceId":"1022722e-9441-4beb-beae-c6bc5e7af30d","storeId":"20170928-3176-40EB-80E2-A11F032E282A",`+
		`"dateTime":%q,"type":"SELL","shiftId":"80","employeeId":"20170417-46B8-40B9-802E-4DEB67C07565",`+
		`"paymentSource":"PAY_CASH","infoCheck":false,"egais":false,"items":[%s],`+
		`"totalTax":150.24,"totalDiscount":0,"totalAmount":984.96,"extras":{"comment":"load benchmark receipt"}}}`,
		uuid.NewString(), time.Now().UnixMilli(), userID, uuid.NewString(),
		time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), strings.Join(items, ","))
}

// product is one catalogue entry in Evotor's product shape.
type product struct {
	UUID          string   `json:"uuid"`
	Code          string   `json:"code"`
	BarCodes      []string `json:"barCodes"`
	AlcoCodes     []string `json:"alcoCodes"`
	Name          string   `json:"name"`
	Price         float64  `json:"price"`
	Quantity      string   `json:"quantity"`
	CostPrice     float64  `json:"costPrice"`
	MeasureName   string   `json:"measureName"`
	Tax           string   `json:"tax"`
	AllowToSell   bool     `json:"allowToSell"`
	Description   string   `json:"description"`
	ArticleNumber string   `json:"articleNumber"`
	ParentUUID    *string  `json:"parentUuid"`
	Group         bool     `json:"group"`
	Type          string   `json:"type"`
	HasVariants   bool     `json:"hasVariants"`
}

// catalogue is a products body of at least size bytes (a 10 MB one holds ~24,000 products),
// each product with its own uuid and barcode.
func catalogue(size int) []byte {
	var b strings.Builder
	b.WriteByte('[')
	for i := 0; b.Len() < size; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		p, _ := json.Marshal(product{ // a struct of strings, numbers and bools always encodes
			UUID: uuid.NewString(), Code: fmt.Sprint(i), BarCodes: []string{fmt.Sprintf("%013d", 4600000000000+i)},
			Name: fmt.Sprintf("Товар номер %d из большого каталога", i), Price: 123.12, Quantity: "12.000",
			CostPrice: 100.123, MeasureName: "шт", Tax: "VAT_20", AllowToSell: true,
			Description:   fmt.Sprintf("Описание товара, достаточно длинное для реального каталога: %d", i),
			ArticleNumber: fmt.Sprintf("A-%d", i), Type: "NORMAL",
		})
		b.Write(p)
	}
	b.WriteByte(']')
	return []byte(b.String())
}
