package storage

import "time"

// DocumentRow is a terminal document of one owner's store, kept whole in Raw.
type DocumentRow struct {
	OwnerID        string
	UUID           string `gorm:"primaryKey;column:uuid"`
	StoreUUID      string
	Type           string
	DeviceUUID     *string
	SessionUUID    *string
	SessionNumber  *string
	Number         *string
	OpenAt         *time.Time
	CloseAt        *time.Time
	CloseSum       *string
	CloseResultSum *string
	Raw            []byte
	UpdatedAt      time.Time
}

func (DocumentRow) TableName() string { return "documents" }

// UpsertDocuments writes documents by uuid; a document uuid another user has is ErrNotOwner.
func (tx *Tx) UpsertDocuments(rows []DocumentRow) error {
	return upsertOwned(tx, lastPerUUID(rows, func(r *DocumentRow) *string { return &r.UUID }), "documents", uuidKey,
		"store_uuid", "type", "device_uuid", "session_uuid", "session_number", "number", "open_at", "close_at",
		"close_sum", "close_result_sum")
}
