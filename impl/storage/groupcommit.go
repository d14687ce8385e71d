package storage

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"gorm.io/gorm"
)

// Group commit (SQLite). SQLite has one writer and pays one fsync per commit, so deliveries
// arriving together are committed together: one goroutine (the committer) takes the first
// waiting delivery and whatever others are already waiting, runs each in a SAVEPOINT of one
// transaction and commits once. A delivery whose apply fails is rolled back alone and gets its
// own error; every delivery is answered only after the COMMIT (or gets its error, if the
// COMMIT fails). The committer never waits for more deliveries: a lone one commits at once.

// maxBatch bounds how many deliveries share one commit.
const maxBatch = 64

// errBatchBroken: a savepoint could not be rolled back, so the transaction is in no known
// state; nothing of the batch may be committed.
var errBatchBroken = errors.New("storage: delivery batch aborted")

// commitJob is one delivery waiting for its commit.
type commitJob struct {
	ctx      context.Context
	entry    InboxEntry
	apply    func(tx *Tx) error
	err      error
	panicked any // apply's panic, raised again in the caller
	done     chan struct{}
}

type committer struct {
	store   *Store
	jobs    chan *commitJob // unbuffered: a job is either taken by the committer or still the caller's
	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once

	waiting atomic.Int64 // deliveries handed to Accept and not yet taken (tests)
	commits atomic.Int64 // transactions committed (tests)
}

func newCommitter(s *Store) *committer {
	c := &committer{store: s, jobs: make(chan *commitJob), stop: make(chan struct{}), stopped: make(chan struct{})}
	go c.run()
	return c
}

// close stops the committer once the batch in progress is answered.
func (c *committer) close() {
	c.once.Do(func() { close(c.stop) })
	<-c.stopped
}

// accept hands the delivery to the committer and waits for its commit.
func (c *committer) accept(ctx context.Context, entry InboxEntry, apply func(tx *Tx) error) error {
	j := &commitJob{ctx: ctx, entry: entry, apply: apply, done: make(chan struct{})}
	c.waiting.Add(1)
	select {
	case c.jobs <- j:
	case <-c.stop:
		c.waiting.Add(-1)
		return errStoreClosed
	case <-ctx.Done():
		c.waiting.Add(-1)
		return ctx.Err()
	}
	// Once taken, the job is always answered: apply never runs after Accept has returned.
	<-j.done
	if j.panicked != nil {
		panic(j.panicked)
	}
	return j.err
}

func (c *committer) run() {
	defer close(c.stopped)
	for {
		select {
		case <-c.stop:
			return
		case first := <-c.jobs:
			c.commitBatch(c.takeWaiting(first))
		}
	}
}

// takeWaiting is first and the jobs already waiting to be taken, without waiting for more.
func (c *committer) takeWaiting(first *commitJob) []*commitJob {
	batch := []*commitJob{first}
	for len(batch) < maxBatch {
		select {
		case j := <-c.jobs:
			batch = append(batch, j)
		default:
			c.waiting.Add(-int64(len(batch)))
			return batch
		}
	}
	c.waiting.Add(-int64(len(batch)))
	return batch
}

// commitBatch runs the jobs in one transaction, each in its own savepoint, and answers them
// all after the commit.
func (c *committer) commitBatch(batch []*commitJob) {
	// The transaction outlives any one request: a caller going away must not interrupt the
	// statements of the others.
	err := c.store.db.WithContext(context.Background()).Transaction(func(db *gorm.DB) error {
		if len(batch) == 1 {
			return c.runAlone(db, batch[0])
		}
		for _, j := range batch {
			if j.err = j.ctx.Err(); j.err != nil {
				continue // the caller has gone: skipped
			}
			j.err = c.runInSavepoint(db, j)
			if errors.Is(j.err, errBatchBroken) {
				return j.err
			}
		}
		return nil
	})
	if err == nil {
		c.commits.Add(1)
	}
	for _, j := range batch {
		if err != nil && j.err == nil {
			j.err = err // was to be acknowledged; nothing of the batch is stored
		}
		close(j.done)
	}
}

// runAlone applies a job that has the transaction to itself: no savepoint, its failure rolls
// the transaction back.
func (c *committer) runAlone(db *gorm.DB, j *commitJob) error {
	if j.err = j.ctx.Err(); j.err == nil {
		j.err = c.applyJob(db, j)
	}
	return j.err
}

// runInSavepoint applies one job; when it fails its writes are rolled back, the others' kept.
func (c *committer) runInSavepoint(db *gorm.DB, j *commitJob) error {
	if err := db.Exec("SAVEPOINT delivery").Error; err != nil {
		return fmt.Errorf("%w: %w", errBatchBroken, err)
	}
	err := c.applyJob(db, j)
	if err == nil {
		if err := db.Exec("RELEASE delivery").Error; err != nil {
			return fmt.Errorf("%w: %w", errBatchBroken, err)
		}
		return nil
	}
	// SQLite may have rolled the whole transaction back by itself (SQLITE_FULL, an I/O
	// error): then the savepoint is gone and the next job would run outside any transaction.
	if rbErr := db.Exec("ROLLBACK TO delivery").Error; rbErr != nil {
		return fmt.Errorf("%w: %w (rolling back: %w)", errBatchBroken, err, rbErr)
	}
	if rbErr := db.Exec("RELEASE delivery").Error; rbErr != nil {
		return fmt.Errorf("%w: %w (releasing: %w)", errBatchBroken, err, rbErr)
	}
	return err
}

// applyJob runs the delivery with its caller's context values but not its cancellation (that
// would interrupt the shared transaction), turning a panic of apply into an error here (so its
// writes are rolled back) and a panic again in the caller.
func (c *committer) applyJob(db *gorm.DB, j *commitJob) (err error) {
	defer func() {
		if p := recover(); p != nil {
			j.panicked = p
			err = fmt.Errorf("storage: delivery panicked: %v", p)
		}
	}()
	ctx := context.WithoutCancel(j.ctx)
	return c.store.applyDelivery(ctx, db.WithContext(ctx), nil, j.entry, j.apply)
}
