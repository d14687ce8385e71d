package storage

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// The forwarding outbox. Every accepted, non-duplicate delivery becomes one ForwardMessage per
// destination, written in the delivery's own transaction (impl/forward owns the job queue and
// hands Accept a JobInserter). Order per Evotor user and destination: each delivery gets the
// user's next seq (forward_users.last_seq, shared by its messages to every destination), and
// only a user's earliest pending message (the head) is ever sent, by the one job that owns it
// (job_id).
//
// Numbering (number) hands out seq and gives heads their jobs. On SQLite it runs in the
// delivery's transaction (one writer at a time: it holds nobody up). On PostgreSQL a delivery
// writes its messages unnumbered (seq NULL) and, once committed, they are numbered in the order
// of their deliveries (inbox ids) by SequenceMessages, one short transaction per batch: the user's forward_users row lock is
// taken there, not in the delivery, so one user's deliveries commit side by side instead of
// one after another (the lock used to be held from seq to COMMIT). Unnumbered messages are
// pending but not yet in their user's queue: nothing sends, claims or revives them.
//
// One job drains a user's queue: numbering gives a message a send job only when it is the head
// (nothing of the user is pending there); the job that finishes a message takes the next ones
// over (ClaimNext) and sends them at once, or hands the head a fresh job (when it stops
// draining or the message died). Numbering and finishing both take the user's forward_users
// row lock first, so a message numbered while the head was finishing is either seen by the
// finisher or sees the head finished and gets a job itself: no message is left without an owner.

// Message states.
const (
	ForwardPending   = "pending"
	ForwardDelivered = "delivered"
	ForwardDead      = "dead"
)

// pendingOnly selects pending messages, written as a literal: PostgreSQL's plan for a prepared
// statement (its generic plan, reused once cached) can use the partial indexes WHERE state =
// 'pending' only when the query says so itself, not through a parameter; with a parameter it
// read the user's whole history through the unique index.
const pendingOnly = "state = '" + ForwardPending + "'"

// queued selects the pending messages that are in their user's queue: numbered.
const queued = pendingOnly + " AND seq IS NOT NULL"

// ForwardMessage is one delivery on its way to one destination.
type ForwardMessage struct {
	ID            int64 `gorm:"primaryKey"`
	Destination   string
	EvotorUserID  string // "" for a delivery about no user
	Seq           int64  // 0 while not yet numbered (NULL in the table; PostgreSQL)
	InboxID       int64
	State         string
	JobID         *int64
	Attempts      int64
	LastAttemptAt *time.Time
	LastStatus    *int64
	LastError     *string
	CreatedAt     time.Time
	DeliveredAt   *time.Time
}

// MessageKey names a message in the job queue's arguments: destination, user and seq.
type MessageKey struct {
	Destination string `json:"destination"`
	UserID      string `json:"user"`
	Seq         int64  `json:"seq"`
}

// Key is the message's key.
func (m ForwardMessage) Key() MessageKey {
	return MessageKey{Destination: m.Destination, UserID: m.EvotorUserID, Seq: m.Seq}
}

// JobInserter puts one send job per key into the job queue inside tx and returns their ids.
type JobInserter func(ctx context.Context, tx *sql.Tx, keys []MessageKey) ([]int64, error)

// Outbox is where a delivery is forwarded: one message per destination, each with its send job
// (impl/forward's queue inserts them). The zero Outbox forwards nothing.
type Outbox struct {
	Destinations []string
	InsertJobs   JobInserter
	// Committed is told, on PostgreSQL, that a delivery's unnumbered messages are committed:
	// it wakes SequenceMessages (nil: they wait for its next round).
	Committed func()
}

// Forwards reports whether a delivery with this outbox is forwarded anywhere.
func (o Outbox) Forwards() bool { return len(o.Destinations) > 0 }

// committed tells Committed (if set) that a delivery's messages are committed: on PostgreSQL
// they wait, unnumbered, for SequenceMessages.
func (o Outbox) committed() {
	if o.Forwards() && o.Committed != nil {
		o.Committed()
	}
}

