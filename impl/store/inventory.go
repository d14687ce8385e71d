package store

import (
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Inventory rows are keyed by (owner_id, uuid), and a uuid is unique across owners: an upsert
// can only ever touch the caller's own row, and a uuid another user has makes the statement
// fail, which becomes ErrNotOwner.

// StoreRow is a merchant's store (stores table); name is empty for a store only referenced so far.
type StoreRow struct {
	OwnerID   string `gorm:"primaryKey"`
	UUID      string `gorm:"primaryKey;column:uuid"`
	Name      *string
	Address   *string
	Code      *string
	Raw       []byte
	UpdatedAt time.Time
}

func (StoreRow) TableName() string { return "stores" }

// DeviceRow is a smart terminal.
type DeviceRow struct {
	OwnerID        string `gorm:"primaryKey"`
	UUID           string `gorm:"primaryKey;column:uuid"`
	StoreUUID      *string
	Name           *string
	Code           *string
	TimezoneOffset *int64
	Raw            []byte
	UpdatedAt      time.Time
}

func (DeviceRow) TableName() string { return "devices" }

// EmployeeRow is an employee; Stores is a JSON array of store uuids.
type EmployeeRow struct {
	OwnerID        string `gorm:"primaryKey"`
	UUID           string `gorm:"primaryKey;column:uuid"`
	Name           *string
	LastName       *string
	PatronymicName *string
	Phone          *string
	Role           *string
	Stores         string
	Raw            []byte
	UpdatedAt      time.Time
}

func (EmployeeRow) TableName() string { return "employees" }

// CanonicalUUID is how Evotor uuids are keyed: Evotor sends the same id in upper and lower case.
func CanonicalUUID(id string) string { return strings.ToLower(id) }

// notOwner turns the uuid-uniqueness violation of an owned table into ErrNotOwner.
func notOwner(err error) error {
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return ErrNotOwner
	}
	return err
}

// upsertOwned writes rows in one multi-row statement; Evotor is the master, the latest
// delivery wins. Rows must already carry owner and canonical uuid, each uuid once.
func upsertOwned[T any](tx *Tx, rows []T, columns ...string) error {
	if len(rows) == 0 {
		return nil
	}
	return notOwner(tx.db.Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "owner_id"}, {Name: "uuid"}},
		DoUpdates: clause.AssignmentColumns(append(columns, "raw", "updated_at")),
	}).CreateInBatches(rows, 500).Error)
}

// ClaimStores records that these stores are owner's (without overwriting what is known of
// them); ErrNotOwner when one belongs to another user. Evotor does not promise to send a store
// before the products, documents or devices that name it.
func (tx *Tx) ClaimStores(owner string, uuids ...string) error {
	seen := map[string]bool{}
	rows := make([]StoreRow, 0, len(uuids))
	for _, u := range uuids {
		if u = CanonicalUUID(u); u != "" && !seen[u] {
			seen[u] = true
			rows = append(rows, StoreRow{OwnerID: owner, UUID: u, UpdatedAt: tx.store.now()})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	return notOwner(tx.db.Clauses(clause.OnConflict{
		Columns: []clause.Column{{Name: "owner_id"}, {Name: "uuid"}}, DoNothing: true,
	}).Create(&rows).Error)
}

// UpsertStores writes the owner's stores.
func (tx *Tx) UpsertStores(rows []StoreRow) error {
	return upsertOwned(tx, lastPerUUID(rows, func(r *StoreRow) *string { return &r.UUID }), "name", "address", "code")
}

// UpsertDevices writes the owner's devices.
func (tx *Tx) UpsertDevices(rows []DeviceRow) error {
	return upsertOwned(tx, lastPerUUID(rows, func(r *DeviceRow) *string { return &r.UUID }), "store_uuid", "name", "code", "timezone_offset")
}

// UpsertEmployees writes the owner's employees.
func (tx *Tx) UpsertEmployees(rows []EmployeeRow) error {
	return upsertOwned(tx, lastPerUUID(rows, func(r *EmployeeRow) *string { return &r.UUID }),
		"name", "last_name", "patronymic_name", "phone", "role", "stores")
}

// lastPerUUID canonicalises uuids and keeps the last row of each uuid (one statement may not
// update a row twice). GORM stamps UpdatedAt.
func lastPerUUID[T any](rows []T, uuid func(*T) *string) []T {
	index := map[string]int{}
	out := make([]T, 0, len(rows))
	for i := range rows {
		u := uuid(&rows[i])
		*u = CanonicalUUID(*u)
		if j, ok := index[*u]; ok {
			out[j] = rows[i]
			continue
		}
		index[*u] = len(out)
		out = append(out, rows[i])
	}
	return out
}
