package storage

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

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

// SynchronousCommit is how a bookkeeping transaction (bookkeeping true) or any other
// transaction of the store commits: "off" without waiting for the disk, "on" waiting for it
// (PostgreSQL's synchronous_commit; SQLite's synchronous, NORMAL or FULL). fail makes the
// bookkeeping transaction fail after reading it, its context canceled.
func (s *Store) SynchronousCommit(ctx context.Context, bookkeeping, fail bool) (value string, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	read := func(db *gorm.DB) error {
		if s.OnPostgres() {
			return db.Raw("SHOW synchronous_commit").Row().Scan(&value)
		}
		var level int
		err := db.Raw("PRAGMA synchronous").Row().Scan(&level)
		value = map[int]string{1: "off", 2: "on"}[level]
		return err
	}
	if !bookkeeping {
		return value, s.db.WithContext(ctx).Transaction(read)
	}
	err = s.bookkeeping(ctx, func(db *gorm.DB) error {
		if err := read(db); err != nil || !fail {
			return err
		}
		cancel()
		return context.Canceled
	})
	if fail && errors.Is(err, context.Canceled) {
		err = nil
	}
	return value, err
}

var probes atomic.Int64

// PlansOfArrayStatement runs a statement taking an array n times in one transaction, a
// bookkeeping one or not, each time with an array of 1–3 elements, and returns how PostgreSQL
// planned those runs (pg_prepared_statements of the transaction's connection): for their
// values (custom) or once for all (generic).
func (s *Store) PlansOfArrayStatement(ctx context.Context, bookkeeping bool, n int) (custom, generic int64, err error) {
	probe := fmt.Sprintf("SELECT count(*) FROM unnest($1::bigint[]) AS u(id) WHERE id > 0 -- probe %d", probes.Add(1))
	run := func(db *gorm.DB) error {
		tx, err := sqlTx(db)
		if err != nil {
			return err
		}
		for i := range n {
			var count int64
			if err := tx.QueryRowContext(ctx, probe, []int64{1, 2, 3}[:1+i%3]).Scan(&count); err != nil {
				return err
			}
		}
		return tx.QueryRowContext(ctx, "SELECT custom_plans, generic_plans FROM pg_prepared_statements WHERE statement = $1",
			probe).Scan(&custom, &generic)
	}
	if bookkeeping {
		return custom, generic, s.bookkeeping(ctx, run)
	}
	return custom, generic, s.db.WithContext(ctx).Transaction(run)
}
