package store

import (
	"context"
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
var productColumns = []string{"parent_uuid", "is_group", "has_variants", "type", "name", "code", "bar_codes",
	"alco_codes", "price", "quantity", "cost_price", "measure_name", "tax", "allow_to_sell", "article_number",
	"alcohol_by_volume", "alcohol_product_kind_code", "tare_volume"}

// UpsertProducts writes a store's products in multi-row statements and re-indexes their
// barcodes. The store must be claimed first (ClaimStores).
func (tx *Tx) UpsertProducts(rows []ProductRow) error {
	rows = lastPerUUID(rows, func(r *ProductRow) *string { return &r.UUID })
	if len(rows) == 0 {
		return nil
	}
	if err := upsertOwned(tx, rows, "products", []string{"owner_id", "store_uuid", "uuid"}, productColumns...); err != nil {
		return err
	}
	var barcodes []ProductBarcode
	for start := 0; start < len(rows); start += 500 {
		chunk := rows[start:min(start+500, len(rows))]
		uuids := make([]string, len(chunk))
		for i, r := range chunk {
			uuids[i] = r.UUID
		}
		if err := tx.db.Where("owner_id = ? AND store_uuid = ? AND product_uuid IN ?", chunk[0].OwnerID, chunk[0].StoreUUID, uuids).
			Delete(&ProductBarcode{}).Error; err != nil {
			return err
		}
	}
	for _, r := range rows {
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
	return tx.db.Clauses(clause.OnConflict{DoNothing: true}).CreateInBatches(barcodes, 1000).Error
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
