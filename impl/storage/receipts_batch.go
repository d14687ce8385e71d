package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evotor-partner/evotor-partner/impl/apperr"
)

// Group commit of receipts on PostgreSQL. Concurrent receipts deliveries are queued and a few
// flushers each take what is waiting (never waiting for more: a lone delivery is not slowed)
// and store it with one receiptsStatement: one round trip and one commit for the batch. Each
// delivery is answered after that commit, so a 200 still means stored; a delivery the batch
// failed for runs again alone (storeReceipts).
type receiptBatcher struct {
	queue   chan *receiptDelivery
	closed  chan struct{}
	stop    context.CancelFunc
	mu      sync.RWMutex // enqueue holds it to read, close to write: see enqueue
	closing sync.Once
	wg      sync.WaitGroup

	batches, delivered atomic.Int64 // how many batches, of how many deliveries (for tests)
}

const (
	// receiptFlushers: statements in flight at once. Two: one batch runs while the other's
	// commit reaches the disk; more make smaller batches, more statements and more contention
	// on the same index pages, and on two cores the tail is CPU contention, not a wait for a
	// free flusher (measured: tests/loadbench/PERFORMANCE.md). A statement waiting for a row
	// lock (a store being claimed by a catalogue's transaction) holds up the receipts queued
	// behind it.
	receiptFlushers = 2
	// receiptLinger: how long a flusher holding a lone delivery waits for a second one, so that
	// at a moderate rate a statement carries two or more and the database plans and commits
	// once for both (under load the queue is never empty and nobody waits); it costs a lone
	// delivery well under a millisecond (PERFORMANCE.md).
	receiptLinger = 500 * time.Microsecond
	// maxReceiptBatch bounds a statement's deliveries (and its parameters' size).
	maxReceiptBatch = 64
)

// errStoreClosed answers deliveries still queued when the store closes.
var errStoreClosed = errors.New("storage: closed")

func (s *Store) startReceiptBatcher() {
	ctx, stop := context.WithCancel(context.Background())
	b := &receiptBatcher{queue: make(chan *receiptDelivery, maxReceiptBatch*receiptFlushers), closed: make(chan struct{}), stop: stop}
	for range receiptFlushers {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			s.flushReceipts(ctx, b)
		}()
	}
	s.receipts = b
}

// close stops the flushers after their current batch and answers what is still queued; a
// second close does nothing (Store.Close may be called twice).
func (b *receiptBatcher) close() {
	b.closing.Do(func() {
		b.mu.Lock()
		close(b.closed)
		b.mu.Unlock()
		b.stop()
	})
	b.wg.Wait()
	for {
		select {
		case d := <-b.queue:
			d.done <- receiptOutcome{err: errStoreClosed}
		default:
			return
		}
	}
}

// submit queues d and waits for its outcome (the batch's commit, or its failure).
func (b *receiptBatcher) submit(d *receiptDelivery) (redelivery bool, err error) {
	d.done = make(chan receiptOutcome, 1)
	if err := b.enqueue(d); err != nil {
		return false, err
	}
	out := <-d.done
	return out.redelivery, out.err
}

// enqueue queues d unless the batcher is closed (under mu: nothing is queued after close's
// final drain, so every queued delivery is answered).
func (b *receiptBatcher) enqueue(d *receiptDelivery) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	select {
	case <-b.closed:
		return errStoreClosed
	default:
	}
	select {
	case b.queue <- d:
		return nil
	case <-d.ctx.Done():
		return d.ctx.Err()
	}
}

// flushReceipts is one flusher: batch after batch until ctx ends.
func (s *Store) flushReceipts(ctx context.Context, b *receiptBatcher) {
	var carried *receiptDelivery
	conns := &receiptConns{store: s} // kept from batch to batch: they carry the statement's plans
	defer conns.close()
	for {
		if ctx.Err() != nil && carried == nil {
			return
		}
		var batch []*receiptDelivery
		batch, carried = nextReceiptBatch(ctx, b.queue, carried, receiptLinger)
		if len(batch) == 0 {
			continue
		}
		b.batches.Add(1)
		b.delivered.Add(int64(len(batch)))
		if err := s.storeReceipts(ctx, conns, batch); errors.Is(err, apperr.ErrUnavailable) {
			conns.close() // likely broken (the monitor closes the pool's sockets): take others
		}
	}
}

