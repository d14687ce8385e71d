package impl

import (
	"context"
	"encoding/json"

	"github.com/evotor-partner/evotor-partner/generated"
	"github.com/evotor-partner/evotor-partner/impl/evotor"
	"github.com/evotor-partner/evotor-partner/impl/reconcile"
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
		rows[i] = storeRow(from.UserID, st, raws[i])
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
		rows[i] = deviceRow(from.UserID, d, raws[i])
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
		var storeList []string
		rows[i], storeList = employeeRow(from.UserID, e, raws[i])
		stores = append(stores, storeList...)
	}
	redelivery, err := s.deliveries.Employees(ctx, from, delivery(ctx, "putEmployees", "", nil), rows, stores)
	if err := delivered(ctx, redelivery, err); err != nil {
		return nil, err
	}
	return generated.PutEmployees200Response{}, nil
}

// storeRow is a store as stored.
func storeRow(owner string, st generated.Store, raw []byte) storage.StoreRow {
	return storage.StoreRow{OwnerID: owner, UUID: st.Uuid, Name: &st.Name, Address: st.Address, Code: st.Code, Raw: raw}
}

// deviceRow is a smart terminal as stored.
func deviceRow(owner string, d generated.Device, raw []byte) storage.DeviceRow {
	return storage.DeviceRow{OwnerID: owner, UUID: d.Uuid, Name: d.Name, Code: d.Code, TimezoneOffset: d.TimezoneOffset,
		StoreUUID: canonical(d.StoreUuid), Raw: raw}
}

// employeeRow is an employee as stored, and the stores it names (canonical).
func employeeRow(owner string, e generated.Employee, raw []byte) (storage.EmployeeRow, []string) {
	storeList := make([]string, len(e.Stores))
	for j, u := range e.Stores {
		storeList[j] = evotor.CanonicalID(u)
	}
	list, _ := json.Marshal(storeList)
	return storage.EmployeeRow{OwnerID: owner, UUID: e.Uuid, Name: &e.Name, LastName: e.LastName,
		PatronymicName: e.PatronymicName, Phone: phoneText(e.Phone), Role: &e.Role, Stores: string(list), Raw: raw}, storeList
}

// WebhookRows are the rows the webhook handlers make of their items, for reconciliation to
// make the same rows of what it fetches (an item in the webhook's shape, bound as the
// handlers bind it).
func WebhookRows() reconcile.Rows {
	return reconcile.Rows{
		Store: func(owner string, raw []byte) (storage.StoreRow, error) {
			return boundRow(func(st generated.Store, raw []byte) storage.StoreRow { return storeRow(owner, st, raw) })(raw)
		},
		Device: func(owner string, raw []byte) (storage.DeviceRow, error) {
			return boundRow(func(d generated.Device, raw []byte) storage.DeviceRow { return deviceRow(owner, d, raw) })(raw)
		},
		Employee: func(owner string, raw []byte) (storage.EmployeeRow, error) {
			return boundRow(func(e generated.Employee, raw []byte) storage.EmployeeRow {
				r, _ := employeeRow(owner, e, raw)
				return r
			})(raw)
		},
		Product: productRow,
	}
}
