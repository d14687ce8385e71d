package storage

import (
	"strings"
	"time"

	"github.com/evotor-partner/evotor-partner/impl/evotor"
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
// receipt was a redelivery, the delivery is one. Plain statements, not GORM's Create: on the
// hot path of every receipt, GORM's reflection cost as much as the inserts themselves.
func (tx *Tx) InsertReceipts(receipts []ReceiptRow) error {
	fresh := 0
	for _, r := range receipts {
		r.ID = evotor.CanonicalID(r.ID)
		r.ReceivedAt = tx.store.now()
		res := tx.db.Exec(insertReceiptSQL, r.OwnerID, r.ID, r.ReceiptUUID, r.StoreUUID, r.DeviceUUID, r.EmployeeUUID,
			r.ShiftID, r.Type, r.PaymentSource, r.DateTime, r.TotalAmount, r.TotalTax, r.TotalDiscount, r.Raw, r.ReceivedAt)
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
		if err := tx.insertReceiptItems(r.ID, r.Items); err != nil {
			return err
		}
	}
	if fresh == 0 {
		tx.Redelivery()
	}
	return nil
}

const insertReceiptSQL = `INSERT INTO receipts (owner_id, id, receipt_uuid, store_uuid, device_uuid, employee_uuid,
	shift_id, type, payment_source, date_time, total_amount, total_tax, total_discount, raw, received_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`

// insertReceiptItems writes a new receipt's positions, numbered in order from 0, a few
// hundred rows per statement at most.
func (tx *Tx) insertReceiptItems(receiptID string, items []ReceiptItemRow) error {
	for start := 0; start < len(items); start += tx.batchRows() {
		batch := items[start:min(start+tx.batchRows(), len(items))]
		var sql strings.Builder
		sql.WriteString(`INSERT INTO receipt_items (receipt_id, position, item_uuid, name, item_type, quantity, price,
	sum_price, tax, discount) VALUES `)
		args := make([]any, 0, 10*len(batch))
		for i, it := range batch {
			if i > 0 {
				sql.WriteString(", ")
			}
			sql.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
			args = append(args, receiptID, start+i, it.ItemUUID, it.Name, it.ItemType, it.Quantity, it.Price,
				it.SumPrice, it.Tax, it.Discount)
		}
		if err := tx.db.Exec(sql.String(), args...).Error; err != nil {
			return err
		}
	}
	return nil
}
