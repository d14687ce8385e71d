package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"time"

	"gorm.io/gorm/clause"
)

// ProductRow is a product or group of one store of one owner.
type ProductRow struct {
	OwnerID                string `gorm:"primaryKey"`
	StoreUUID              string `gorm:"primaryKey"`
	UUID                   string `gorm:"primaryKey;column:uuid"`
	ParentUUID             *string
	IsGroup                bool
	HasVariants            *bool
	Type                   *string
	Name                   string
	Code                   *string
	BarCodes               *string // JSON array
	AlcoCodes              *string // JSON array
	Price                  *string
	Quantity               *string
	CostPrice              *string
	MeasureName            *string
	Tax                    *string
	AllowToSell            *bool
	ArticleNumber          *string
	AlcoholByVolume        *string
	AlcoholProductKindCode *string
	TareVolume             *string
	Raw                    []byte
	RawHash                []byte
	UpdatedAt              time.Time
}

func (ProductRow) TableName() string { return "products" }

// ProductBarcode indexes a product by one of its barcodes.
type ProductBarcode struct {
	OwnerID     string `gorm:"primaryKey"`
	StoreUUID   string `gorm:"primaryKey"`
	ProductUUID string `gorm:"primaryKey"`
	Barcode     string `gorm:"primaryKey"`
}

// productColumns are what a later delivery of a product replaces.
var productColumns = []string{"raw_hash", "parent_uuid", "is_group", "has_variants", "type", "name", "code", "bar_codes",
	"alco_codes", "price", "quantity", "cost_price", "measure_name", "tax", "allow_to_sell", "article_number",
	"alcohol_by_volume", "alcohol_product_kind_code", "tare_volume"}

// UpsertProducts writes a store's products in multi-row statements and re-indexes their
// barcodes. Only products whose JSON differs from what is stored are written: Evotor re-sends
// whole catalogues when an answer is late, and a re-sent catalogue should cost a read, not
// 25,000 updates. Products are keyed by (owner, store, uuid), so no owner check can apply to
// them: what protects a catalogue is the store claim, which must come first (ClaimStores) and
// fails when the store is another user's.
func (tx *Tx) UpsertProducts(rows []ProductRow) error {
	rows = lastPerUUID(rows, func(r *ProductRow) *string { return &r.UUID })
	changed, err := tx.changedProducts(rows)
	if err != nil || len(changed) == 0 {
		return err
	}
	if _, err := upsert(tx, changed, []string{"owner_id", "store_uuid", "uuid"}, clause.Where{}, productColumns...); err != nil {
		return err
	}
	var barcodes []ProductBarcode
	for start := 0; start < len(changed); start += 500 {
		chunk := changed[start:min(start+500, len(changed))]
		if err := tx.db.Where("owner_id = ? AND store_uuid = ? AND product_uuid IN ?", chunk[0].OwnerID, chunk[0].StoreUUID, productUUIDs(chunk)).
			Delete(&ProductBarcode{}).Error; err != nil {
			return err
		}
	}
	for _, r := range changed {
		var codes []string
		if r.BarCodes != nil {
			_ = json.Unmarshal([]byte(*r.BarCodes), &codes)
		}
		for _, c := range codes {
			barcodes = append(barcodes, ProductBarcode{OwnerID: r.OwnerID, StoreUUID: r.StoreUUID, ProductUUID: r.UUID, Barcode: c})
		}
	}
	if len(barcodes) == 0 {
		return nil
	}
	return tx.db.Clauses(clause.OnConflict{DoNothing: true}).CreateInBatches(barcodes, 2*tx.batchRows()).Error
}

// changedProducts keeps the rows that are new or whose raw JSON differs from the stored one,
// comparing SHA-256 hashes with one read of the store's hashes (an IN list of thousands of
// uuids makes PostgreSQL scan the table once per uuid on a freshly filled table).
func (tx *Tx) changedProducts(rows []ProductRow) ([]ProductRow, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	var existing []ProductRow
	if err := tx.db.Select("uuid", "raw_hash").Where("owner_id = ? AND store_uuid = ?", rows[0].OwnerID, rows[0].StoreUUID).
		Find(&existing).Error; err != nil {
		return nil, err
	}
	stored := make(map[string][]byte, len(existing))
	for _, e := range existing {
		stored[e.UUID] = e.RawHash
	}
	changed := rows[:0:0]
	for _, r := range rows {
		sum := sha256.Sum256(r.Raw)
		r.RawHash = sum[:]
		if old, ok := stored[r.UUID]; !ok || !bytes.Equal(old, r.RawHash) {
			changed = append(changed, r)
		}
	}
	return changed, nil
}

func productUUIDs(rows []ProductRow) []string {
	uuids := make([]string, len(rows))
	for i, r := range rows {
		uuids[i] = r.UUID
	}
	return uuids
}

// ProductsByBarcode finds the owner's products (groups excluded) with this barcode.
func (s *Store) ProductsByBarcode(ctx context.Context, owner, barcode string) ([]ProductRow, error) {
	var rows []ProductRow
	err := s.db.WithContext(ctx).
		Where("is_group = ? AND (owner_id, store_uuid, uuid) IN (?)", false,
			s.db.Model(&ProductBarcode{}).Select("owner_id, store_uuid, product_uuid").Where("owner_id = ? AND barcode = ?", owner, barcode)).
		Order("store_uuid, uuid").Find(&rows).Error
	return rows, err
}
