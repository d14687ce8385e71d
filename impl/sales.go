package impl

import (
	"context"
	"iter"

	"github.com/valyala/fastjson"

	"github.com/evotor-partner/evotor-partner/generated"
	"github.com/evotor-partner/evotor-partner/impl/apperr"
	"github.com/evotor-partner/evotor-partner/impl/evotor"
	"github.com/evotor-partner/evotor-partner/impl/storage"
	"github.com/evotor-partner/evotor-partner/security"
)

// Catalogues and document batches (up to 10 MB) are read item by item: the validator checked
// each element of the body and left the body unbound (security.BodyItems), so each element is
// bound here, made a row and written as it comes, and the body is the only whole copy held.

// CreateProducts upserts a catalogue (products and groups) of the token user's store.
func (s *Server) CreateProducts(ctx context.Context, req generated.CreateProductsRequestObject) (generated.CreateProductsResponseObject, error) {
	items, err := rawItems(ctx)
	if err != nil {
		return nil, err
	}
	redelivery, err := s.deliveries.Products(ctx, sender(ctx), delivery(ctx, "createProducts", "", storeParams(req.StoreUuid)),
		req.StoreUuid, items, productRow)
	if err := delivered(ctx, redelivery, err); err != nil {
		return nil, err
	}
	return generated.CreateProducts200Response{}, nil
}

// productRow is a product as stored (its owner and store are the delivery's), read from its
// item as the validator read it: parsed by the validator's parser, the values taken from the
// tree, not bound into the generated model (binding cost a catalogue as much as validating
// it). TestProductRowsAreTheBoundProducts holds it to the rows binding would give.
func productRow(raw []byte) (storage.ProductRow, error) {
	p := productParsers.Get()
	defer productParsers.Put(p)
	v, err := p.ParseBytes(raw)
	if err != nil || v.Type() != fastjson.TypeObject {
		return storage.ProductRow{}, &apperr.Error{Kind: apperr.Incorrect, Subject: "body", Reason: "a product is not an object", Err: err}
	}
	return storage.ProductRow{UUID: string(v.GetStringBytes("uuid")), ParentUUID: canonical(memberText(v, "parentUuid")),
		IsGroup: v.GetBool("group"), HasVariants: memberBool(v, "hasVariants"), Type: memberText(v, "type"),
		Name: string(v.GetStringBytes("name")), Code: memberText(v, "code"), BarCodes: memberList(v, "barCodes"),
		AlcoCodes: memberList(v, "alcoCodes"), Price: memberScalar(v, "price"), Quantity: memberScalar(v, "quantity"),
		CostPrice: memberScalar(v, "costPrice"), MeasureName: memberText(v, "measureName"), Tax: memberText(v, "tax"),
		AllowToSell: memberBool(v, "allowToSell"), ArticleNumber: memberText(v, "articleNumber"),
		AlcoholByVolume: memberScalar(v, "alcoholByVolume"), AlcoholProductKindCode: memberScalar(v, "alcoholProductKindCode"),
		TareVolume: memberScalar(v, "tareVolume"), Raw: raw}, nil
}

var productParsers fastjson.ParserPool

// PutDocuments upserts documents of the token user's store, each kept whole.
func (s *Server) PutDocuments(ctx context.Context, req generated.PutDocumentsRequestObject) (generated.PutDocumentsResponseObject, error) {
	items, err := security.BodyItems(ctx)
	if err != nil {
		return nil, err
	}
	from, storeUUID := sender(ctx), evotor.CanonicalID(req.StoreUuid)
	documents := boundRows(items, boundRow(func(d generated.Document, raw []byte) storage.DocumentRow {
		return storage.DocumentRow{OwnerID: from.UserID, UUID: d.Uuid, StoreUUID: storeUUID, Type: d.Type,
			DeviceUUID: canonical(d.DeviceUuid), SessionUUID: canonical(d.SessionUUID), SessionNumber: numberOrText(d.SessionNumber),
			Number: decimalText(d.Number), OpenAt: evotorTime(d.OpenDate), CloseAt: evotorTime(d.CloseDate),
			CloseSum: decimalText(d.CloseSum), CloseResultSum: decimalText(d.CloseResultSum), Raw: raw}
	}))
	redelivery, err := s.deliveries.Documents(ctx, from, delivery(ctx, "putDocuments", "", storeParams(req.StoreUuid)), req.StoreUuid, documents)
	if err := delivered(ctx, redelivery, err); err != nil {
		return nil, err
	}
	return generated.PutDocuments200Response{}, nil
}

// boundRow binds a raw item into an Item (member names matched exactly, as the validator read
// them) and makes it a row.
func boundRow[Item, Row any](row func(item Item, raw []byte) Row) func(raw []byte) (Row, error) {
	return func(raw []byte) (Row, error) {
		var item Item
		err := security.BindExact(raw, &item)
		return row(item, raw), err
	}
}

// boundRows makes each raw item a row, one at a time, until one fails.
func boundRows[Row any](items iter.Seq[[]byte], row func(raw []byte) (Row, error)) iter.Seq2[Row, error] {
	return func(yield func(Row, error) bool) {
		for raw := range items {
			r, err := row(raw)
			if !yield(r, err) || err != nil {
				return
			}
		}
	}
}
