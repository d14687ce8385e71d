package restsim

import (
	"context"
	"errors"
	"time"

	"github.com/evotor-partner/evotor-partner/generated/evotorrest"
)

// api answers the contract's operations from the model (the generated strict server calls it
// once the request passed the gate: media type, token, rate limit, the contract's checks).
type api struct {
	model    *Model
	pageSize func() int
	now      func() time.Time
}

var _ evotorrest.StrictServerInterface = (*api)(nil)

// request is what the gate found out about a request: whose token, and the body as sent.
type request struct {
	user string
	body []byte
}

type requestKey struct{}

func requestOf(ctx context.Context) request {
	r, _ := ctx.Value(requestKey{}).(request)
	return r
}

// list answers one page of a listing: the first (the query as given) or the next (the cursor's).
func (a *api) list(ctx context.Context, q query, at *string) reply {
	q.User = requestOf(ctx).user
	after := uint64(0)
	if at != nil && *at != "" {
		c, err := decodeCursor(*at, q)
		if err != nil {
			return invalid(err.Error(), violation{"cursor", "unknown cursor"})
		}
		q, after = c.Q, c.After
	}
	items, next, err := a.model.page(q, after, a.pageSize())
	if errors.Is(err, errNoStore) {
		return notFound("store")
	}
	b := []byte(`{"items":[`)
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, it...)
	}
	b = append(b, `],"paging":{`...)
	if next != 0 {
		var p object
		p.setString("next_cursor", cursor{Q: q, After: next}.encode())
		b = append(b, p.marshal()[1:]...) // "next_cursor":"…"}
	} else {
		b = append(b, '}')
	}
	return ok(append(b, '}'))
}

// one answers one record (a document with its body).
func (a *api) one(ctx context.Context, k Kind, store, id string) reply {
	r, err := a.model.get(requestOf(ctx).user, k, store, id)
	return recordReply(k, r, err)
}

// recordReply answers a record read or written, or why there is none.
func recordReply(k Kind, r Record, err error) reply {
	switch {
	case errors.Is(err, errNoStore):
		return notFound("store")
	case err != nil:
		return notFound(k.String())
	}
	return ok(r.JSON)
}

// documentQuery is a document listing's filters; until defaults to now, fixed for the series.
func (a *api) documentQuery(store, device string, since, until *int64, types *[]string) query {
	q := query{Kind: KindDocument, Store: store, Device: device, Since: since, Until: until}
	if until == nil {
		now := a.now().UnixMilli()
		q.Until = &now
	}
	if types != nil {
		q.Types = *types
	}
	return q
}

func (a *api) ListStores(ctx context.Context, req evotorrest.ListStoresRequestObject) (evotorrest.ListStoresResponseObject, error) {
	return a.list(ctx, query{Kind: KindStore}, req.Params.Cursor), nil
}

func (a *api) GetStore(ctx context.Context, req evotorrest.GetStoreRequestObject) (evotorrest.GetStoreResponseObject, error) {
	return a.one(ctx, KindStore, "", req.StoreId), nil
}

func (a *api) ListDevices(ctx context.Context, req evotorrest.ListDevicesRequestObject) (evotorrest.ListDevicesResponseObject, error) {
	return a.list(ctx, query{Kind: KindDevice, Store: deref(req.Params.StoreId)}, req.Params.Cursor), nil
}

func (a *api) GetDevice(ctx context.Context, req evotorrest.GetDeviceRequestObject) (evotorrest.GetDeviceResponseObject, error) {
	return a.one(ctx, KindDevice, "", req.DeviceId), nil
}

func (a *api) ListEmployees(ctx context.Context, req evotorrest.ListEmployeesRequestObject) (evotorrest.ListEmployeesResponseObject, error) {
	return a.list(ctx, query{Kind: KindEmployee, Store: deref(req.Params.StoreId)}, req.Params.Cursor), nil
}

func (a *api) GetEmployee(ctx context.Context, req evotorrest.GetEmployeeRequestObject) (evotorrest.GetEmployeeResponseObject, error) {
	return a.one(ctx, KindEmployee, "", req.EmployeeId), nil
}

func (a *api) ListProducts(ctx context.Context, req evotorrest.ListProductsRequestObject) (evotorrest.ListProductsResponseObject, error) {
	return a.list(ctx, query{Kind: KindProduct, Store: req.StoreId, Since: req.Params.Since}, req.Params.Cursor), nil
}

func (a *api) GetProduct(ctx context.Context, req evotorrest.GetProductRequestObject) (evotorrest.GetProductResponseObject, error) {
	return a.one(ctx, KindProduct, req.StoreId, req.ProductId), nil
}

func (a *api) ListProductGroups(ctx context.Context, req evotorrest.ListProductGroupsRequestObject) (evotorrest.ListProductGroupsResponseObject, error) {
	return a.list(ctx, query{Kind: KindProductGroup, Store: req.StoreId}, req.Params.Cursor), nil
}

func (a *api) GetProductGroup(ctx context.Context, req evotorrest.GetProductGroupRequestObject) (evotorrest.GetProductGroupResponseObject, error) {
	return a.one(ctx, KindProductGroup, req.StoreId, req.ProductGroupId), nil
}

func (a *api) ListStoreDocuments(ctx context.Context, req evotorrest.ListStoreDocumentsRequestObject) (evotorrest.ListStoreDocumentsResponseObject, error) {
	p := req.Params
	return a.list(ctx, a.documentQuery(req.StoreId, "", p.Since, p.Until, p.Type), p.Cursor), nil
}

func (a *api) ListDeviceDocuments(ctx context.Context, req evotorrest.ListDeviceDocumentsRequestObject) (evotorrest.ListDeviceDocumentsResponseObject, error) {
	p := req.Params
	return a.list(ctx, a.documentQuery(req.StoreId, req.DeviceId, p.Since, p.Until, p.Type), p.Cursor), nil
}

func (a *api) GetStoreDocument(ctx context.Context, req evotorrest.GetStoreDocumentRequestObject) (evotorrest.GetStoreDocumentResponseObject, error) {
	return a.one(ctx, KindDocument, req.StoreId, req.DocumentId), nil
}

func (a *api) GetBulk(ctx context.Context, req evotorrest.GetBulkRequestObject) (evotorrest.GetBulkResponseObject, error) {
	t, found := a.model.bulk(requestOf(ctx).user, req.BulkId)
	if !found {
		return notFound("bulk task"), nil
	}
	return ok(t.marshal()), nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
