package restsim

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/uuid"

	"github.com/evotor-partner/evotor-partner/generated/evotorrest"
)

// Product and product group writes, as the contract describes them: one at a time answered
// 200 with the record as stored (POST forms its id, PUT takes the path's), PATCH sets some
// fields, DELETE answers 204; bulk writes are done at once and answered 202 with a task, which
// GET /bulks/{id} then shows COMPLETED (or FAILED, naming each element refused).

// maxBulkDelete is how many ids one DELETE may name (the contract: at most 100).
const maxBulkDelete = 100

// checkWritten is what a written product or group needs: a name.
func checkWritten(o object) []violation {
	if v, ok := o.get("name"); !ok || v.Kind() != '"' || string(v) == `""` {
		return []violation{{"name", "must not be null"}}
	}
	return nil
}

// writeOne creates (id "": one is formed) or replaces one record from the request's body.
func (a *api) writeOne(ctx context.Context, k Kind, store, id string) reply {
	req := requestOf(ctx)
	o, err := parseObject(req.body)
	if err != nil {
		return invalid("the body is not a JSON object: " + err.Error())
	}
	if v := checkWritten(o); v != nil {
		return invalid("validation failed for specified payload", v...)
	}
	o = restShape(k, o)
	if id == "" {
		id = uuid.NewString()
	}
	o.setString("id", id)
	written, err := a.model.write(req.user, k, store, []object{o})
	if err != nil {
		return notFound("store")
	}
	return ok(written[0].JSON)
}

// writeBulk creates (forming ids) or replaces (ids given) records, as a task done at once.
func (a *api) writeBulk(ctx context.Context, k Kind, store string, create bool) reply {
	req := requestOf(ctx)
	items, err := parseItems(req.body)
	if err != nil {
		return invalid("the body is not a JSON array of objects: " + err.Error())
	}
	var good []object
	var details []byte
	for i, it := range items {
		o := restShape(k, it.obj)
		v := checkWritten(o)
		if create {
			o.setString("id", uuid.NewString())
		} else if o.text("id") == "" {
			v = append(v, violation{"id", "must not be null"})
		}
		if v != nil {
			details = appendDetail(details, k, o.text("id"), fmt.Sprintf("element %d: validation failed", i), v)
			continue
		}
		good = append(good, o)
	}
	if _, err := a.model.write(req.user, k, store, good); errors.Is(err, errNoStore) {
		return notFound("store")
	}
	id, typ := uuid.NewString(), "product"
	if k == KindProductGroup {
		typ = "product_group"
	}
	var task object
	task.setString("id", id)
	task.setString("status", "ACCEPTED")
	task.setString("type", typ)
	task.setString("modified_at", formatTime(a.now()))
	done := task.clone()
	if details == nil {
		done.setString("status", "COMPLETED")
		done.set("details", jsontext.Value("[]"))
	} else {
		done.setString("status", "FAILED")
		done.set("details", append(append([]byte{'['}, details...), ']'))
	}
	a.model.putBulk(req.user, id, done)
	return reply{202, task.marshal()}
}

func appendDetail(b []byte, k Kind, id, message string, v []violation) []byte {
	if b != nil {
		b = append(b, ',')
	}
	d := failure(0, "validation_failed", message, v...).body
	o, _ := parseObject(d)
	if k == KindProduct && id != "" {
		o.setString("product_id", id)
	}
	return append(b, o.marshal()...)
}

// patchOne sets the fields a PATCH may set (named in allowed), at least one.
func (a *api) patchOne(ctx context.Context, k Kind, store, id string, allowed ...string) reply {
	req := requestOf(ctx)
	o, err := parseObject(req.body)
	if err != nil {
		return invalid("the body is not a JSON object: " + err.Error())
	}
	var set object
	for _, name := range allowed {
		if v, ok := o.get(name); ok {
			set.set(name, v)
		}
	}
	if len(set) == 0 {
		return invalid("nothing to update", violation{allowed[0], "one of the fields must be given"})
	}
	r, err := a.model.patch(req.user, k, store, id, set)
	return recordReply(k, r, err)
}

