package storage

import (
	"context"
	"database/sql"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/evotor-partner/evotor-partner/impl/apperr"
)

// ErrNotOwner: the delivery names an Evotor object (store, device, employee, receipt) that
// belongs to another user. Nothing of the delivery is written.
var ErrNotOwner = apperr.ErrNotOwner

// Tx is one delivery's transaction: the domain writes and the inbox row commit together.
type Tx struct {
	db        *gorm.DB
	conn      *sql.Conn // the connection the transaction is on (catalogue_postgres.go: COPY)
	store     *Store
	duplicate bool
}

// Redelivery marks the delivery as one already applied: no inbox row is added.
func (tx *Tx) Redelivery() { tx.duplicate = true }

// IsRedelivery reports whether the delivery was found already applied.
func (tx *Tx) IsRedelivery() bool { return tx.duplicate }

// Accept stores a delivery: apply's domain writes and the inbox row in one transaction, so a
// crash never leaves one without the other. When apply fails, nothing is written.
func (s *Store) Accept(ctx context.Context, entry InboxEntry, apply func(tx *Tx) error) error {
	if entry.ReceivedAt.IsZero() {
		entry.ReceivedAt = s.now()
	}
	return s.transactionOnConn(ctx, func(db *gorm.DB, conn *sql.Conn) error {
		tx := &Tx{db: db, conn: conn, store: s}
		if apply != nil {
			if err := apply(tx); err != nil {
				return err
			}
		}
		if tx.duplicate {
			return nil
		}
		if err := db.Create(&entry).Error; err != nil {
			return err
		}
		return s.enqueueForwarding(ctx, db, entry)
	})
}

// batchRows is how many rows one multi-row statement carries. The SQLite driver binds
// parameters in time quadratic in their number per statement, so it gets small statements.
func (tx *Tx) batchRows() int {
	if tx.store.dialect == "postgres" {
		return 500
	}
	return 40
}

// lockRow makes concurrent deliveries about one object take turns (PostgreSQL; SQLite has a
// single writer already).
func (tx *Tx) lockRow(q *gorm.DB) *gorm.DB {
	if tx.store.dialect == "postgres" {
		return q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	return q
}
