package impl

import (
	"bytes"
	"context"
	"fmt"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/valyala/fastjson"

	"github.com/evotor-partner/evotor-partner/generated"
	"github.com/evotor-partner/evotor-partner/impl/evotor"
	"github.com/evotor-partner/evotor-partner/impl/storage"
	"github.com/evotor-partner/evotor-partner/security"
)

// PostReceipts stores each receipt once (by its event id), header and items, and claims the
// stores they name for the token's user. Receipts are the hot path: storage takes the whole
// delivery in one call (on PostgreSQL one statement).
func (s *Server) PostReceipts(ctx context.Context, req generated.PostReceiptsRequestObject) (generated.PostReceiptsResponseObject, error) {
	p, err := s.notifier(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := receiptRows(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	entry, err := s.inboxEntry(ctx, "postReceipts", p.UserID, nil)
	if err != nil {
		return nil, err
	}
	redelivery, err := s.store.AcceptReceipts(ctx, entry, p.Token, p.UserID, rows)
	if err != nil {
		return nil, err
	}
	noteDelivery(ctx, redelivery)
	return generated.PostReceipts200Response{}, nil
}

// receiptRows are the body's receipts as stored for owner: header, items and raw JSON. The
// columns are read from the tree the validator checked (security.BodyTree), not bound again:
// binding a receipt into the generated model cost as much as validating it, on the hot path.
// What is stored is so the very value validated; a uuid-shaped id is keyed canonically.
func receiptRows(ctx context.Context, owner string) ([]storage.ReceiptRow, error) {
	body := security.RawBodyFrom(ctx)
	tree, err := security.BodyTree(ctx)
	if err != nil {
		return nil, err
	}
	defer security.ReleaseBodyTree(ctx) // everything kept is copied out below
	spans, err := receiptSpans(body)
	if err != nil {
		return nil, err
	}
	receipts := []*fastjson.Value{tree}
	if tree.Type() == fastjson.TypeArray {
		receipts = tree.GetArray()
	}
	if len(receipts) != len(spans) {
		return nil, fmt.Errorf("receipts: %d in the tree, %d in the body", len(receipts), len(spans))
	}
	rows := make([]storage.ReceiptRow, len(receipts))
	for i, r := range receipts {
		d := r.Get("data")
		rows[i] = storage.ReceiptRow{OwnerID: owner, ID: string(r.GetStringBytes("id")),
			ReceiptUUID: evotor.CanonicalID(string(d.GetStringBytes("id"))), StoreUUID: evotor.CanonicalID(string(d.GetStringBytes("storeId"))),
			DeviceUUID: canonical(memberText(d, "deviceId")), EmployeeUUID: canonical(memberText(d, "employeeId")),
			ShiftID: memberText(d, "shiftId"), Type: string(d.GetStringBytes("type")), PaymentSource: memberText(d, "paymentSource"),
			DateTime:    evotorTime(memberScalar(d, "dateTime")),
			TotalAmount: memberScalar(d, "totalAmount"), TotalTax: memberScalar(d, "totalTax"), TotalDiscount: memberScalar(d, "totalDiscount"),
			Raw: spans[i].of(body), BodyOffset: spans[i].at}
		for _, it := range d.GetArray("items") {
			rows[i].Items = append(rows[i].Items, storage.ReceiptItemRow{ItemUUID: itemID(memberText(it, "id")), Name: memberText(it, "name"),
				ItemType: memberText(it, "itemType"), Quantity: memberScalar(it, "quantity"), Price: memberScalar(it, "price"),
				SumPrice: memberScalar(it, "sumPrice"), Tax: memberScalar(it, "tax"), Discount: memberScalar(it, "discount")})
		}
	}
	return rows, nil
}

// span is where a value lies in a body: body[at : at+length].
type span struct{ at, length int }

func (s span) of(body []byte) []byte { return body[s.at : s.at+s.length] }

// receiptSpans: the whole (validated) body for one receipt, each element for an array.
func receiptSpans(body []byte) ([]span, error) {
	if !isArray(body) {
		return []span{{0, len(body)}}, nil
	}
	dec := jsontext.NewDecoder(bytes.NewReader(body))
	if _, err := dec.ReadToken(); err != nil { // [
		return nil, err
	}
	var spans []span
	for dec.PeekKind() != ']' {
		v, err := dec.ReadValue()
		if err != nil {
			return nil, err
		}
		end := int(dec.InputOffset())
		spans = append(spans, span{end - len(v), len(v)})
	}
	return spans, nil
}

// isArray: the (validated) JSON value is an array.
func isArray(raw []byte) bool {
	trimmed := bytes.TrimLeft(raw, " \t\r\n")
	return len(trimmed) > 0 && trimmed[0] == '['
}

// itemID keys a receipt position by its product; "" for a free-price position (no product).
func itemID(id *string) string {
	if id == nil {
		return ""
	}
	return evotor.CanonicalID(*id)
}