// receiptConns is a flusher's connection for small batches, set to plan receiptsStatement
// once, its own way: with plan_cache_mode auto PostgreSQL kept planning it at every run, the
// custom plans estimated cheaper than the generic one; the generic plan is the right one, the
// statement reading the tables one key at a time (see receiptsStatement). Its joins are of a
// batch's own rows: nested loops, not hash tables or sorts built and freed at every run.
// Nested loops grow with the square of the rows, so a batch of more than smallPlanRows runs on
// a connection of its own with PostgreSQL's default joins, still on the generic plan (custom
// plans, sized by the arrays, were slower still). The figures behind each choice are in
// tests/loadbench/PERFORMANCE.md. Setting that connection up costs a few milliseconds, nothing
// beside such a statement, and none is left idle to go stale. Neither connection goes back to
// the pool with its settings (discard).
type receiptConns struct {
	store *Store
	small *sql.Conn
}

// smallPlanRows: the receipts and items a batch may hold to run on the nested-loop plan.
const smallPlanRows = 256

// The settings of the small batches' connection, and of a large batch's.
const (
	smallPlanSettings = `SELECT set_config('plan_cache_mode', 'force_generic_plan', false),
	set_config('enable_hashjoin', 'off', false), set_config('enable_mergejoin', 'off', false),
	set_config('enable_hashagg', 'off', false)`
	largePlanSettings = `SELECT set_config('plan_cache_mode', 'force_generic_plan', false)`
)

// smallPlan: batch is small enough for the nested-loop plan.
func smallPlan(batch []*receiptDelivery) bool {
	rows := 0
	for _, d := range batch {
		for _, r := range d.receipts {
			rows += 1 + len(r.Items)
		}
	}
	return rows <= smallPlanRows
}

// forBatch is the connection batch's statement runs on, and what to do with it after.
func (c *receiptConns) forBatch(ctx context.Context, batch []*receiptDelivery) (*sql.Conn, func(), error) {
	if !smallPlan(batch) {
		conn, err := c.store.settingsConn(ctx, largePlanSettings)
		if err != nil {
			return nil, nil, err
		}
		return conn, func() { discard(conn) }, nil
	}
	if c.small == nil {
		conn, err := c.store.settingsConn(ctx, smallPlanSettings)
		if err != nil {
			return nil, nil, err
		}
		c.small = conn
	}
	return c.small, func() {}, nil
}

// settingsConn is a connection of the pool with settings applied (to discard after use).
func (s *Store) settingsConn(ctx context.Context, settings string) (*sql.Conn, error) {
	conn, err := s.sqlConn(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, settings); err != nil {
		discard(conn)
		return nil, s.translate(err)
	}
	return conn, nil
}

// close discards the small batches' connection (it is opened again when needed).
func (c *receiptConns) close() {
	if c.small != nil {
		discard(c.small)
		c.small = nil
	}
}

// discard closes conn's connection rather than returning it to the pool (with its settings).
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = conn.Close()
}

// nextReceiptBatch waits for a first delivery (carried over, or queued) and adds what else is
// queued already; a lone one waits up to linger for a second. A delivery naming a receipt the
// batch has already is carried to the next batch: in one statement the two could not tell
// which one stored it. Deliveries whose caller has gone are answered and left out.
func nextReceiptBatch(ctx context.Context, queue <-chan *receiptDelivery, carried *receiptDelivery, linger time.Duration) (batch []*receiptDelivery, carry *receiptDelivery) {
	first := carried
	if first == nil {
		select {
		case first = <-queue:
		case <-ctx.Done():
			return nil, nil // flushReceipts ends
		}
	}
	ids := map[string]bool{}
	add := func(d *receiptDelivery) bool {
		for _, r := range d.receipts {
			if ids[r.ID] {
				return false
			}
		}
		if err := d.ctx.Err(); err != nil {
			d.done <- receiptOutcome{err: err}
			return true
		}
		for _, r := range d.receipts {
			ids[r.ID] = true
		}
		batch = append(batch, d)
		return true
	}
	add(first)
	lingered := false
	for len(batch) < maxReceiptBatch {
		var d *receiptDelivery
		select {
		case d = <-queue:
		default: // nothing queued: a lone delivery waits once for company
			if len(batch) > 1 || lingered {
				return batch, nil
			}
			lingered = true
			if d = receiveWithin(queue, linger); d == nil {
				return batch, nil
			}
		}
		if !add(d) {
			return batch, d
		}
	}
	return batch, nil
}

// receiveWithin is the next delivery queued within wait, or nil.
func receiveWithin(queue <-chan *receiptDelivery, wait time.Duration) *receiptDelivery {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case d := <-queue:
		return d
	case <-t.C:
		return nil
	}
}
