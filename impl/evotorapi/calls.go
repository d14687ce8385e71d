package evotorapi

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"time"

	"github.com/evotor-partner/evotor-partner/generated/evotorrest"
)

// The calls, one per operation of openapi/evotor-rest.yaml that a partner uses. Lists are
// iterators over every page: each step yields one object, or, once, the error that ended the
// listing (after which the iteration stops). Breaking out of the loop stops the paging.

// Type names of the contract's objects, for callers' signatures.
type (
	Store        = evotorrest.Store
	Device       = evotorrest.Device
	Employee     = evotorrest.Employee
	Product      = evotorrest.Product
	ProductPatch = evotorrest.ProductPatch
	ProductGroup = evotorrest.ProductGroup
	GroupPatch   = evotorrest.ProductGroupPatch
	Document     = evotorrest.Document
	BulkTask     = evotorrest.BulkTask
)

// StoreFilter narrows devices and employees to one store ("" for all).
type StoreFilter struct{ StoreID string }

// ProductFilter narrows a store's products to those changed at or after Since (zero: all).
type ProductFilter struct{ Since time.Time }

// DocumentFilter narrows documents to those made in [Since, Until) (zero: unbounded) and of
// the given types (none: all).
type DocumentFilter struct {
	Since, Until time.Time
	Types        []string
}

// Stores lists the user's stores.
func (s *Session) Stores(ctx context.Context) iter.Seq2[Item[Store], error] {
	return list[Store](ctx, s, "listStores", func(ctx context.Context, cursor *string, e evotorrest.RequestEditorFn) (*http.Response, error) {
		return s.c.api.ListStores(ctx, &evotorrest.ListStoresParams{Cursor: cursor}, e)
	})
}

// Store gets one store.
func (s *Session) Store(ctx context.Context, storeID string) (Item[Store], error) {
	return one[Store](ctx, s, "getStore", true, func(ctx context.Context, e evotorrest.RequestEditorFn) (*http.Response, error) {
		return s.c.api.GetStore(ctx, storeID, e)
	})
}

// Devices lists the user's smart terminals.
func (s *Session) Devices(ctx context.Context, f StoreFilter) iter.Seq2[Item[Device], error] {
	store := optional(f.StoreID)
	return list[Device](ctx, s, "listDevices", func(ctx context.Context, cursor *string, e evotorrest.RequestEditorFn) (*http.Response, error) {
		p := &evotorrest.ListDevicesParams{Cursor: cursor}
		if cursor == nil {
			p.StoreId = store
		}
		return s.c.api.ListDevices(ctx, p, e)
	})
}

// Device gets one smart terminal.
func (s *Session) Device(ctx context.Context, deviceID string) (Item[Device], error) {
	return one[Device](ctx, s, "getDevice", true, func(ctx context.Context, e evotorrest.RequestEditorFn) (*http.Response, error) {
		return s.c.api.GetDevice(ctx, deviceID, e)
	})
}

// Employees lists the user's employees.
func (s *Session) Employees(ctx context.Context, f StoreFilter) iter.Seq2[Item[Employee], error] {
	store := optional(f.StoreID)
	return list[Employee](ctx, s, "listEmployees", func(ctx context.Context, cursor *string, e evotorrest.RequestEditorFn) (*http.Response, error) {
		p := &evotorrest.ListEmployeesParams{Cursor: cursor}
		if cursor == nil {
			p.StoreId = store
		}
		return s.c.api.ListEmployees(ctx, p, e)
	})
}

// Employee gets one employee.
func (s *Session) Employee(ctx context.Context, employeeID string) (Item[Employee], error) {
	return one[Employee](ctx, s, "getEmployee", true, func(ctx context.Context, e evotorrest.RequestEditorFn) (*http.Response, error) {
		return s.c.api.GetEmployee(ctx, employeeID, e)
	})
}

// Products lists a store's products and modifications.
func (s *Session) Products(ctx context.Context, storeID string, f ProductFilter) iter.Seq2[Item[Product], error] {
	since := millis(f.Since)
	return list[Product](ctx, s, "listProducts", func(ctx context.Context, cursor *string, e evotorrest.RequestEditorFn) (*http.Response, error) {
		p := &evotorrest.ListProductsParams{Cursor: cursor}
		if cursor == nil {
			p.Since = since
		}
		return s.c.api.ListProducts(ctx, storeID, p, e)
	})
}

