package storage

import (
	"context"

	"github.com/evotor-partner/evotor-partner/impl/evotor"
	"github.com/evotor-partner/evotor-partner/impl/usertoken"
)

// AcceptReceipts stores a receipts notification of owner: the stores it names claimed, each
// receipt not stored yet with its items, and the inbox row, after confirming the user token,
// all in one transaction. A delivery whose receipts were all stored already is a redelivery
// (no inbox row). Receipts are the hot path: on PostgreSQL with nothing to forward this is one
// statement, one round trip, shared with concurrent deliveries (receipts_batch.go); otherwise it
// is Accept with the same rules.
func (s *Store) AcceptReceipts(ctx context.Context, entry InboxEntry, token usertoken.Check, owner string, receipts []ReceiptRow) (redelivery bool, err error) {
	if s.receipts != nil && !entry.ForwardTo.Forwards() {
		return s.receipts.submit(&receiptDelivery{ctx: ctx, entry: entry, token: token, owner: owner, receipts: eachOnce(receipts)})
	}
	err = s.Accept(ctx, entry, func(tx *Tx) error {
		if err := tx.ConfirmToken(token); err != nil {
			return err
		}
		stores := make([]string, len(receipts))
		for i, r := range receipts {
			stores[i] = r.StoreUUID
		}
		if err := tx.ClaimStores(owner, stores...); err != nil {
			return err
		}
		err := tx.InsertReceipts(receipts)
		redelivery = tx.IsRedelivery()
		return err
	})
	return redelivery, err
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
