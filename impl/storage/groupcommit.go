package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

	waiting atomic.Int64 // deliveries handed to Accept and not yet taken
	commits atomic.Int64 // transactions committed (tests)
	// busyStore is the store whose catalogue yields to the jobs running now, overtaken the
	// products of that store they wrote; behind, how many jobs of its batch wait behind the
	// job running (committer's goroutine only).
	busyStore string
	overtaken []string
	behind    int
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
			c.waiting.Add(-1) // first is taken
			c.commitBatch(c.takeWaiting([]*commitJob{first}))
		}
	}
}

// takeWaiting adds to batch the jobs already waiting to be taken, up to maxBatch, without
// waiting for more.
func (c *committer) takeWaiting(batch []*commitJob) []*commitJob {
	taken := 0
	for ; len(batch) < maxBatch; taken++ {
		select {
		case j := <-c.jobs:
			batch = append(batch, j)
		default:
			c.waiting.Add(-int64(taken))
			return batch
		}
	}
	c.waiting.Add(-int64(taken))
	return batch
}

// commitBatch runs the jobs in one transaction, each in its own savepoint (a lone job without
// one), and answers them after the commit.
func (c *committer) commitBatch(batch []*commitJob) {
	r := &batchRun{c: c, mayYield: true}
	r.run(batch, len(batch) == 1)
}

// A long catalogue must not hold SQLite's one connection from every other delivery: between
// batches of its products, when deliveries are waiting, it yields (Tx.letOthersIn): what it
// wrote so far is committed with the jobs run before it, the waiting deliveries run and commit
// in a transaction of their own, and it goes on in a new one; its inbox row comes with its
// last part, so a crash in between leaves it unacknowledged (Evotor re-sends it) and never
// stored twice. The jobs of its own batch behind it go in its turn too. A delivery let in
// that writes products of the store being yielded for would overtake its catalogue, and
// another catalogue would hold the connection for all its length (a turn cannot yield in its
// turn): each is put back (errCatalogueBusy) and run after it, in the same transaction as its
// end.

// errCatalogueBusy: the delivery writes products of a store whose catalogue has yielded to it,
// or is a catalogue itself; it runs after that catalogue instead.
var errCatalogueBusy = errors.New("storage: the store's catalogue is being written")

// batchRun is one batch's way through its transactions.
type batchRun struct {
	c        *committer
	mayYield bool          // its jobs may yield (not a batch run during a yield)
	tx       *gorm.DB      // the open transaction; nil when none is
	done     []*commitJob  // run in tx: answered at its commit
	rest     []*commitJob  // the batch's jobs not run yet
	deferred *[]*commitJob // where jobs that must wait for a yielding catalogue go
	own      []*commitJob  // this batch's deferred jobs (when deferred is nil)
}

func (r *batchRun) begin() error {
	// The transaction outlives any one request: a caller going away must not interrupt the
	// statements of the others.
	r.tx = r.c.store.db.WithContext(context.Background()).Begin()
	return r.tx.Error
}

// commit commits the open transaction and answers the jobs run in it (err for those that were
// to be acknowledged, when the commit failed).
func (r *batchRun) commit() error {
	err := r.tx.Commit().Error
	r.tx = nil
	if err == nil {
		r.c.commits.Add(1)
	}
	r.answer(err)
	return err
}

func (r *batchRun) rollback(err error) {
	if r.tx != nil {
		r.tx.Rollback()
		r.tx = nil
	}
	r.answer(err)
}

func (r *batchRun) answer(err error) {
	for _, j := range r.done {
		if err != nil && j.err == nil {
			j.err = err // was to be acknowledged; nothing of it is stored
		}
		close(j.done)
	}
	r.done = nil
}

// run runs the jobs (and those deferred behind a catalogue among them) and commits; alone: one
// job with the transaction to itself, no savepoint.
func (r *batchRun) run(batch []*commitJob, alone bool) {
	if r.deferred == nil {
		r.deferred = &r.own
	}
	if err := r.begin(); err != nil {
		r.done = batch
		r.answer(err)
		return
	}
	r.rest = batch
	for len(r.rest) > 0 {
		j := r.rest[0]
		r.rest = r.rest[1:]
		if j.err = j.ctx.Err(); j.err != nil {
			r.done = append(r.done, j) // the caller has gone: skipped
			continue
		}
		r.c.behind = len(r.rest)
		overtaken := len(r.c.overtaken)
		if alone {
			j.err = r.apply(j, false)
		} else {
			j.err = r.inSavepoint(j)
		}
		if j.err != nil {
			r.c.overtaken = r.c.overtaken[:overtaken] // what it wrote is rolled back
		}
		switch {
		case errors.Is(j.err, errCatalogueBusy):
			j.err = nil
			*r.deferred = append(*r.deferred, j)
			continue
		case alone && j.err != nil || errors.Is(j.err, errBatchBroken):
			r.done = append(r.done, j)
			r.rollback(j.err)
			r.failRest(j.err)
			return
		}
		r.done = append(r.done, j)
		if r.tx == nil { // a yield's commit failed: the job has its error, the rest theirs
			r.answer(nil)
			r.failRest(errBatchBroken)
			return
		}
		if len(r.own) > 0 { // jobs that waited for this one's catalogue: now, in this transaction
			r.rest, r.own, alone = append(r.rest, r.own...), nil, false
		}
	}
	_ = r.commit()
}

