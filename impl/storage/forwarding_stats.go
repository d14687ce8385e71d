package storage

import (
	"context"
	"sort"
	"time"
)

// ForwardQueue is what one destination has not got yet, for the metrics: read through the
// partial indexes of pending and dead messages, so it costs what is waiting, never the
// delivered history (which retention deletes anyway: a count over it would go down).
type ForwardQueue struct {
	Destination string
	// Pending counts the pending messages by their last attempt's HTTP status: a status, or
	// NoAnswer (the attempt got none: a timeout, a refused connection), or NotTried (no attempt
	// yet: waiting behind the user's earlier message, or about to be sent).
	Pending       map[int]int64
	Dead          int64
	OldestPending *time.Time // when the oldest pending message was received; nil: none pending
}

// Pseudo-statuses of ForwardQueue.Pending.
const (
	NotTried = -1
	NoAnswer = 0
)

// PendingTotal is how many messages are pending.
func (q ForwardQueue) PendingTotal() int64 {
	var n int64
	for _, c := range q.Pending {
		n += c
	}
	return n
}

// ForwardQueues describes every destination that has messages in the outbox, in URL order.
// Four small statements, each bounded by what it counts:
//   - the destinations: a skip scan of the (destination, evotor_user_id, seq) unique index, one
//     index descent per destination;
//   - pending messages by destination and last status, and the id of each destination's
//     oldest: forward_messages_pending (state = 'pending' is written as a literal so that a
//     cached generic plan still matches the partial index);
//   - when those oldest were received: by primary key;
//   - dead messages by destination: forward_messages_dead, read alone.
func (s *Store) ForwardQueues(ctx context.Context) ([]ForwardQueue, error) {
	db := s.db.WithContext(ctx)
	var dests []string
	if err := db.Raw(destinationsQuery).Scan(&dests).Error; err != nil {
		return nil, err
	}
	queues := make(map[string]*ForwardQueue, len(dests))
	for _, d := range dests {
		queues[d] = &ForwardQueue{Destination: d, Pending: map[int]int64{}}
	}
	queue := func(d string) *ForwardQueue { // a destination that appeared since the first statement
		if queues[d] == nil {
			queues[d] = &ForwardQueue{Destination: d, Pending: map[int]int64{}}
		}
		return queues[d]
	}

	var pending []struct {
		Destination string
		Status      int
		N           int64
		FirstID     int64
	}
	if err := db.Raw(pendingQuery).Scan(&pending).Error; err != nil {
		return nil, err
	}
	oldestID := map[string]int64{}
	for _, p := range pending {
		queue(p.Destination).Pending[p.Status] += p.N
		if id, ok := oldestID[p.Destination]; !ok || p.FirstID < id {
			oldestID[p.Destination] = p.FirstID
		}
	}
	if len(oldestID) > 0 {
		ids := make([]int64, 0, len(oldestID))
		for _, id := range oldestID {
			ids = append(ids, id)
		}
		var oldest []struct {
			Destination string
			CreatedAt   time.Time
		}
		if err := db.Raw(`SELECT destination, created_at FROM forward_messages WHERE id IN ?`, ids).Scan(&oldest).Error; err != nil {
			return nil, err
		}
		for _, o := range oldest {
			at := o.CreatedAt.UTC()
			queue(o.Destination).OldestPending = &at
		}
	}

	var dead []struct {
		Destination string
		N           int64
	}
	if err := db.Raw(deadQuery).Scan(&dead).Error; err != nil {
		return nil, err
	}
	for _, d := range dead {
		queue(d.Destination).Dead = d.N
	}

	out := make([]ForwardQueue, 0, len(queues))
	for _, q := range queues {
		out = append(out, *q)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Destination < out[j].Destination })
	return out, nil
}

// destinationsQuery lists the outbox's destinations by a skip scan: each step is the least
// destination above the last one, read off the unique index's edge (PostgreSQL and SQLite
// both answer such a MIN from an index without scanning); and those of the counters (a few
// rows each), so that a destination whose messages retention pruned is still shown.
const destinationsQuery = `WITH RECURSIVE d(destination) AS (
    SELECT MIN(destination) FROM forward_messages
    UNION ALL
    SELECT (SELECT MIN(f.destination) FROM forward_messages f WHERE f.destination > d.destination)
    FROM d WHERE d.destination IS NOT NULL
) SELECT destination FROM d WHERE destination IS NOT NULL
UNION SELECT destination FROM forward_counts`

// pendingQuery counts pending messages by destination and last status (NotTried, NoAnswer or
// the HTTP status), with the lowest id of each group: messages are numbered as they are
// received, so the destination's lowest is its oldest.
const pendingQuery = `SELECT destination, status, COUNT(*) AS n, MIN(id) AS first_id FROM (
    SELECT destination, id, CASE WHEN attempts = 0 THEN -1 ELSE COALESCE(last_status, 0) END AS status
    FROM forward_messages WHERE state = 'pending'
) p GROUP BY destination, status`

// deadQuery counts dead messages by destination.
const deadQuery = `SELECT destination, COUNT(*) AS n FROM forward_messages WHERE state = 'dead' GROUP BY destination`
