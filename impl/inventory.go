package impl

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/evotor-partner/evotor-partner/generated"
	"github.com/evotor-partner/evotor-partner/impl/store"
)

// PutStores upserts the token user's stores.
func (s *Server) PutStores(ctx context.Context, req generated.PutStoresRequestObject) (generated.PutStoresResponseObject, error) {
	out, err := s.notify(ctx, "putStores", nil, func(owner string, tx *store.Tx) error {
		raws, err := rawItems(ctx)
		if err != nil {
			return err
		}
		rows := make([]store.StoreRow, len(*req.Body))
		for i, st := range *req.Body {
			rows[i] = store.StoreRow{OwnerID: owner, UUID: st.Uuid, Name: &st.Name, Address: st.Address, Code: st.Code, Raw: raws[i]}
		}
		return tx.UpsertStores(rows)
	})
	return respond[generated.PutStoresResponseObject](ctx, out, err, generated.PutStores200Response{}, generated.PutStores404JSONResponse{},
		func(b generated.PaymentRequiredJSONResponse) generated.PutStoresResponseObject {
			return generated.PutStores402JSONResponse{PaymentRequiredJSONResponse: b}
		})
}

// PutDevices upserts the token user's devices; the stores they name become the user's.
func (s *Server) PutDevices(ctx context.Context, req generated.PutDevicesRequestObject) (generated.PutDevicesResponseObject, error) {
	out, err := s.notify(ctx, "putDevices", nil, func(owner string, tx *store.Tx) error {
		raws, err := rawItems(ctx)
		if err != nil {
			return err
		}
		rows := make([]store.DeviceRow, len(*req.Body))
		stores := []string{}
		for i, d := range *req.Body {
			rows[i] = store.DeviceRow{OwnerID: owner, UUID: d.Uuid, Name: d.Name, Code: d.Code, TimezoneOffset: d.TimezoneOffset, Raw: raws[i]}
			if d.StoreUuid != nil {
				u := store.CanonicalUUID(*d.StoreUuid)
				rows[i].StoreUUID = &u
				stores = append(stores, u)
			}
		}
		if err := tx.ClaimStores(owner, stores...); err != nil {
			return err
		}
		return tx.UpsertDevices(rows)
	})
	return respond[generated.PutDevicesResponseObject](ctx, out, err, generated.PutDevices200Response{}, generated.PutDevices404JSONResponse{},
		func(b generated.PaymentRequiredJSONResponse) generated.PutDevicesResponseObject {
			return generated.PutDevices402JSONResponse{PaymentRequiredJSONResponse: b}
		})
}

// PutEmployees upserts the token user's employees; the stores they name become the user's.
func (s *Server) PutEmployees(ctx context.Context, req generated.PutEmployeesRequestObject) (generated.PutEmployeesResponseObject, error) {
	out, err := s.notify(ctx, "putEmployees", nil, func(owner string, tx *store.Tx) error {
		raws, err := rawItems(ctx)
		if err != nil {
			return err
		}
		rows := make([]store.EmployeeRow, len(*req.Body))
		stores := []string{}
		for i, e := range *req.Body {
			storeList := make([]string, len(e.Stores))
			for j, u := range e.Stores {
				storeList[j] = store.CanonicalUUID(u)
			}
			stores = append(stores, storeList...)
			list, _ := json.Marshal(storeList)
			rows[i] = store.EmployeeRow{OwnerID: owner, UUID: e.Uuid, Name: &e.Name, LastName: e.LastName,
				PatronymicName: e.PatronymicName, Phone: phoneText(e.Phone), Role: &e.Role, Stores: string(list), Raw: raws[i]}
		}
		if err := tx.ClaimStores(owner, stores...); err != nil {
			return err
		}
		return tx.UpsertEmployees(rows)
	})
	return respond[generated.PutEmployeesResponseObject](ctx, out, err, generated.PutEmployees200Response{}, generated.PutEmployees404JSONResponse{},
		func(b generated.PaymentRequiredJSONResponse) generated.PutEmployeesResponseObject {
			return generated.PutEmployees402JSONResponse{PaymentRequiredJSONResponse: b}
		})
}

// phoneText keeps a phone as its digits, whether Evotor sent a number or a string.
func phoneText(p *generated.Employee_Phone) *string {
	if p == nil {
		return nil
	}
	b, err := p.MarshalJSON()
	if err != nil || string(b) == "null" {
		return nil
	}
	t := strings.Trim(string(b), `"`)
	return &t
}

// CreateProducts stores the catalogue delivery under the token user's store.
func (s *Server) CreateProducts(ctx context.Context, req generated.CreateProductsRequestObject) (generated.CreateProductsResponseObject, error) {
	out, err := s.notify(ctx, "createProducts", storeParams(req.StoreUuid), func(owner string, tx *store.Tx) error {
		return tx.ClaimStores(owner, req.StoreUuid)
	})
	return respond[generated.CreateProductsResponseObject](ctx, out, err, generated.CreateProducts200Response{}, generated.CreateProducts404JSONResponse{},
		func(b generated.PaymentRequiredJSONResponse) generated.CreateProductsResponseObject {
			return generated.CreateProducts402JSONResponse{PaymentRequiredJSONResponse: b}
		})
}

// PutDocuments stores the documents delivery under the token user's store.
func (s *Server) PutDocuments(ctx context.Context, req generated.PutDocumentsRequestObject) (generated.PutDocumentsResponseObject, error) {
	out, err := s.notify(ctx, "putDocuments", storeParams(req.StoreUuid), func(owner string, tx *store.Tx) error {
		return tx.ClaimStores(owner, req.StoreUuid)
	})
	return respond[generated.PutDocumentsResponseObject](ctx, out, err, generated.PutDocuments200Response{}, generated.PutDocuments404JSONResponse{},
		func(b generated.PaymentRequiredJSONResponse) generated.PutDocumentsResponseObject {
			return generated.PutDocuments402JSONResponse{PaymentRequiredJSONResponse: b}
		})
}

// PostReceipts stores the receipts delivery; the stores the receipts name become the user's.
func (s *Server) PostReceipts(ctx context.Context, req generated.PostReceiptsRequestObject) (generated.PostReceiptsResponseObject, error) {
	out, err := s.notify(ctx, "postReceipts", nil, func(owner string, tx *store.Tx) error {
		receipts, err := receiptList(*req.Body)
		if err != nil {
			return err
		}
		stores := make([]string, len(receipts))
		for i, r := range receipts {
			stores[i] = r.Data.StoreId
		}
		return tx.ClaimStores(owner, stores...)
	})
	return respond[generated.PostReceiptsResponseObject](ctx, out, err, generated.PostReceipts200Response{}, generated.PostReceipts404JSONResponse{},
		func(b generated.PaymentRequiredJSONResponse) generated.PostReceiptsResponseObject {
			return generated.PostReceipts402JSONResponse{PaymentRequiredJSONResponse: b}
		})
}

// receiptList reads a receipts body: one receipt, or an array of them.
func receiptList(body generated.ReceiptsBody) ([]generated.Receipt, error) {
	if list, err := body.AsReceiptsBody1(); err == nil {
		return list, nil
	}
	one, err := body.AsReceipt()
	return []generated.Receipt{one}, err
}
