package storage

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// Retention: what was received and forwarded long ago is deleted, a batch at a time, so the
// tables that grow with every delivery stop growing with the server's age.
//
// What goes, once older than the cutoff:
//   - forward_messages that were delivered (by delivered_at): their job is done;
//   - inbox rows that nothing refers to any more.
//
// What stays, whatever its age:
//   - pending and dead messages, and their inbox rows: they are still to be sent, or re-sent by
//     the admin API (a message is sent from its inbox row's body);
//   - inbox rows a receipt refers to: on PostgreSQL's receipts path a receipt keeps no copy of
//     its JSON, it is a span of its delivery's body (migration 00008), so that body is the
//     receipt's storage, not a log. Copying the spans out before deleting would rewrite every
//     receipt once for no space saved;
//   - the domain tables (receipts, documents, products, stores, …, subscription and
//     installation events, tokens, accounts): each row keeps its own JSON (raw, body) or a span
//     kept above, so everything the admin API and the barcode lookup read survives pruning.
//     Only the admin API's list of a user's events (the inbox) is shortened to the retention.
//
// Every delete is idempotent and re-checks its conditions in the statement, so replicas pruning
// at once, or a message re-sent meanwhile (pending again), are harmless; on PostgreSQL a
// transaction-level advisory lock lets one replica prune while the others skip their run.

// DefaultPruneBatch is how many rows one pruning transaction deletes at most.
const DefaultPruneBatch = 500

// Pruned is how many rows a pruning run deleted.
type Pruned struct {
	ForwardMessages int64 // delivered messages
	Inbox           int64 // inbox rows
	Busy            bool  // another replica was pruning (PostgreSQL): this run stopped early
}

// Any reports whether anything was deleted.
func (p Pruned) Any() bool { return p.ForwardMessages+p.Inbox > 0 }

// inboxMark names retention_marks' row for the inbox.
const inboxMark = "inbox"

// Prune deletes delivered forwarding messages delivered before olderThan, then inbox rows
// received before olderThan that nothing refers to (see above), at most batch rows per
// transaction (0: DefaultPruneBatch), until a batch comes up short. Rows are walked by id (the
// primary key, or the (state, id) index of forward_messages), so a batch reads about as many
// rows as it deletes.
func (s *Store) Prune(ctx context.Context, olderThan time.Time, batch int) (Pruned, error) {
	if batch <= 0 {
		batch = DefaultPruneBatch
	}
	var p Pruned
	for after, done := int64(0), false; !done; {
		var err error
		if after, done, err = s.pruneMessages(ctx, olderThan, after, batch, &p); err != nil || p.Busy {
			return p, err
		}
	}
	for {
		done, err := s.pruneInbox(ctx, olderThan, batch, &p)
		if err != nil || done || p.Busy {
			return p, err
		}
	}
}

// pruneMessages deletes the delivered messages among the next batch of delivered messages after
// id after, and then their inbox rows when nothing else refers to them. Messages are walked in
// id order, which is the order they were created in: the walk stops at the first one created
// after the cutoff. One delivered late (re-sent by the admin API) is skipped until it is old.
func (s *Store) pruneMessages(ctx context.Context, olderThan time.Time, after int64, batch int, p *Pruned) (next int64, done bool, err error) {
	var rows []struct {
		ID          int64
		CreatedAt   time.Time
		DeliveredAt *time.Time
	}
	err = s.db.WithContext(ctx).Raw(`SELECT id, created_at, delivered_at FROM forward_messages
		WHERE state = 'delivered' AND id > ? ORDER BY id LIMIT ?`, after, batch).Scan(&rows).Error
	if err != nil {
		return 0, false, err
	}
	next, done = after, len(rows) < batch
	var ids []int64
	for _, r := range rows {
		if !r.CreatedAt.Before(olderThan) {
			done = true
			break
		}
		next = r.ID
		if r.DeliveredAt == nil || r.DeliveredAt.Before(olderThan) {
			ids = append(ids, r.ID)
		}
	}
	if len(ids) == 0 {
		return next, done, nil
	}
	err = s.pruneTransaction(ctx, p, func(db *gorm.DB, deleted *Pruned) error {
		var inboxIDs []int64
		// state is checked again: a message re-sent since it was read is pending, and stays.
		err := db.Raw(`DELETE FROM forward_messages WHERE id IN ? AND state = 'delivered' RETURNING inbox_id`, ids).
			Scan(&inboxIDs).Error
		if err != nil {
			return err
		}
		deleted.ForwardMessages = int64(len(inboxIDs))
		deleted.Inbox, err = deleteUnreferencedInbox(db, inboxIDs)
		return err
	})
	return next, done, err
}

