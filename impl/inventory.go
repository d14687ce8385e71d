package impl

import (
	"context"
	"encoding/json"

	"github.com/evotor-partner/evotor-partner/generated"
	"github.com/evotor-partner/evotor-partner/impl/evotor"
	"github.com/evotor-partner/evotor-partner/impl/storage"
)

// PutStores upserts the token user's stores.
func (s *Server) PutStores(ctx context.Context, req generated.PutStoresRequestObject) (generated.PutStoresResponseObject, error) {
	err := s.notify(ctx, "putStores", nil, func(owner string, tx *storage.Tx) error {
		raws, err := rawItems(ctx)
		if err != nil {
			return err
		}
		rows := make([]storage.StoreRow, len(*req.Body))
		for i, st := range *req.Body {
			rows[i] = storage.StoreRow{OwnerID: owner, UUID: st.Uuid, Name: &st.Name, Address: st.Address, Code: st.Code, Raw: raws[i]}
		}
		return tx.UpsertStores(rows)
	})
	if err != nil {
		return nil, err
	}
	return generated.PutStores200Response{}, nil
}

// PutDevices upserts the token user's devices; the stores they name become the user's.
func (s *Server) PutDevices(ctx context.Context, req generated.PutDevicesRequestObject) (generated.PutDevicesResponseObject, error) {
	err := s.notify(ctx, "putDevices", nil, func(owner string, tx *storage.Tx) error {
		raws, err := rawItems(ctx)
		if err != nil {
			return err
		}
		rows := make([]storage.DeviceRow, len(*req.Body))
		stores := []string{}
		for i, d := range *req.Body {
			rows[i] = storage.DeviceRow{OwnerID: owner, UUID: d.Uuid, Name: d.Name, Code: d.Code, TimezoneOffset: d.TimezoneOffset, Raw: raws[i]}
			if d.StoreUuid != nil {
				u := evotor.CanonicalID(*d.StoreUuid)
				rows[i].StoreUUID = &u
				stores = append(stores, u)
			}
		}
		if err := tx.ClaimStores(owner, stores...); err != nil {
			return err
		}
		return tx.UpsertDevices(rows)
	})
	if err != nil {
		return nil, err
	}
	return generated.PutDevices200Response{}, nil
}

// PutEmployees upserts the token user's employees; the stores they name become the user's.
func (s *Server) PutEmployees(ctx context.Context, req generated.PutEmployeesRequestObject) (generated.PutEmployeesResponseObject, error) {
	err := s.notify(ctx, "putEmployees", nil, func(owner string, tx *storage.Tx) error {
		raws, err := rawItems(ctx)
		if err != nil {
			return err
		}
		rows := make([]storage.EmployeeRow, len(*req.Body))
		stores := []string{}
		for i, e := range *req.Body {
			storeList := make([]string, len(e.Stores))
			for j, u := range e.Stores {
				storeList[j] = evotor.CanonicalID(u)
			}
			stores = append(stores, storeList...)
			list, _ := json.Marshal(storeList)
			rows[i] = storage.EmployeeRow{OwnerID: owner, UUID: e.Uuid, Name: &e.Name, LastName: e.LastName,
				PatronymicName: e.PatronymicName, Phone: phoneText(e.Phone), Role: &e.Role, Stores: string(list), Raw: raws[i]}
		}
		if err := tx.ClaimStores(owner, stores...); err != nil {
			return err
		}
		return tx.UpsertEmployees(rows)
	})
	if err != nil {
		return nil, err
	}
	return generated.PutEmployees200Response{}, nil
}
