package impl

import (
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

// claimStoreItems makes the path's store the owner's (ErrNotOwner when it is another user's)
// and splits the body into its items, raw.
func claimStoreItems(ctx context.Context, tx *storage.Tx, owner, storeUUID string) (string, []json.RawMessage, error) {
	if err := tx.ClaimStores(owner, storeUUID); err != nil {
		return "", nil, err
	}
	raws, err := rawItems(ctx)
	return security.CanonicalID(storeUUID), raws, err
}