// Product gets one product.
func (s *Session) Product(ctx context.Context, storeID, productID string) (Item[Product], error) {
	return one[Product](ctx, s, "getProduct", true, func(ctx context.Context, e evotorrest.RequestEditorFn) (*http.Response, error) {
		return s.c.api.GetProduct(ctx, storeID, productID, e)
	})
}

// ProductGroups lists a store's product groups.
func (s *Session) ProductGroups(ctx context.Context, storeID string) iter.Seq2[Item[ProductGroup], error] {
	return list[ProductGroup](ctx, s, "listProductGroups", func(ctx context.Context, cursor *string, e evotorrest.RequestEditorFn) (*http.Response, error) {
		return s.c.api.ListProductGroups(ctx, storeID, &evotorrest.ListProductGroupsParams{Cursor: cursor}, e)
	})
}

// ProductGroup gets one product group.
func (s *Session) ProductGroup(ctx context.Context, storeID, groupID string) (Item[ProductGroup], error) {
	return one[ProductGroup](ctx, s, "getProductGroup", true, func(ctx context.Context, e evotorrest.RequestEditorFn) (*http.Response, error) {
		return s.c.api.GetProductGroup(ctx, storeID, groupID, e)
	})
}

// StoreDocuments lists the documents of a store's terminals.
func (s *Session) StoreDocuments(ctx context.Context, storeID string, f DocumentFilter) iter.Seq2[Item[Document], error] {
	since, until, types := millis(f.Since), millis(f.Until), optionalList(f.Types)
	return list[Document](ctx, s, "listStoreDocuments", func(ctx context.Context, cursor *string, e evotorrest.RequestEditorFn) (*http.Response, error) {
		p := &evotorrest.ListStoreDocumentsParams{Cursor: cursor}
		if cursor == nil {
			p.Since, p.Until, p.Type = since, until, types
		}
		return s.c.api.ListStoreDocuments(ctx, storeID, p, e)
	})
}

// DeviceDocuments lists the documents of one of a store's terminals.
func (s *Session) DeviceDocuments(ctx context.Context, storeID, deviceID string, f DocumentFilter) iter.Seq2[Item[Document], error] {
	since, until, types := millis(f.Since), millis(f.Until), optionalList(f.Types)
	return list[Document](ctx, s, "listDeviceDocuments", func(ctx context.Context, cursor *string, e evotorrest.RequestEditorFn) (*http.Response, error) {
		p := &evotorrest.ListDeviceDocumentsParams{Cursor: cursor}
		if cursor == nil {
			p.Since, p.Until, p.Type = since, until, types
		}
		return s.c.api.ListDeviceDocuments(ctx, storeID, deviceID, p, e)
	})
}

// Document gets one document of a store, with its body.
func (s *Session) Document(ctx context.Context, storeID, documentID string) (Item[Document], error) {
	return one[Document](ctx, s, "getStoreDocument", true, func(ctx context.Context, e evotorrest.RequestEditorFn) (*http.Response, error) {
		return s.c.api.GetStoreDocument(ctx, storeID, documentID, e)
	})
}

// CreateProduct creates one product; Evotor forms its id. Not retried once it may have reached
// Evotor (a retried create could create twice), except after a 429.
func (s *Session) CreateProduct(ctx context.Context, storeID string, p Product) (Item[Product], error) {
	return one[Product](ctx, s, "createProducts", false, func(ctx context.Context, e evotorrest.RequestEditorFn) (*http.Response, error) {
		return s.c.api.CreateProductsWithApplicationVndEvotorV2PlusJSONBody(ctx, storeID, p, e)
	})
}

// CreateProducts creates up to 1000 products as a bulk task (GET it with Bulk). Not retried
// once it may have reached Evotor, except after a 429.
func (s *Session) CreateProducts(ctx context.Context, storeID string, ps []Product) (Item[BulkTask], error) {
	return one[BulkTask](ctx, s, "createProducts", false, func(ctx context.Context, e evotorrest.RequestEditorFn) (*http.Response, error) {
		return s.c.api.CreateProductsWithApplicationVndEvotorV2PlusBulkJSONBody(ctx, storeID, ps, e)
	})
}

// ReplaceProducts creates or replaces up to 1000 products, each with its id, as a bulk task.
func (s *Session) ReplaceProducts(ctx context.Context, storeID string, ps []Product) (Item[BulkTask], error) {
	return one[BulkTask](ctx, s, "replaceProducts", true, func(ctx context.Context, e evotorrest.RequestEditorFn) (*http.Response, error) {
		return s.c.api.ReplaceProductsWithApplicationVndEvotorV2PlusBulkJSONBody(ctx, storeID, ps, e)
	})
}

