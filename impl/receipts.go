package impl

import (
	"context"
	"fmt"

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
	from := sender(ctx)
	rows, err := receiptRows(ctx, from.UserID)
	if err != nil {
		return nil, err
	}
	redelivery, err := s.deliveries.Receipts(ctx, from, delivery(ctx, "postReceipts", "", nil), rows)
	if err := delivered(ctx, redelivery, err); err != nil {
		return nil, err
	}
	return generated.PostReceipts200Response{}, nil
}

// receiptRows are the body's receipts as stored for owner: header, items and raw JSON. The
// columns are read from the tree the validator checked (security.BodyTree), not bound again:
// binding a receipt into the generated model cost as much as validating it, on the hot path.
// What is stored is so the very value validated; a uuid-shaped id is keyed canonically.
func receiptRows(ctx context.Context, owner string) ([]storage.ReceiptRow, error) {
	tree, err := security.BodyTree(ctx)
	if err != nil {
		return nil, err
	}
	defer security.ReleaseBodyTree(ctx) // everything kept is copied out below
	elements, err := security.BodyElements(ctx)
	if err != nil {
		return nil, err
	}
	receipts := []*fastjson.Value{tree}
	if tree.Type() == fastjson.TypeArray {
		receipts = tree.GetArray()
	}
	if len(receipts) != len(elements) {
		return nil, fmt.Errorf("receipts: %d in the tree, %d in the body", len(receipts), len(elements))
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
			Raw: elements[i].Raw, BodyOffset: elements[i].At}
		for _, it := range d.GetArray("items") {
			rows[i].Items = append(rows[i].Items, storage.ReceiptItemRow{ItemUUID: itemID(memberText(it, "id")), Name: memberText(it, "name"),
				ItemType: memberText(it, "itemType"), Quantity: memberScalar(it, "quantity"), Price: memberScalar(it, "price"),
				SumPrice: memberScalar(it, "sumPrice"), Tax: memberScalar(it, "tax"), Discount: memberScalar(it, "discount")})
		}
	}
	return rows, nil
}

// itemID keys a receipt position by its product; "" for a free-price position (no product).
func itemID(id *string) string {
	if id == nil {
		return ""
	}
	return evotor.CanonicalID(*id)
}
