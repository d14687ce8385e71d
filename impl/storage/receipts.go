package storage

import (
	"github.com/evotor-partner/evotor-partner/security"
	"time"

	"gorm.io/gorm/clause"
)

// ReceiptRow is one receipt (one Evotor event id) of one owner.
type ReceiptRow struct {
	OwnerID       string
	ID            string `gorm:"primaryKey"`
	ReceiptUUID   string
	StoreUUID     string
	DeviceUUID    *string
	EmployeeUUID  *string
	ShiftID       *string
	Type          string
	PaymentSource *string
	DateTime      *time.Time
	TotalAmount   *string
	TotalTax      *string
	TotalDiscount *string
	Raw           []byte
	ReceivedAt    time.Time
	Items         []ReceiptItemRow `gorm:"-"`
	// BodyOffset is where Raw starts in its delivery's body: on PostgreSQL's receipts path the
	// receipt is stored as that span of the inbox row's body, not as a copy (migration 00008).
	BodyOffset int `gorm:"-"`
}

func (ReceiptRow) TableName() string { return "receipts" }

// ReceiptItemRow is one position of a receipt.
type ReceiptItemRow struct {
	ReceiptID string `gorm:"primaryKey"`
	Position  int    `gorm:"primaryKey"`
	ItemUUID  string
	Name      *string
	ItemType  *string
	Quantity  *string
	Price     *string
	SumPrice  *string
	Tax       *string
	Discount  *string
}

func (ReceiptItemRow) TableName() string { return "receipt_items" }

// InsertReceipts stores receipts not stored yet; a receipt id already stored for this owner is
// a redelivery and changes nothing, one stored for another owner is ErrNotOwner. When every
// receipt was a redelivery, the delivery is one.
func (tx *Tx) InsertReceipts(receipts []ReceiptRow) error {
	fresh := 0
	for _, r := range receipts {
		r.ID = security.CanonicalID(r.ID)
		r.ReceivedAt = tx.store.now()
		res := tx.db.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "id"}}, DoNothing: true}).Create(&r)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			var stored ReceiptRow
			if err := tx.db.Select("owner_id").Where("id = ?", r.ID).Take(&stored).Error; err != nil {
				return err
			}
			if stored.OwnerID != r.OwnerID {
				return ErrNotOwner
			}
			continue // a redelivery
		}
		fresh++
		for i := range r.Items {
			r.Items[i].ReceiptID, r.Items[i].Position = r.ID, i
		}
		if len(r.Items) > 0 {
			if err := tx.db.CreateInBatches(r.Items, tx.batchRows()).Error; err != nil {
				return err
			}
		}
	}
	if fresh == 0 {
		tx.Redelivery()
	}
	return nil
}