// deleteSome deletes one record (404 when absent) or, with many, up to maxBulkDelete (204
// whether or not each existed).
func (a *api) deleteSome(ctx context.Context, k Kind, store string, one bool, ids []string) reply {
	if len(ids) > maxBulkDelete {
		return invalid(fmt.Sprintf("at most %d ids", maxBulkDelete), violation{"id", "size must be between 1 and 100"})
	}
	n, err := a.model.remove(requestOf(ctx).user, k, store, ids...)
	switch {
	case errors.Is(err, errNoStore):
		return notFound("store")
	case one && n == 0:
		return notFound(k.String())
	}
	return noContent
}

func (a *api) CreateProducts(ctx context.Context, req evotorrest.CreateProductsRequestObject) (evotorrest.CreateProductsResponseObject, error) {
	if req.ApplicationVndEvotorV2PlusBulkJSONBody != nil { // the bulk media type: an array
		return a.writeBulk(ctx, KindProduct, req.StoreId, true), nil
	}
	return a.writeOne(ctx, KindProduct, req.StoreId, ""), nil
}

func (a *api) ReplaceProducts(ctx context.Context, req evotorrest.ReplaceProductsRequestObject) (evotorrest.ReplaceProductsResponseObject, error) {
	return a.writeBulk(ctx, KindProduct, req.StoreId, false), nil
}

func (a *api) ReplaceProduct(ctx context.Context, req evotorrest.ReplaceProductRequestObject) (evotorrest.ReplaceProductResponseObject, error) {
	return a.writeOne(ctx, KindProduct, req.StoreId, req.ProductId), nil
}

func (a *api) UpdateProduct(ctx context.Context, req evotorrest.UpdateProductRequestObject) (evotorrest.UpdateProductResponseObject, error) {
	return a.patchOne(ctx, KindProduct, req.StoreId, req.ProductId, "quantity", "price", "cost_price"), nil
}

func (a *api) DeleteProduct(ctx context.Context, req evotorrest.DeleteProductRequestObject) (evotorrest.DeleteProductResponseObject, error) {
	return a.deleteSome(ctx, KindProduct, req.StoreId, true, []string{req.ProductId}), nil
}

func (a *api) DeleteProducts(ctx context.Context, req evotorrest.DeleteProductsRequestObject) (evotorrest.DeleteProductsResponseObject, error) {
	return a.deleteSome(ctx, KindProduct, req.StoreId, false, req.Params.Id), nil
}

func (a *api) CreateProductGroups(ctx context.Context, req evotorrest.CreateProductGroupsRequestObject) (evotorrest.CreateProductGroupsResponseObject, error) {
	if req.ApplicationVndEvotorV2PlusBulkJSONBody != nil { // the bulk media type: an array
		return a.writeBulk(ctx, KindProductGroup, req.StoreId, true), nil
	}
	return a.writeOne(ctx, KindProductGroup, req.StoreId, ""), nil
}

func (a *api) ReplaceProductGroups(ctx context.Context, req evotorrest.ReplaceProductGroupsRequestObject) (evotorrest.ReplaceProductGroupsResponseObject, error) {
	return a.writeBulk(ctx, KindProductGroup, req.StoreId, false), nil
}

func (a *api) ReplaceProductGroup(ctx context.Context, req evotorrest.ReplaceProductGroupRequestObject) (evotorrest.ReplaceProductGroupResponseObject, error) {
	return a.writeOne(ctx, KindProductGroup, req.StoreId, req.ProductGroupId), nil
}

func (a *api) UpdateProductGroup(ctx context.Context, req evotorrest.UpdateProductGroupRequestObject) (evotorrest.UpdateProductGroupResponseObject, error) {
	return a.patchOne(ctx, KindProductGroup, req.StoreId, req.ProductGroupId, "name", "barcodes"), nil
}

func (a *api) DeleteProductGroup(ctx context.Context, req evotorrest.DeleteProductGroupRequestObject) (evotorrest.DeleteProductGroupResponseObject, error) {
	return a.deleteSome(ctx, KindProductGroup, req.StoreId, true, []string{req.ProductGroupId}), nil
}

func (a *api) DeleteProductGroups(ctx context.Context, req evotorrest.DeleteProductGroupsRequestObject) (evotorrest.DeleteProductGroupsResponseObject, error) {
	return a.deleteSome(ctx, KindProductGroup, req.StoreId, false, req.Params.Id), nil
}
