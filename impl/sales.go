package impl

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/evotor-partner/evotor-partner/generated"
	"github.com/evotor-partner/evotor-partner/impl/storage"
	"github.com/evotor-partner/evotor-partner/security"
)

// CreateProducts upserts a catalogue (products and groups) of the token user's store.
func (s *Server) CreateProducts(ctx context.Context, req generated.CreateProductsRequestObject) (generated.CreateProductsResponseObject, error) {
	err := s.notify(ctx, "createProducts", storeParams(req.StoreUuid), func(owner string, tx *storage.Tx) error {
		storeUUID, raws, err := claimStoreItems(ctx, tx, owner, req.StoreUuid)
		if err != nil {
			return err
		}
		rows := make([]storage.ProductRow, len(*req.Body))
		for i, p := range *req.Body {
			rows[i] = storage.ProductRow{OwnerID: owner, StoreUUID: storeUUID, UUID: p.Uuid, ParentUUID: canonical(p.ParentUuid),
				IsGroup: p.Group, HasVariants: p.HasVariants, Type: p.Type, Name: p.Name, Code: p.Code,
				BarCodes: jsonText(p.BarCodes), AlcoCodes: jsonText(p.AlcoCodes), Price: decimalText(p.Price),
				Quantity: decimalText(p.Quantity), CostPrice: decimalText(p.CostPrice), MeasureName: p.MeasureName,
				Tax: p.Tax, AllowToSell: p.AllowToSell, ArticleNumber: p.ArticleNumber,
				AlcoholByVolume: decimalText(p.AlcoholByVolume), AlcoholProductKindCode: decimalText(p.AlcoholProductKindCode),
				TareVolume: decimalText(p.TareVolume), Raw: raws[i]}
		}
		return tx.UpsertProducts(rows)
	})
	if err != nil {
		return nil, err
	}
	return generated.CreateProducts200Response{}, nil
}

// PutDocuments upserts documents of the token user's store, each kept whole.
func (s *Server) PutDocuments(ctx context.Context, req generated.PutDocumentsRequestObject) (generated.PutDocumentsResponseObject, error) {
	err := s.notify(ctx, "putDocuments", storeParams(req.StoreUuid), func(owner string, tx *storage.Tx) error {
		storeUUID, raws, err := claimStoreItems(ctx, tx, owner, req.StoreUuid)
		if err != nil {
			return err
		}
		rows := make([]storage.DocumentRow, len(*req.Body))
		for i, d := range *req.Body {
			rows[i] = storage.DocumentRow{OwnerID: owner, UUID: d.Uuid, StoreUUID: storeUUID, Type: d.Type,
				DeviceUUID: canonical(d.DeviceUuid), SessionUUID: canonical(d.SessionUUID), SessionNumber: d.SessionNumber,
				Number: decimalText(d.Number), OpenAt: evotorTime(d.OpenDate), CloseAt: evotorTime(d.CloseDate),
				CloseSum: decimalText(d.CloseSum), CloseResultSum: decimalText(d.CloseResultSum), Raw: raws[i]}
		}
		return tx.UpsertDocuments(rows)
	})
	if err != nil {
		return nil, err
	}
	return generated.PutDocuments200Response{}, nil
}

// PostReceipts stores each receipt once (by its event id), header and items.
func (s *Server) PostReceipts(ctx context.Context, req generated.PostReceiptsRequestObject) (generated.PostReceiptsResponseObject, error) {
	err := s.notify(ctx, "postReceipts", nil, func(owner string, tx *storage.Tx) error {
		receipts, raws, err := receiptList(ctx)
		if err != nil {
			return err
		}
		rows := make([]storage.ReceiptRow, len(receipts))
		stores := make([]string, len(receipts))
		for i, r := range receipts {
			d := r.Data
			stores[i] = d.StoreId
			rows[i] = storage.ReceiptRow{OwnerID: owner, ID: r.Id, ReceiptUUID: security.CanonicalID(d.Id),
				StoreUUID: security.CanonicalID(d.StoreId), DeviceUUID: canonical(d.DeviceId), EmployeeUUID: canonical(d.EmployeeId),
				ShiftID: d.ShiftId, Type: d.Type, PaymentSource: d.PaymentSource, DateTime: evotorTime(d.DateTime),
				TotalAmount: decimalText(d.TotalAmount), TotalTax: decimalText(d.TotalTax), TotalDiscount: decimalText(d.TotalDiscount),
				Raw: raws[i]}
			if d.Items != nil {
				for _, it := range *d.Items {
					rows[i].Items = append(rows[i].Items, storage.ReceiptItemRow{ItemUUID: itemID(it.Id), Name: it.Name,
						ItemType: it.ItemType, Quantity: decimalText(it.Quantity), Price: decimalText(it.Price),
						SumPrice: decimalText(it.SumPrice), Tax: decimalText(it.Tax), Discount: decimalText(it.Discount)})
				}
			}
		}
		if err := tx.ClaimStores(owner, stores...); err != nil {
			return err
		}
		return tx.InsertReceipts(rows)
	})
	if err != nil {
		return nil, err
	}
	return generated.PostReceipts200Response{}, nil
}

// claimStoreItems makes the path's store the owner's (ErrNotOwner when it is another user's)
// and splits the body into its items, raw.
func claimStoreItems(ctx context.Context, tx *storage.Tx, owner, storeUUID string) (string, []json.RawMessage, error) {
	if err := tx.ClaimStores(owner, storeUUID); err != nil {
		return "", nil, err
	}
	raws, err := rawItems(ctx)
	return security.CanonicalID(storeUUID), raws, err
}

// receiptList reads a receipts body, one receipt or an array of them, with each receipt's raw
// JSON. Each receipt is bound from its raw JSON with exact member names: the generated union's
// own accessors would decode it again, case-insensitively.
func receiptList(ctx context.Context) ([]generated.Receipt, [][]byte, error) {
	raws := [][]byte{security.RawBodyFrom(ctx)}
	if isArray(raws[0]) {
		items, err := rawItems(ctx)
		if err != nil {
			return nil, nil, err
		}
		raws = make([][]byte, len(items))
		for i, item := range items {
			raws[i] = item
		}
	}
	receipts := make([]generated.Receipt, len(raws))
	for i, raw := range raws {
		if err := security.BindExact(raw, &receipts[i]); err != nil {
			return nil, nil, err
		}
	}
	return receipts, raws, nil
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