// ReplaceProduct creates or replaces the product with this id.
func (s *Session) ReplaceProduct(ctx context.Context, storeID, productID string, p Product) (Item[Product], error) {
	return one[Product](ctx, s, "replaceProduct", true, func(ctx context.Context, e evotorrest.RequestEditorFn) (*http.Response, error) {
		return s.c.api.ReplaceProductWithApplicationVndEvotorV2PlusJSONBody(ctx, storeID, productID, p, e)
	})
}

// UpdateProduct sets a product's stock and prices (the fields given).
func (s *Session) UpdateProduct(ctx context.Context, storeID, productID string, patch ProductPatch) (Item[Product], error) {
	return one[Product](ctx, s, "updateProduct", true, func(ctx context.Context, e evotorrest.RequestEditorFn) (*http.Response, error) {
		return s.c.api.UpdateProductWithApplicationVndEvotorV2PlusJSONBody(ctx, storeID, productID, patch, e)
	})
}

// DeleteProducts deletes up to 100 products. Evotor answers 204 (task is nil) or, as some
// clients read it, a bulk task.
func (s *Session) DeleteProducts(ctx context.Context, storeID string, productIDs []string) (*Item[BulkTask], error) {
	if len(productIDs) == 0 {
		return nil, errors.New("evotor deleteProducts: no ids")
	}
	return maybeTask(one[BulkTask](ctx, s, "deleteProducts", true, func(ctx context.Context, e evotorrest.RequestEditorFn) (*http.Response, error) {
		return s.c.api.DeleteProducts(ctx, storeID, &evotorrest.DeleteProductsParams{Id: productIDs}, e)
	}))
}

// DeleteProduct deletes one product.
func (s *Session) DeleteProduct(ctx context.Context, storeID, productID string) error {
	_, err := one[struct{}](ctx, s, "deleteProduct", true, func(ctx context.Context, e evotorrest.RequestEditorFn) (*http.Response, error) {
		return s.c.api.DeleteProduct(ctx, storeID, productID, e)
	})
	return err
}

// CreateProductGroup creates one product group; Evotor forms its id. Not retried once it may
// have reached Evotor, except after a 429.
func (s *Session) CreateProductGroup(ctx context.Context, storeID string, g ProductGroup) (Item[ProductGroup], error) {
	return one[ProductGroup](ctx, s, "createProductGroups", false, func(ctx context.Context, e evotorrest.RequestEditorFn) (*http.Response, error) {
		return s.c.api.CreateProductGroupsWithApplicationVndEvotorV2PlusJSONBody(ctx, storeID, g, e)
	})
}

// CreateProductGroups creates product groups as a bulk task. Not retried once it may have
// reached Evotor, except after a 429.
func (s *Session) CreateProductGroups(ctx context.Context, storeID string, gs []ProductGroup) (Item[BulkTask], error) {
	return one[BulkTask](ctx, s, "createProductGroups", false, func(ctx context.Context, e evotorrest.RequestEditorFn) (*http.Response, error) {
		return s.c.api.CreateProductGroupsWithApplicationVndEvotorV2PlusBulkJSONBody(ctx, storeID, gs, e)
	})
}

// ReplaceProductGroups creates or replaces product groups, each with its id, as a bulk task.
func (s *Session) ReplaceProductGroups(ctx context.Context, storeID string, gs []ProductGroup) (Item[BulkTask], error) {
	return one[BulkTask](ctx, s, "replaceProductGroups", true, func(ctx context.Context, e evotorrest.RequestEditorFn) (*http.Response, error) {
		return s.c.api.ReplaceProductGroupsWithApplicationVndEvotorV2PlusBulkJSONBody(ctx, storeID, gs, e)
	})
}

// ReplaceProductGroup creates or replaces the product group with this id.
func (s *Session) ReplaceProductGroup(ctx context.Context, storeID, groupID string, g ProductGroup) (Item[ProductGroup], error) {
	return one[ProductGroup](ctx, s, "replaceProductGroup", true, func(ctx context.Context, e evotorrest.RequestEditorFn) (*http.Response, error) {
		return s.c.api.ReplaceProductGroupWithApplicationVndEvotorV2PlusJSONBody(ctx, storeID, groupID, g, e)
	})
}

