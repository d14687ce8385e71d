package storage

import (
	"context"

	"github.com/evotor-partner/evotor-partner/impl/evotor"
	"github.com/evotor-partner/evotor-partner/impl/usertoken"
)

// BatchesReceipts reports whether the store has a fast path for receipts deliveries:
// PostgreSQL (one statement for a batch of deliveries, receipts_batch.go, forwarded or not).
// Otherwise a receipts delivery is an Accept like any other.
func (s *Store) BatchesReceipts() bool {
	return s.receipts != nil
}

// BatchReceipts stores a receipts notification of owner by the fast path (BatchesReceipts):
// what impl/deliver's rule does through Accept — the user token confirmed, the stores claimed,
// each receipt not stored yet inserted with its items, the inbox row and its forwarding
// messages unless every receipt was stored already — in one statement, one round trip and one commit shared with concurrent
// deliveries.
func (s *Store) BatchReceipts(ctx context.Context, entry InboxEntry, token usertoken.Check, owner string, receipts []ReceiptRow) (redelivery bool, err error) {
	return s.receipts.submit(&receiptDelivery{ctx: ctx, entry: entry, token: token, owner: owner, receipts: eachOnce(receipts)})
}

// eachOnce is the receipts with canonical ids and stores, each id once: a repeat in one body
// is a redelivery of the first.
func eachOnce(receipts []ReceiptRow) []ReceiptRow {
	seen := make(map[string]bool, len(receipts))
	once := make([]ReceiptRow, 0, len(receipts))
	for _, r := range receipts {
		r.ID, r.StoreUUID = evotor.CanonicalID(r.ID), evotor.CanonicalID(r.StoreUUID)
		if !seen[r.ID] {
			seen[r.ID] = true
			once = append(once, r)
		}
	}
	return once
}
