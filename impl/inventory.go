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
	raws, err := rawItems(ctx)
	if err != nil {
		return nil, err
	}
	from := sender(ctx)
	rows := make([]storage.StoreRow, len(*req.Body))
	for i, st := range *req.Body {
		rows[i] = storage.StoreRow{OwnerID: from.UserID, UUID: st.Uuid, Name: &st.Name, Address: st.Address, Code: st.Code, Raw: raws[i]}
	}
	redelivery, err := s.deliveries.Stores(ctx, from, delivery(ctx, "putStores", "", nil), rows)
	if err := delivered(ctx, redelivery, err); err != nil {
		return nil, err
	}
	return generated.PutStores200Response{}, nil
}

// PutDevices upserts the token user's devices; the stores they name become the user's.
func (s *Server) PutDevices(ctx context.Context, req generated.PutDevicesRequestObject) (generated.PutDevicesResponseObject, error) {
	raws, err := rawItems(ctx)
	if err != nil {
		return nil, err
	}
	from := sender(ctx)
	rows := make([]storage.DeviceRow, len(*req.Body))
	for i, d := range *req.Body {
		rows[i] = storage.DeviceRow{OwnerID: from.UserID, UUID: d.Uuid, Name: d.Name, Code: d.Code, TimezoneOffset: d.TimezoneOffset,
			StoreUUID: canonical(d.StoreUuid), Raw: raws[i]}
	}
	redelivery, err := s.deliveries.Devices(ctx, from, delivery(ctx, "putDevices", "", nil), rows)
	if err := delivered(ctx, redelivery, err); err != nil {
		return nil, err
	}
	return generated.PutDevices200Response{}, nil
}

// PutEmployees upserts the token user's employees; the stores they name become the user's.
func (s *Server) PutEmployees(ctx context.Context, req generated.PutEmployeesRequestObject) (generated.PutEmployeesResponseObject, error) {
	raws, err := rawItems(ctx)
	if err != nil {
		return nil, err
	}
	from := sender(ctx)
	rows := make([]storage.EmployeeRow, len(*req.Body))
	stores := []string{}
	for i, e := range *req.Body {
		storeList := make([]string, len(e.Stores))
		for j, u := range e.Stores {
			storeList[j] = evotor.CanonicalID(u)
		}
		stores = append(stores, storeList...)
		list, _ := json.Marshal(storeList)
		rows[i] = storage.EmployeeRow{OwnerID: from.UserID, UUID: e.Uuid, Name: &e.Name, LastName: e.LastName,
			PatronymicName: e.PatronymicName, Phone: phoneText(e.Phone), Role: &e.Role, Stores: string(list), Raw: raws[i]}
	}
	redelivery, err := s.deliveries.Employees(ctx, from, delivery(ctx, "putEmployees", "", nil), rows, stores)
	if err := delivered(ctx, redelivery, err); err != nil {
		return nil, err
	}
	return generated.PutEmployees200Response{}, nil
}
