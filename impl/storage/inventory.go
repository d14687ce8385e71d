package storage

import (
	"time"

	"gorm.io/gorm/clause"

	"github.com/evotor-partner/evotor-partner/impl/evotor"
)

// An Evotor uuid belongs to one owner. Upserts arbitrate on the uuid and update only a row of
// the same owner; a row of another owner is left alone and the delivery fails with ErrNotOwner
// (its transaction rolls back, so nothing of it is written).

// StoreRow is a merchant's store (stores table); name is empty for a store only referenced so far.
type StoreRow struct {
	OwnerID   string
	UUID      string `gorm:"primaryKey;column:uuid"`
	Name      *string
	Address   *string
	Code      *string
	Raw       []byte
	UpdatedAt time.Time
	// MissingSince: reconciliation found Evotor no longer lists it (reconcile.go).
	MissingSince *time.Time
}

func (StoreRow) TableName() string { return "stores" }

// DeviceRow is a smart terminal.
type DeviceRow struct {
	OwnerID        string
	UUID           string `gorm:"primaryKey;column:uuid"`
	StoreUUID      *string
	Name           *string
	Code           *string
	TimezoneOffset *int64
	Raw            []byte
	UpdatedAt      time.Time
	MissingSince   *time.Time
}

func (DeviceRow) TableName() string { return "devices" }

// EmployeeRow is an employee; Stores is a JSON array of store uuids.
type EmployeeRow struct {
	OwnerID        string
	UUID           string `gorm:"primaryKey;column:uuid"`
	Name           *string
	LastName       *string
	PatronymicName *string
	Phone          *string
	Role           *string
	Stores         string
	Raw            []byte
	UpdatedAt      time.Time
	MissingSince   *time.Time
}

func (EmployeeRow) TableName() string { return "employees" }

// upsertOwned writes rows in multi-row statements (batchRows each); Evotor is the master, the
// latest delivery wins. A row is updated only when it has the same owner; when fewer rows were
// written than given, some key belongs to another owner. Rows carry owner and canonical key,
// each key once.
func upsertOwned[T any](tx *Tx, rows []T, table string, key []string, columns ...string) error {
	ownerGuard := clause.Where{Exprs: []clause.Expression{clause.Expr{SQL: table + ".owner_id = excluded.owner_id"}}}
	written, err := upsert(tx, rows, key, ownerGuard, columns...)
	if err == nil && written < int64(len(rows)) {
		return ErrNotOwner
	}
	return err
}

// upsert writes rows in multi-row statements, updating columns of a row whose key exists when
// where holds; it returns how many rows were written.
func upsert[T any](tx *Tx, rows []T, key []string, where clause.Where, columns ...string) (int64, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	conflict := make([]clause.Column, len(key))
	for i, k := range key {
		conflict[i] = clause.Column{Name: k}
	}
	res := tx.db.Clauses(clause.OnConflict{
		Columns:   conflict,
		DoUpdates: clause.AssignmentColumns(append(columns, "raw", "updated_at")),
		Where:     where,
	}).CreateInBatches(rows, tx.batchRows())
	return res.RowsAffected, res.Error
}

// uuidKey is the conflict key of the inventory tables.
var uuidKey = []string{"uuid"}

// ClaimStores records that these stores are owner's (without overwriting what is known of
// them); ErrNotOwner when one belongs to another user. Evotor does not promise to send a store
// before the products, documents or devices that name it.
func (tx *Tx) ClaimStores(owner string, uuids ...string) error {
	c := newStoreClaim(owner, tx.store.now(), uuids)
	if len(c.keys) == 0 {
		return nil
	}
	// Nearly every delivery names stores claimed before: one read settles them (a store's owner
	// never changes).
	var owners []string
	if err := tx.db.Model(&StoreRow{}).Where("uuid IN ?", c.keys).Pluck("owner_id", &owners).Error; err != nil {
		return err
	}
	return tx.finishClaim(c, owners)
}

// storeClaim is a claim of stores for owner: each store once, by its canonical id.
type storeClaim struct {
	owner string
	keys  []string
	rows  []StoreRow
}

func newStoreClaim(owner string, now time.Time, uuids []string) storeClaim {
	c := storeClaim{owner: owner}
	seen := map[string]bool{}
	for _, u := range uuids {
		if u = evotor.CanonicalID(u); u != "" && !seen[u] {
			seen[u] = true
			c.keys = append(c.keys, u)
			c.rows = append(c.rows, StoreRow{OwnerID: owner, UUID: u, UpdatedAt: now})
		}
	}
	return c
}

// finishClaim decides the claim from the owners stored of its stores, read in the delivery's
// transaction. Only when a store is new is it inserted, and the owners read again after the
// insert, which waits for a claim of the same store in flight.
func (tx *Tx) finishClaim(c storeClaim, owners []string) error {
	for _, o := range owners {
		if o != c.owner {
			return ErrNotOwner
		}
	}
	if len(owners) == len(c.keys) {
		return nil
	}
	if err := tx.db.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "uuid"}}, DoNothing: true}).Create(&c.rows).Error; err != nil {
		return err
	}
	var others int64
	if err := tx.db.Model(&StoreRow{}).Where("uuid IN ? AND owner_id <> ?", c.keys, c.owner).Count(&others).Error; err != nil {
		return err
	}
	if others > 0 {
		return ErrNotOwner
	}
	return nil
}

// UpsertStores writes the owner's stores.
func (tx *Tx) UpsertStores(rows []StoreRow) error {
	return upsertOwned(tx, lastPerUUID(rows, func(r *StoreRow) *string { return &r.UUID }), "stores", uuidKey, "name", "address", "code")
}

// UpsertDevices writes the owner's devices.
func (tx *Tx) UpsertDevices(rows []DeviceRow) error {
	return upsertOwned(tx, lastPerUUID(rows, func(r *DeviceRow) *string { return &r.UUID }), "devices", uuidKey, "store_uuid", "name", "code", "timezone_offset")
}

// UpsertEmployees writes the owner's employees.
func (tx *Tx) UpsertEmployees(rows []EmployeeRow) error {
	return upsertOwned(tx, lastPerUUID(rows, func(r *EmployeeRow) *string { return &r.UUID }), "employees", uuidKey,
		"name", "last_name", "patronymic_name", "phone", "role", "stores")
}

// lastPerUUID canonicalises uuids and keeps the last row of each uuid (one statement may not
// update a row twice). GORM stamps UpdatedAt.
func lastPerUUID[T any](rows []T, uuid func(*T) *string) []T {
	index := map[string]int{}
	out := make([]T, 0, len(rows))
	for i := range rows {
		u := uuid(&rows[i])
		*u = evotor.CanonicalID(*u)
		if j, ok := index[*u]; ok {
			out[j] = rows[i]
			continue
		}
		index[*u] = len(out)
		out = append(out, rows[i])
	}
	return out
}