// UpdateProductGroup sets a product group's name and barcodes (the fields given).
func (s *Session) UpdateProductGroup(ctx context.Context, storeID, groupID string, patch GroupPatch) (Item[ProductGroup], error) {
	return one[ProductGroup](ctx, s, "updateProductGroup", true, func(ctx context.Context, e evotorrest.RequestEditorFn) (*http.Response, error) {
		return s.c.api.UpdateProductGroupWithApplicationVndEvotorV2PlusJSONBody(ctx, storeID, groupID, patch, e)
	})
}

// DeleteProductGroups deletes up to 100 product groups (task nil on 204, as DeleteProducts).
func (s *Session) DeleteProductGroups(ctx context.Context, storeID string, groupIDs []string) (*Item[BulkTask], error) {
	if len(groupIDs) == 0 {
		return nil, errors.New("evotor deleteProductGroups: no ids")
	}
	return maybeTask(one[BulkTask](ctx, s, "deleteProductGroups", true, func(ctx context.Context, e evotorrest.RequestEditorFn) (*http.Response, error) {
		return s.c.api.DeleteProductGroups(ctx, storeID, &evotorrest.DeleteProductGroupsParams{Id: groupIDs}, e)
	}))
}

// DeleteProductGroup deletes one product group.
func (s *Session) DeleteProductGroup(ctx context.Context, storeID, groupID string) error {
	_, err := one[struct{}](ctx, s, "deleteProductGroup", true, func(ctx context.Context, e evotorrest.RequestEditorFn) (*http.Response, error) {
		return s.c.api.DeleteProductGroup(ctx, storeID, groupID, e)
	})
	return err
}

// Bulk gets the state of a bulk task.
func (s *Session) Bulk(ctx context.Context, bulkID string) (Item[BulkTask], error) {
	return one[BulkTask](ctx, s, "getBulk", true, func(ctx context.Context, e evotorrest.RequestEditorFn) (*http.Response, error) {
		return s.c.api.GetBulk(ctx, bulkID, e)
	})
}

// one makes a call answered with one object (or nothing: 204 gives the zero Item).
func one[T any](ctx context.Context, s *Session, op string, idempotent bool, send call) (Item[T], error) {
	a, err := s.do(ctx, op, idempotent, send)
	if err != nil {
		return Item[T]{}, err
	}
	if len(a.body) == 0 || a.status == http.StatusNoContent {
		return Item[T]{}, nil
	}
	raw, err := readObject(a.body)
	if err != nil {
		return Item[T]{}, newCallError(s.tok, op, 1, nil, err)
	}
	return decodeItem[T](raw), nil
}

// list pages through a listing: the first request with the filters, each next one with only
// the cursor, until a page has none. A cursor seen before ends it with an error (Evotor
// looping would otherwise page forever).
func list[T any](ctx context.Context, s *Session, op string, send func(ctx context.Context, cursor *string, e evotorrest.RequestEditorFn) (*http.Response, error)) iter.Seq2[Item[T], error] {
	return func(yield func(Item[T], error) bool) {
		var cursor *string
		seen := map[string]bool{}
		for {
			at := cursor
			a, err := s.do(ctx, op, true, func(ctx context.Context, e evotorrest.RequestEditorFn) (*http.Response, error) {
				return send(ctx, at, e)
			})
			if err != nil {
				yield(Item[T]{}, err)
				return
			}
			p, err := readPage(a.body)
			if err != nil {
				yield(Item[T]{}, newCallError(s.tok, op, 1, nil, err))
				return
			}
			for _, raw := range p.items {
				if !yield(decodeItem[T](raw), nil) {
					return
				}
			}
			if p.nextCursor == "" {
				return
			}
			if seen[p.nextCursor] {
				yield(Item[T]{}, newCallError(s.tok, op, 1, nil, fmt.Errorf("page %d repeats an earlier cursor; stopped", len(seen)+1)))
				return
			}
			seen[p.nextCursor] = true
			next := p.nextCursor
			cursor = &next
		}
	}
}

// readObject checks an answer is one JSON object and returns it.
func readObject(body []byte) ([]byte, error) {
	p, err := readPage(append(append([]byte{'['}, body...), ']'))
	if err != nil || len(p.items) != 1 {
		return nil, errors.New("answer is not one JSON object")
	}
	return p.items[0], nil
}

func maybeTask(it Item[BulkTask], err error) (*Item[BulkTask], error) {
	if err != nil || it.Raw == nil {
		return nil, err
	}
	return &it, nil
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optionalList(l []string) *[]string {
	if len(l) == 0 {
		return nil
	}
	return &l
}

func millis(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	ms := t.UnixMilli()
	return &ms
}