// enqueueForwarding writes the delivery's messages (in Accept's transaction), numbered, with
// their jobs (SQLite; on PostgreSQL they are written unnumbered with the inbox row:
// insertForwardedInboxSQL).
func (s *Store) enqueueForwarding(ctx context.Context, db *gorm.DB, entry InboxEntry) error {
	f := entry.ForwardTo
	if !f.Forwards() {
		return nil
	}
	user := ""
	if entry.EvotorUserID != nil {
		user = *entry.EvotorUserID
	}
	msgs := make([]ForwardMessage, len(f.Destinations))
	for i, d := range f.Destinations {
		msgs[i] = ForwardMessage{Destination: d, EvotorUserID: user, InboxID: entry.ID,
			State: ForwardPending, CreatedAt: entry.ReceivedAt}
	}
	if _, err := s.number(ctx, db, msgs, f.InsertJobs); err != nil {
		return err
	}
	return db.Create(&msgs).Error
}

// number gives msgs (their deliveries in the order they came) their seq, one per delivery,
// following their user's last one, and a job to each user's head: the first of its user and
// destination when nothing of theirs is queued. The head's job owns the rest of its user's
// messages in msgs too, as if it had claimed them (FinishAttempts): it sends them as one run,
// where a job each would cost a round of the job queue apiece. It takes the users'
// forward_users row locks for the rest of db's transaction, and returns how many deliveries it
// numbered.
func (s *Store) number(ctx context.Context, db *gorm.DB, msgs []ForwardMessage, insert JobInserter) (int, error) {
	deliveries := map[string]int64{} // user → how many of its deliveries msgs hold
	numbered := map[int64]int64{}    // delivery (inbox id) → its seq, once given
	for _, m := range msgs {
		if _, seen := numbered[m.InboxID]; !seen {
			numbered[m.InboxID] = 0
			deliveries[m.EvotorUserID]++
		}
	}
	seq, err := reserveSeqs(db, deliveries)
	if err != nil {
		return 0, err
	}
	type queue struct{ destination, user string }
	checked := map[queue]bool{}
	var keys []MessageKey     // the heads' jobs to insert
	headOf := map[queue]int{} // a queue whose head is in msgs → its job's index in keys
	for i := range msgs {
		m := &msgs[i]
		if numbered[m.InboxID] == 0 {
			seq[m.EvotorUserID]++
			numbered[m.InboxID] = seq[m.EvotorUserID]
		}
		m.Seq = numbered[m.InboxID]
		q := queue{m.Destination, m.EvotorUserID}
		if checked[q] {
			continue
		}
		checked[q] = true
		busy, err := anyQueued(db, m.Destination, m.EvotorUserID)
		if err != nil {
			return 0, err
		}
		if !busy {
			headOf[q] = len(keys)
			keys = append(keys, m.Key())
		}
	}
	if len(keys) == 0 {
		return len(numbered), nil
	}
	jobs := make([]int64, len(keys))
	if err := s.withJobs(ctx, db, insert, keys, func(k int, job int64) { jobs[k] = job }); err != nil {
		return 0, err
	}
	for i := range msgs {
		if k, ok := headOf[queue{msgs[i].Destination, msgs[i].EvotorUserID}]; ok {
			msgs[i].JobID = &jobs[k]
		}
	}
	return len(numbered), nil
}

// reserveSeqs moves each user's last_seq on by its count of deliveries, in one statement that
// locks the users' rows (in one order), and returns each user's seq before the first of them.
func reserveSeqs(db *gorm.DB, deliveries map[string]int64) (map[string]int64, error) {
	users := slices.Sorted(maps.Keys(deliveries))
	values := make([]string, len(users))
	args := make([]any, 0, 2*len(users))
	for i, u := range users {
		values[i] = "(?, ?)"
		args = append(args, u, deliveries[u])
	}
	var rows []struct {
		EvotorUserID string
		LastSeq      int64
	}
	err := db.Raw(`INSERT INTO forward_users (evotor_user_id, last_seq) VALUES `+strings.Join(values, ", ")+`
		ON CONFLICT (evotor_user_id) DO UPDATE SET last_seq = forward_users.last_seq + excluded.last_seq
		RETURNING evotor_user_id, last_seq`, args...).Scan(&rows).Error
	if err != nil {
		return nil, err
	}
	before := make(map[string]int64, len(rows))
	for _, r := range rows {
		before[r.EvotorUserID] = r.LastSeq - deliveries[r.EvotorUserID]
	}
	if len(before) != len(users) {
		return nil, fmt.Errorf("forwarding: %d users numbered, %d returned", len(users), len(before))
	}
	return before, nil
}

