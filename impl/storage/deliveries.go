package storage

import (
	"context"
	"database/sql"

	"gorm.io/gorm"

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
	// yield, on SQLite, commits what the delivery wrote so far and lets the deliveries waiting
	// meanwhile run (groupcommit.go); nil where there is no need.
	yield func(tx *Tx, store string) (overtaken []string, err error)
}

// Redelivery marks the delivery as one already applied: no inbox row is added.
func (tx *Tx) Redelivery() { tx.duplicate = true }

// IsRedelivery reports whether the delivery was found already applied.
func (tx *Tx) IsRedelivery() bool { return tx.duplicate }

// Accept stores a delivery: apply's domain writes and the inbox row in one transaction, so a
// crash never leaves one without the other. When apply fails, nothing is written. It returns
// only after the commit. On SQLite, deliveries arriving together share one transaction (each
// in its own savepoint) and one commit: groupcommit.go.
func (s *Store) Accept(ctx context.Context, entry InboxEntry, apply func(tx *Tx) error) error {
	if entry.ReceivedAt.IsZero() {
		entry.ReceivedAt = s.now()
	}
	if s.committer != nil {
		return s.committer.accept(ctx, entry, apply)
	}
	defer s.refreshStatistics()
	err := s.transactionOnConn(ctx, func(db *gorm.DB, conn *sql.Conn) error {
		return s.applyDelivery(ctx, db, conn, entry, apply, nil)
	})
	if err == nil {
		entry.ForwardTo.committed()
	}
	return err
}

// applyDelivery runs apply and, unless it found the delivery already applied, writes the inbox
// row and its forwarding, all in db's transaction; conn is the connection it is on (nil when
// not known).
// A large body is compressed for its row while apply runs (inbox_body.go).
func (s *Store) applyDelivery(ctx context.Context, db *gorm.DB, conn *sql.Conn, entry InboxEntry, apply func(tx *Tx) error,
	yield func(tx *Tx, store string) ([]string, error)) error {
	body := prepareInboxBody(entry)
	tx := &Tx{db: db, conn: conn, store: s, yield: yield}
	if apply != nil {
		if err := apply(tx); err != nil {
			return err
		}
	}
	db = tx.db // a new transaction, when apply yielded
	if tx.duplicate {
		return nil
	}
	stored, length := body.row()
	if !entry.ForwardTo.Forwards() { // nothing needs the row's id
		return db.Exec(insertInboxSQL, entry.Operation, entry.EvotorUserID, entry.PathParams, entry.ReceivedAt, stored, length).Error
	}
	if s.OnPostgres() {
		sqlTx, err := sqlTx(db)
		if err != nil {
			return err
		}
		_, err = sqlTx.ExecContext(ctx, insertForwardedInboxSQL, entry.Operation, entry.EvotorUserID, entry.PathParams,
			entry.ReceivedAt, stored, length, entry.ForwardTo.Destinations)
		return err
	}
	err := db.Raw(insertInboxSQL+" RETURNING id", entry.Operation, entry.EvotorUserID, entry.PathParams, entry.ReceivedAt,
		stored, length).Row().Scan(&entry.ID)
	if err != nil {
		return err
	}
	return s.enqueueForwarding(ctx, db, entry)
}

// insertInboxSQL writes the inbox row: the statement GORM's Create would run, without its
// reflection (every delivery passes here). body_length is set for a compressed body only.
const insertInboxSQL = `INSERT INTO inbox (operation, evotor_user_id, path_params, received_at, body, body_length) VALUES (?, ?, ?, ?, ?, ?)`

// insertForwardedInboxSQL writes the inbox row and, in the same statement (one round trip, not
// two), its forwarding messages on PostgreSQL: one per destination ($7), unnumbered (seq NULL)
// until SequenceMessages numbers them after the commit (outbox.go).
const insertForwardedInboxSQL = `WITH i AS (
	INSERT INTO inbox (operation, evotor_user_id, path_params, received_at, body, body_length)
	VALUES ($1, $2, $3, $4, $5, $6) RETURNING id)
INSERT INTO forward_messages (destination, evotor_user_id, inbox_id, state, attempts, created_at)
SELECT d, coalesce($2, ''), i.id, '` + ForwardPending + `', 0, $4 FROM i, unnest($7::text[]) AS d`

// batchRows is how many rows one multi-row statement carries. The SQLite driver binds
// parameters in time quadratic in their number per statement, so it gets small statements.
func (tx *Tx) batchRows() int {
	if tx.store.OnPostgres() {
		return 500
	}
	return 40
}
