package impl

import (
	"bytes"
	"context"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/evotor-partner/evotor-partner/generated"
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
	entry, err := inboxEntry(ctx, "postReceipts", p.UserID, nil)
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

// receiptRows are the body's receipts as stored for owner: header, items and raw JSON.
func receiptRows(ctx context.Context, owner string) ([]storage.ReceiptRow, error) {
	body := security.RawBodyFrom(ctx)
	receipts, spans, err := receiptList(ctx)
	if err != nil {
		return nil, err
	}
	rows := make([]storage.ReceiptRow, len(receipts))
	for i, r := range receipts {
		d := r.Data
		rows[i] = storage.ReceiptRow{OwnerID: owner, ID: r.Id, ReceiptUUID: security.CanonicalID(d.Id),
			StoreUUID: security.CanonicalID(d.StoreId), DeviceUUID: canonical(d.DeviceId), EmployeeUUID: canonical(d.EmployeeId),
			ShiftID: d.ShiftId, Type: d.Type, PaymentSource: d.PaymentSource, DateTime: evotorTime(d.DateTime),
			TotalAmount: decimalText(d.TotalAmount), TotalTax: decimalText(d.TotalTax), TotalDiscount: decimalText(d.TotalDiscount),
			Raw: spans[i].of(body), BodyOffset: spans[i].at}
		if d.Items != nil {
			for _, it := range *d.Items {
				rows[i].Items = append(rows[i].Items, storage.ReceiptItemRow{ItemUUID: itemID(it.Id), Name: it.Name,
					ItemType: it.ItemType, Quantity: decimalText(it.Quantity), Price: decimalText(it.Price),
					SumPrice: decimalText(it.SumPrice), Tax: decimalText(it.Tax), Discount: decimalText(it.Discount)})
			}
		}
	}
	return rows, nil
}

// receiptList reads a receipts body, one receipt or an array of them, with each receipt's raw
// JSON as a span of the body (storage keeps the body once). Each receipt is bound from its raw
// JSON with exact member names: the generated union's own accessors would decode it again,
// case-insensitively.
func receiptList(ctx context.Context) ([]generated.Receipt, []span, error) {
	body := security.RawBodyFrom(ctx)
	spans, err := receiptSpans(body)
	if err != nil {
		return nil, nil, err
	}
	receipts := make([]generated.Receipt, len(spans))
	for i, sp := range spans {
		if err := security.BindExact(sp.of(body), &receipts[i]); err != nil {
			return nil, nil, err
		}
	}
	return receipts, spans, nil
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
	return security.CanonicalID(*id)
}