// pruneInbox deletes, among the next batch of inbox rows after retention_marks' mark, those
// received before the cutoff that nothing refers to, and moves the mark past them. Inbox ids
// follow the order rows were received in, so the walk stops at the first row received after
// the cutoff. A row passed over stays behind the mark for good: one a receipt refers to is
// kept for ever, and one a message refers to is deleted with its message (pruneMessages).
func (s *Store) pruneInbox(ctx context.Context, olderThan time.Time, batch int, p *Pruned) (done bool, err error) {
	var mark int64
	err = s.db.WithContext(ctx).Raw(`SELECT COALESCE(MAX(after_id), 0) FROM retention_marks WHERE name = ?`, inboxMark).
		Scan(&mark).Error
	if err != nil {
		return false, err
	}
	var rows []struct {
		ID         int64
		ReceivedAt time.Time
	}
	err = s.db.WithContext(ctx).Raw(`SELECT id, received_at FROM inbox WHERE id > ? ORDER BY id LIMIT ?`, mark, batch).
		Scan(&rows).Error
	if err != nil {
		return false, err
	}
	done = len(rows) < batch
	var ids []int64
	for _, r := range rows {
		if !r.ReceivedAt.Before(olderThan) {
			done = true
			break
		}
		ids = append(ids, r.ID)
	}
	if len(ids) == 0 {
		return true, nil
	}
	err = s.pruneTransaction(ctx, p, func(db *gorm.DB, deleted *Pruned) error {
		var err error
		if deleted.Inbox, err = deleteUnreferencedInbox(db, ids); err != nil {
			return err
		}
		return db.Exec(`INSERT INTO retention_marks (name, after_id) VALUES (?, ?)
			ON CONFLICT (name) DO UPDATE SET after_id = CASE WHEN excluded.after_id > retention_marks.after_id
			THEN excluded.after_id ELSE retention_marks.after_id END`, inboxMark, ids[len(ids)-1]).Error
	})
	return done, err
}

// deleteUnreferencedInbox deletes the inbox rows among ids that no forwarding message (pending,
// dead, or delivered and not pruned yet) and no receipt refers to. New references are never
// made to an existing inbox row, so what the statement sees unreferenced stays so.
func deleteUnreferencedInbox(db *gorm.DB, ids []int64) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	res := db.Exec(`DELETE FROM inbox WHERE id IN ?
		AND NOT EXISTS (SELECT 1 FROM forward_messages f WHERE f.inbox_id = inbox.id)
		AND NOT EXISTS (SELECT 1 FROM receipts r WHERE r.inbox_id = inbox.id)`, ids)
	return res.RowsAffected, res.Error
}

// pruneTransaction runs f in a transaction and, once it committed, adds what f deleted to p.
// On PostgreSQL it first takes pruning's advisory lock for the transaction, without waiting:
// when another replica holds it, nothing is done and p says so.
func (s *Store) pruneTransaction(ctx context.Context, p *Pruned, f func(db *gorm.DB, deleted *Pruned) error) error {
	var deleted Pruned
	err := s.db.WithContext(ctx).Transaction(func(db *gorm.DB) error {
		if s.OnPostgres() {
			var locked bool
			if err := db.Raw(`SELECT pg_try_advisory_xact_lock(?)`, pruneLockID).Scan(&locked).Error; err != nil {
				return err
			}
			if !locked {
				deleted.Busy = true
				return nil
			}
		}
		return f(db, &deleted)
	})
	if err == nil {
		p.ForwardMessages += deleted.ForwardMessages
		p.Inbox += deleted.Inbox
		p.Busy = deleted.Busy
	}
	return err
}
