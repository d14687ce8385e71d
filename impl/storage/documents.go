package storage

import (
	"iter"
	"time"
)

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

// UpsertDocuments writes documents by uuid as documents yields them, a batch at a time (a
// uuid sent twice is stored as sent last); a document uuid another user has is ErrNotOwner.
func (tx *Tx) UpsertDocuments(documents iter.Seq2[DocumentRow, error]) error {
	batch := make([]DocumentRow, 0, documentBatchRows)
	flush := func() error {
		err := upsertOwned(tx, lastPerUUID(batch, func(r *DocumentRow) *string { return &r.UUID }), "documents", uuidKey,
			"store_uuid", "type", "device_uuid", "session_uuid", "session_number", "number", "open_at", "close_at",
			"close_sum", "close_result_sum")
		batch = batch[:0]
		return err
	}
	for row, err := range documents {
		if err != nil {
			return err
		}
		if batch = append(batch, row); len(batch) == documentBatchRows {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// documentBatchRows is how many documents are held and written at a time.
const documentBatchRows = 500
