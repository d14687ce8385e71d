package impl

import (
	"context"
	"encoding/json"

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