// failRest answers the jobs of the batch not run with err (nothing of the batch is stored),
// and runs those that waited for a catalogue in a batch of their own.
func (r *batchRun) failRest(err error) {
	rest := r.rest
	r.rest = nil
	for _, j := range rest {
		j.err = err
		close(j.done)
	}
	if own := r.own; len(own) > 0 {
		r.own = nil
		(&batchRun{c: r.c, mayYield: r.mayYield}).run(own, false)
	}
}

// inSavepoint applies one job; when it fails its writes are rolled back, the others' kept.
func (r *batchRun) inSavepoint(j *commitJob) error {
	if err := r.tx.Exec("SAVEPOINT delivery").Error; err != nil {
		return fmt.Errorf("%w: %w", errBatchBroken, err)
	}
	err := r.apply(j, true)
	if r.tx == nil {
		return err // a yield's commit failed
	}
	if err == nil {
		if err := r.tx.Exec("RELEASE delivery").Error; err != nil {
			return fmt.Errorf("%w: %w", errBatchBroken, err)
		}
		return nil
	}
	// SQLite may have rolled the whole transaction back by itself (SQLITE_FULL, an I/O
	// error): then the savepoint is gone and the next job would run outside any transaction.
	if rbErr := r.tx.Exec("ROLLBACK TO delivery").Error; rbErr != nil {
		return fmt.Errorf("%w: %w (rolling back: %w)", errBatchBroken, err, rbErr)
	}
	if rbErr := r.tx.Exec("RELEASE delivery").Error; rbErr != nil {
		return fmt.Errorf("%w: %w (releasing: %w)", errBatchBroken, err, rbErr)
	}
	return err
}

// apply runs the job in the open transaction; when this batch may yield, the job may too.
func (r *batchRun) apply(j *commitJob, inSavepoint bool) error {
	var yield func(tx *Tx, store string) ([]string, error)
	if r.mayYield {
		yield = func(tx *Tx, store string) ([]string, error) { return r.yield(tx, store, inSavepoint) }
	}
	return r.c.applyJob(r.tx, j, yield)
}

// yield commits what is open (the yielding job's writes so far, and the jobs run before it),
// runs the deliveries waiting meanwhile in a transaction of their own, and opens a new
// transaction (and savepoint) for the yielding job, which tx then writes in. It returns the
// products of store that those deliveries wrote (committed): they are newer than the
// catalogue's.
func (r *batchRun) yield(tx *Tx, store string, inSavepoint bool) (overtaken []string, err error) {
	if inSavepoint {
		if err := r.tx.Exec("RELEASE delivery").Error; err != nil {
			return nil, fmt.Errorf("%w: %w", errBatchBroken, err)
		}
	}
	if err := r.commit(); err != nil {
		return nil, err
	}
	// The batch's jobs after the yielding one go now too, with those waiting.
	others := r.c.takeWaiting(slices.Clip(r.rest))
	r.rest, r.c.behind = nil, 0
	if len(others) > 0 {
		r.c.busyStore, r.c.overtaken = store, nil
		commits := r.c.commits.Load()
		(&batchRun{c: r.c, deferred: r.deferred}).run(others, false)
		if r.c.commits.Load() > commits { // else nothing they wrote is stored
			overtaken = r.c.overtaken
		}
		r.c.busyStore, r.c.overtaken = "", nil
	}
	if err := r.begin(); err != nil {
		r.tx = nil
		return nil, err
	}
	if inSavepoint {
		if err := r.tx.Exec("SAVEPOINT delivery").Error; err != nil {
			r.rollback(err)
			return nil, err
		}
	}
	tx.db = r.tx.WithContext(tx.db.Statement.Context)
	return overtaken, nil
}

// mustWait reports whether a delivery of a store's products, of n items, must wait for the
// catalogue yielding to the jobs running now: it is a catalogue itself.
func (c *committer) mustWait(n int) bool { return c.busyStore != "" && n > smallDeliveryItems }

// overtake notes the products of store a delivery let in wrote (it wrote them whole, or
// found them stored as they are), when store's catalogue is the one yielding: it will not
// write them over.
func (c *committer) overtake(store string, uuids []string) {
	if c.busyStore == store {
		c.overtaken = append(c.overtaken, uuids...)
	}
}

// othersWaiting reports whether deliveries wait: for the connection, or behind the running
// job in its batch.
func (c *committer) othersWaiting() bool { return c.waiting.Load() > 0 || c.behind > 0 }

// applyJob runs the delivery with its caller's context values but not its cancellation (that
// would interrupt the shared transaction), turning a panic of apply into an error here (so its
// writes are rolled back) and a panic again in the caller.
func (c *committer) applyJob(db *gorm.DB, j *commitJob, yield func(tx *Tx, store string) ([]string, error)) (err error) {
	defer func() {
		if p := recover(); p != nil {
			j.panicked = p
			err = fmt.Errorf("storage: delivery panicked: %v", p)
		}
	}()
	ctx := context.WithoutCancel(j.ctx)
	return c.store.applyDelivery(ctx, db.WithContext(ctx), nil, j.entry, j.apply, yield)
}
