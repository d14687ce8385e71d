package storage

import (
	"context"

	"gorm.io/gorm"
)

// ReceiptBatches is how many receipts statements ran and for how many deliveries (PostgreSQL;
// 0, 0 on SQLite).
func (s *Store) ReceiptBatches() (batches, deliveries int64) {
	if s.receipts == nil {
		return 0, 0
	}
	return s.receipts.batches.Load(), s.receipts.delivered.Load()
}

// SetProductBatchRows makes catalogues go in batches of n products until restore is called.
func SetProductBatchRows(n int) (restore func()) {
	old := productBatchRows
	productBatchRows = n
	return func() { productBatchRows = old }
}

// Pragma reads a SQLite pragma on the store's own connection.
func (s *Store) Pragma(name string) (value string, err error) {
	err = s.db.Raw("PRAGMA " + name).Row().Scan(&value)
	return value, err
}

// SynchronousCommit is the synchronous_commit setting a bookkeeping transaction runs with
// (bookkeeping true) or any other transaction of the store (PostgreSQL).
func (s *Store) SynchronousCommit(ctx context.Context, bookkeeping bool) (value string, err error) {
	read := func(db *gorm.DB) error { return db.Raw("SHOW synchronous_commit").Row().Scan(&value) }
	if bookkeeping {
		return value, s.bookkeeping(ctx, read)
	}
	return value, s.db.WithContext(ctx).Transaction(read)
}