// anyQueued reports whether the user has a numbered message pending for destination (read
// through the pending index: it costs the same whatever was delivered before).
func anyQueued(db *gorm.DB, destination, user string) (bool, error) {
	var ids []int64
	err := db.Raw("SELECT id FROM forward_messages WHERE destination = ? AND evotor_user_id = ? AND "+queued+" LIMIT 1",
		destination, user).Scan(&ids).Error
	return len(ids) > 0, err
}

// SequenceMessages (PostgreSQL) numbers the committed, unnumbered messages of up to limit
// deliveries, in the order of their inbox ids (a delivery that began after another committed
// has the higher one), and gives the heads among them their jobs, in one transaction; it
// returns how many deliveries it numbered (limit: there may be more).
func (s *Store) SequenceMessages(ctx context.Context, limit int, insert JobInserter) (int, error) {
	if !s.OnPostgres() {
		return 0, nil // numbered as they are written
	}
	var n int
	err := s.bookkeeping(ctx, func(db *gorm.DB) error {
		if err := db.Exec("SELECT pg_advisory_xact_lock(?)", sequencerLock).Error; err != nil {
			return err
		}
		var msgs []ForwardMessage // a delivery's messages are committed together: all or none
		err := db.Raw(`SELECT id, destination, evotor_user_id, inbox_id FROM forward_messages
			WHERE seq IS NULL AND inbox_id IN (SELECT DISTINCT inbox_id FROM forward_messages WHERE seq IS NULL ORDER BY inbox_id LIMIT ?)
			ORDER BY inbox_id, id`, limit).Scan(&msgs).Error
		if err != nil || len(msgs) == 0 {
			return err
		}
		if n, err = s.number(ctx, db, msgs, insert); err != nil {
			return err
		}
		ids, seqs, jobs := make([]int64, len(msgs)), make([]int64, len(msgs)), make([]*int64, len(msgs))
		for i, m := range msgs {
			ids[i], seqs[i], jobs[i] = m.ID, m.Seq, m.JobID
		}
		tx, err := sqlTx(db)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE forward_messages AS m SET seq = v.seq, job_id = v.job
			FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS v (id, seq, job) WHERE m.id = v.id`, ids, seqs, jobs)
		return err
	})
	return n, err
}

// bookkeeping runs f in a transaction of forwarding's own records (what was numbered, sent,
// claimed) whose commit does not wait for the disk: half the commits of a forwarded delivery,
// each an fsync the deliveries' commits queued behind (PostgreSQL: synchronous_commit off;
// SQLite: synchronous NORMAL, a third of its fsyncs in a soak, each holding its one connection).
// A crash can lose at most its last records (PostgreSQL: the last few hundred milliseconds,
// wal_writer_delay ×3; SQLite: those since the last durable commit), never a delivery: each was
// committed durably before its 200, and any durable commit after them carries them too (the
// WAL is one sequence). Lost records are made again: messages numbered again in the same
// order, sent again with the same webhook-id (receivers deduplicate). On PostgreSQL its
// statements, lookups by key taking arrays, run with generic plans (genericPlans).
func (s *Store) bookkeeping(ctx context.Context, f func(db *gorm.DB) error) error {
	if !s.OnPostgres() {
		return s.withoutSync(ctx, func(db *gorm.DB) error { return db.Transaction(f) })
	}
	return s.db.WithContext(ctx).Transaction(func(db *gorm.DB) error {
		if err := db.Exec("SELECT set_config('synchronous_commit', 'off', true), " + genericPlans).Error; err != nil {
			return err
		}
		return f(db)
	})
}

// withoutSync runs f on SQLite's connection with synchronous NORMAL (a commit appends to the
// WAL without an fsync), then sets it back to FULL, which SQLite allows outside a transaction
// only. The connection is every delivery's: when FULL cannot be set again (even with f's
// context over), it is closed rather than left to commit a delivery without an fsync.
func (s *Store) withoutSync(ctx context.Context, f func(db *gorm.DB) error) error {
	return s.db.WithContext(ctx).Connection(func(db *gorm.DB) error {
		if err := db.Exec("PRAGMA synchronous = NORMAL").Error; err != nil {
			return err
		}
		err := f(db)
		if rerr := db.WithContext(context.Background()).Exec("PRAGMA synchronous = FULL").Error; rerr != nil {
			if conn, ok := db.Statement.ConnPool.(*sql.Conn); ok {
				discard(conn)
			}
			return errors.Join(err, rerr)
		}
		return err
	})
}

// lockUser takes the user's forward_users row lock for the rest of db's transaction
// (PostgreSQL; SQLite runs one writing transaction at a time anyway).
func (s *Store) lockUser(db *gorm.DB, user string) error {
	if !s.OnPostgres() {
		return nil
	}
	return db.Exec("SELECT last_seq FROM forward_users WHERE evotor_user_id = ? FOR UPDATE", user).Error
}

// withJobs inserts the keys' jobs in db's transaction and passes each job id to set.
func (s *Store) withJobs(ctx context.Context, db *gorm.DB, insert JobInserter, keys []MessageKey, set func(i int, job int64)) error {
	if insert == nil {
		return errors.New("forwarding: no job queue")
	}
	tx, err := sqlTx(db)
	if err != nil {
		return err
	}
	ids, err := insert(ctx, tx, keys)
	if err != nil {
		return fmt.Errorf("enqueueing forwarding jobs: %w", err)
	}
	for i, id := range ids {
		set(i, id)
	}
	return nil
}

// sqlTx is the database/sql transaction under a GORM transaction, for the job queue's inserts.
func sqlTx(db *gorm.DB) (*sql.Tx, error) {
	switch pool := db.Statement.ConnPool.(type) {
	case *sql.Tx:
		return pool, nil
	case *gorm.PreparedStmtTX:
		if tx, ok := pool.Tx.(*sql.Tx); ok {
			return tx, nil
		}
	}
	return nil, fmt.Errorf("forwarding: no *sql.Tx under the transaction (%T)", db.Statement.ConnPool)
}

// Outgoing is a message with what it carries: the inbox row it forwards.
type Outgoing struct {
	ForwardMessage
	Operation  string
	PathParams string
	ReceivedAt time.Time
	Body       []byte
}

// OutgoingByID loads a message and its delivery; found is false when there is none.
func (s *Store) OutgoingByID(ctx context.Context, id int64) (Outgoing, bool, error) {
	out, err := s.outgoing(ctx, "m.id = ?", id)
	if err != nil || len(out) == 0 {
		return Outgoing{}, false, err
	}
	return out[0], true, nil
}

// smallBody bounds the bodies SmallOutgoing loads together, as received: a run of forwarding's
// (at most 32 messages) then holds at most 2 MiB of them at once.
const smallBody = 64 << 10

// SmallOutgoing loads those of the messages ids whose delivery was at most smallBody bytes
// (receipts, events: most of what is forwarded), with it, in one statement, by id. The others
// (catalogues, or gone) are left to OutgoingByID, one at a time. A body's length as received
// is body_length when it is stored compressed, else its stored length.
func (s *Store) SmallOutgoing(ctx context.Context, ids []int64) (map[int64]Outgoing, error) {
	out, err := s.outgoing(ctx, "m.id IN ? AND COALESCE(i.body_length, length(i.body)) <= ?", ids, smallBody)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]Outgoing, len(out))
	for _, o := range out {
		byID[o.ID] = o
	}
	return byID, nil
}

// outgoing loads the messages the condition selects, each with its delivery, the body as
// received.
func (s *Store) outgoing(ctx context.Context, condition string, args ...any) ([]Outgoing, error) {
	var out []Outgoing
	err := s.db.WithContext(ctx).Table("forward_messages AS m").
		Select("m.*, i.operation, i.path_params, i.received_at, i.body").
		Joins("JOIN inbox i ON i.id = m.inbox_id").Where(condition, args...).Scan(&out).Error
	if err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].Body, err = InboxBodyOf(out[i].Body); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// OwnedBy lists the pending messages job owns, in seq order (a draining job owns a few of one
// user's; a job owns none once its messages are finished or handed to another job), and the id
// of their queue's head (the user's earliest queued message for that destination): the job may
// send only when it owns the head. One round trip: it is every job's first.
func (s *Store) OwnedBy(ctx context.Context, job int64) ([]ForwardMessage, int64, error) {
	var rows []struct {
		ForwardMessage
		HeadID int64
	}
	err := s.db.WithContext(ctx).Raw(`SELECT m.*, (SELECT h.id FROM forward_messages h
			WHERE h.destination = m.destination AND h.evotor_user_id = m.evotor_user_id AND `+queued+`
			ORDER BY h.seq LIMIT 1) AS head_id
		FROM forward_messages m WHERE m.job_id = ? AND m.`+pendingOnly+` ORDER BY m.seq`, job).Scan(&rows).Error
	if err != nil || len(rows) == 0 {
		return nil, 0, err
	}
	out := make([]ForwardMessage, len(rows))
	for i, r := range rows {
		out[i] = r.ForwardMessage
	}
	return out, rows[0].HeadID, nil
}

// FirstPending is the destination's earliest pending message of the user: the only one that
// may be sent now.
func (s *Store) FirstPending(ctx context.Context, destination, user string) (ForwardMessage, bool, error) {
	return firstPending(s.db.WithContext(ctx), destination, user)
}

func firstPending(db *gorm.DB, destination, user string) (ForwardMessage, bool, error) {
	m, err := pendingHead(db, destination, user, 1)
	if err != nil || len(m) == 0 {
		return ForwardMessage{}, false, err
	}
	return m[0], true, nil
}

// inQueueOrder selects a user's first queued messages for a destination, in the order they
// are sent (parameters: destination, user, how many).
const inQueueOrder = "destination = ? AND evotor_user_id = ? AND " + queued + " ORDER BY seq LIMIT ?"

// pendingHead is the user's first n pending messages for destination, in seq order.
func pendingHead(db *gorm.DB, destination, user string, n int) ([]ForwardMessage, error) {
	var m []ForwardMessage
	err := db.Raw("SELECT * FROM forward_messages WHERE "+inQueueOrder, destination, user, n).Scan(&m).Error
	return m, err
}

// Attempt is the outcome of one send.
type Attempt struct {
	At     time.Time
	Status int    // the HTTP status; 0 when none came back
	Err    string // why it failed; "" on success
	Final  bool   // a failure that ends the message (it is dead)
}

// Sent is one message's attempt, for FinishAttempts.
type Sent struct {
	ID int64
	Attempt
}

// FinishAttempts records the attempts a job made, in order, on messages it owns, all of one
// user and destination (first's), the first of them first, in one transaction (only the last
// may be a failure). Then:
//   - after a failure that is not final, the job keeps its message (it is retried);
//   - when claim > 0 and the last one succeeded, the job takes over the user's next claim
//     pending messages (replacing any job they had) to send them at once; they are returned,
//     in seq order, the head first;
//   - otherwise the user's next pending message is handed a fresh job, so the queue never
//     stalls behind a finished message.
//
// It reports false when the job no longer owned a message it sent (the attempts on the others
// are recorded, and nothing is handed over: the message's new owner does it).
func (s *Store) FinishAttempts(ctx context.Context, job int64, first ForwardMessage, sent []Sent, claim int, insert JobInserter) ([]ForwardMessage, bool, error) {
	if len(sent) == 0 {
		return nil, true, nil
	}
	owned := true
	var next []ForwardMessage
	err := s.bookkeeping(ctx, func(db *gorm.DB) error {
		if err := s.lockUser(db, first.EvotorUserID); err != nil {
			return err
		}
		recorded, err := s.recordAttempts(ctx, db, job, sent)
		if err != nil {
			return err
		}
		var delivered, failed int
		for _, a := range recorded {
			if a.Err == "" {
				delivered++
			} else {
				failed++
			}
		}
		if err := countAttempts(db, first.Destination, first.EvotorUserID, delivered, failed); err != nil {
			return err
		}
		if owned = len(recorded) == len(sent); !owned {
			return nil
		}
		last := sent[len(sent)-1]
		switch {
		case last.Err != "" && !last.Final:
			return nil
		case last.Err == "" && claim > 0:
			next, err = claimNext(db, job, first.Destination, first.EvotorUserID, claim)
			return err
		}
		return s.handOver(ctx, db, first.Destination, first.EvotorUserID, insert)
	})
	return next, owned, err
}

// claimNext makes job the owner of the user's next n queued messages for destination, in one
// statement, and returns them in seq order.
func claimNext(db *gorm.DB, job int64, destination, user string, n int) ([]ForwardMessage, error) {
	var next []ForwardMessage
	err := db.Raw("UPDATE forward_messages SET job_id = ? WHERE id IN (SELECT id FROM forward_messages WHERE "+
		inQueueOrder+") RETURNING *", job, destination, user, n).Scan(&next).Error
	slices.SortFunc(next, func(a, b ForwardMessage) int { return cmp.Compare(a.Seq, b.Seq) })
	return next, err
}

// recordAttempts writes the attempts on the messages job still owns, and returns those it
// wrote. On PostgreSQL in one statement (each a round trip); SQLite's statements are calls.
func (s *Store) recordAttempts(ctx context.Context, db *gorm.DB, job int64, sent []Sent) ([]Sent, error) {
	if !s.OnPostgres() {
		var recorded []Sent
		for _, a := range sent {
			ok, err := recordAttempt(db, job, a)
			if err != nil {
				return nil, err
			}
			if ok {
				recorded = append(recorded, a)
			}
		}
		return recorded, nil
	}
	n := len(sent)
	ids, at, states := make([]int64, n), make([]time.Time, n), make([]string, n)
	statuses, errs := make([]*int64, n), make([]*string, n)
	for i, a := range sent {
		ids[i], at[i], states[i] = a.ID, a.At, a.state()
		if a.Status != 0 {
			status := int64(a.Status)
			statuses[i] = &status
		}
		if a.Err != "" {
			errs[i] = &a.Err
		}
	}
	tx, err := sqlTx(db)
	if err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `UPDATE forward_messages AS m SET attempts = m.attempts + 1,
			last_attempt_at = v.at, state = v.state, last_status = v.status, last_error = v.err,
			delivered_at = CASE WHEN v.state = '`+ForwardDelivered+`' THEN v.at ELSE m.delivered_at END
		FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::bigint[], $5::text[]) AS v (id, at, state, status, err)
		WHERE m.id = v.id AND m.job_id = $6 AND m.`+pendingOnly+` RETURNING m.id`, ids, at, states, statuses, errs, job)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	written := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		written[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var recorded []Sent
	for _, a := range sent {
		if written[a.ID] {
			recorded = append(recorded, a)
		}
	}
	return recorded, nil
}

// state is the message's state after the attempt.
func (a Attempt) state() string {
	switch {
	case a.Err == "":
		return ForwardDelivered
	case a.Final:
		return ForwardDead
	}
	return ForwardPending
}

// recordAttempt writes one attempt on a message job owns; false when it does not own it.
func recordAttempt(db *gorm.DB, job int64, a Sent) (bool, error) {
	state := a.state()
	set := map[string]any{"attempts": gorm.Expr("attempts + 1"), "last_attempt_at": a.At, "state": state,
		"last_status": nil, "last_error": nil}
	if a.Status != 0 {
		set["last_status"] = a.Status
	}
	if a.Err != "" {
		set["last_error"] = a.Err
	}
	if state == ForwardDelivered {
		set["delivered_at"] = a.At
	}
	res := db.Model(&ForwardMessage{}).Where("id = ? AND job_id = ? AND state = ?", a.ID, job, ForwardPending).Updates(set)
	return res.RowsAffected == 1, res.Error
}

// countShards is how many rows each destination's counters are spread over (by user).
const countShards = 16

// countAttempts adds a transaction's attempts to the destination's counters (forward_counts),
// in the user's shard.
func countAttempts(db *gorm.DB, destination, user string, delivered, failed int) error {
	h := fnv.New32a()
	_, _ = h.Write([]byte(user))
	return db.Exec(`INSERT INTO forward_counts (destination, shard, delivered, failed_attempts) VALUES (?, ?, ?, ?)
		ON CONFLICT (destination, shard) DO UPDATE SET delivered = forward_counts.delivered + excluded.delivered,
		failed_attempts = forward_counts.failed_attempts + excluded.failed_attempts`,
		destination, h.Sum32()%countShards, delivered, failed).Error
}

// handOver gives the user's earliest pending message (if any) a fresh job that owns it; the
// job that owned it before finds it no longer its own and stops.
func (s *Store) handOver(ctx context.Context, db *gorm.DB, destination, user string, insert JobInserter) error {
	next, found, err := firstPending(db, destination, user)
	if err != nil || !found {
		return err
	}
	return s.giveJobs(ctx, db, []ForwardMessage{next}, insert)
}

// giveJobs inserts one job per message and makes it the message's owner.
func (s *Store) giveJobs(ctx context.Context, db *gorm.DB, msgs []ForwardMessage, insert JobInserter) error {
	keys := make([]MessageKey, len(msgs))
	for i, m := range msgs {
		keys[i] = m.Key()
	}
	var update error
	err := s.withJobs(ctx, db, insert, keys, func(i int, job int64) {
		if update == nil {
			update = db.Model(&ForwardMessage{}).Where("id = ?", msgs[i].ID).Update("job_id", job).Error
		}
	})
	return errors.Join(err, update)
}

// ForwardFilter narrows the messages listing; empty fields do not filter.
type ForwardFilter struct {
	State       string
	Destination string
}

func (f ForwardFilter) apply(q *gorm.DB) *gorm.DB {
	if f.State != "" {
		q = q.Where("state = ?", f.State)
	}
	if f.Destination != "" {
		q = q.Where("destination = ?", f.Destination)
	}
	return q
}

// ForwardMessages lists messages newest first, with ids below before (0: from the newest),
// and whether more follow.
func (s *Store) ForwardMessages(ctx context.Context, f ForwardFilter, before int64, limit int) ([]Outgoing, bool, error) {
	q := f.apply(s.db.WithContext(ctx).Table("forward_messages"))
	if before > 0 {
		q = q.Where("forward_messages.id < ?", before)
	}
	var out []Outgoing
	err := q.Select("forward_messages.*, i.operation, i.received_at").
		Joins("JOIN inbox i ON i.id = forward_messages.inbox_id").
		Order("forward_messages.id DESC").Limit(limit + 1).Scan(&out).Error
	if len(out) > limit {
		return out[:limit], true, err
	}
	return out, false, err
}

// ResendDead puts messages back in their place in their user's queue, pending, each with a
// fresh job: the one with id (when id > 0), whatever its state (dead, delivered, or pending
// with a job that may be lost: the new job replaces it), or every dead message of the
// destination. It returns how many.
func (s *Store) ResendDead(ctx context.Context, id int64, destination string, insert JobInserter) (int, error) {
	var n int
	err := s.db.WithContext(ctx).Transaction(func(db *gorm.DB) error {
		q := db.Where("state = ?", ForwardDead).Where("destination = ?", destination)
		if id > 0 { // not one still unnumbered: that one is on its way
			q = db.Where("id = ? AND seq IS NOT NULL", id)
		}
		var dead []ForwardMessage
		if err := s.forUpdate(q).Order("id").Find(&dead).Error; err != nil || len(dead) == 0 {
			return err
		}
		ids := make([]int64, len(dead))
		for i, m := range dead {
			ids[i] = m.ID
		}
		if err := db.Model(&ForwardMessage{}).Where("id IN ?", ids).Update("state", ForwardPending).Error; err != nil {
			return err
		}
		n = len(dead)
		return s.giveJobs(ctx, db, dead, insert)
	})
	return n, err
}

// ForwardStats is one destination's outbox in numbers.
type ForwardStats struct {
	Destination    string
	Pending        int64
	Delivered      int64 // deliveries so far (a message sent again and delivered again counts again)
	Dead           int64
	FailedAttempts int64
	OldestPending  *time.Time // when the oldest pending message was received
}

// ForwardingStats is each destination's outbox in numbers, at a cost bounded by what waits
// (ForwardQueues: pending and dead through their partial indexes) and by the destinations
// (forward_counts: the totals kept up to date), never by the history.
func (s *Store) ForwardingStats(ctx context.Context) ([]ForwardStats, error) {
	queues, err := s.ForwardQueues(ctx)
	if err != nil {
		return nil, err
	}
	var counts []struct {
		Destination               string
		Delivered, FailedAttempts int64
	}
	err = s.db.WithContext(ctx).Raw(`SELECT destination, SUM(delivered) AS delivered, SUM(failed_attempts) AS failed_attempts
		FROM forward_counts GROUP BY destination`).Scan(&counts).Error
	if err != nil {
		return nil, err
	}
	byDestination := map[string]*ForwardStats{}
	stats := func(d string) *ForwardStats {
		if byDestination[d] == nil {
			byDestination[d] = &ForwardStats{Destination: d}
		}
		return byDestination[d]
	}
	for _, q := range queues {
		st := stats(q.Destination)
		st.Pending, st.Dead, st.OldestPending = q.PendingTotal(), q.Dead, q.OldestPending
	}
	for _, c := range counts {
		st := stats(c.Destination)
		st.Delivered, st.FailedAttempts = c.Delivered, c.FailedAttempts
	}
	out := make([]ForwardStats, 0, len(byDestination))
	for _, st := range byDestination {
		out = append(out, *st)
	}
	slices.SortFunc(out, func(a, b ForwardStats) int { return strings.Compare(a.Destination, b.Destination) })
	return out, nil
}

// OrphanedMessages are up to limit heads (pending messages with no earlier pending message of
// their user and destination) whose send job is gone from the job queue's table (river_job,
// on the same database) or finished there: nothing will send them, nor the messages behind.
// (A message behind the head has no job of its own: the head's job takes it over.)
func (s *Store) OrphanedMessages(ctx context.Context, limit int) ([]ForwardMessage, error) {
	var out []ForwardMessage
	err := s.db.WithContext(ctx).Raw(`SELECT m.* FROM forward_messages m LEFT JOIN river_job j ON j.id = m.job_id
		WHERE m.state = 'pending' AND m.seq IS NOT NULL AND (m.job_id IS NULL OR j.id IS NULL OR j.finalized_at IS NOT NULL)
		AND NOT EXISTS (SELECT 1 FROM forward_messages e WHERE e.destination = m.destination
			AND e.evotor_user_id = m.evotor_user_id AND e.state = 'pending' AND e.seq < m.seq)
		ORDER BY m.id LIMIT ?`, limit).Scan(&out).Error
	return out, err
}

// Revive gives a pending message whose job is gone a fresh one (only if it still has that job).
func (s *Store) Revive(ctx context.Context, m ForwardMessage, insert JobInserter) error {
	return s.db.WithContext(ctx).Transaction(func(db *gorm.DB) error {
		q := db.Where("id = ? AND state = ?", m.ID, ForwardPending)
		if m.JobID != nil {
			q = q.Where("job_id = ?", *m.JobID)
		} else {
			q = q.Where("job_id IS NULL")
		}
		var cur []ForwardMessage
		if err := s.forUpdate(q).Find(&cur).Error; err != nil || len(cur) == 0 {
			return err
		}
		return s.giveJobs(ctx, db, cur, insert)
	})
}
