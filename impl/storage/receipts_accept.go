package storage

import (
	"context"

	"github.com/evotor-partner/evotor-partner/security"
)

// AcceptReceipts stores a receipts notification of owner: the stores it names claimed, each
// receipt not stored yet with its items, and the inbox row, after confirming the user token,
// all in one transaction. A delivery whose receipts were all stored already is a redelivery
// (no inbox row). Receipts are the hot path: on PostgreSQL with nothing to forward this is one
// statement, one round trip (receiptsStatement); otherwise it is Accept with the same rules.
func (s *Store) AcceptReceipts(ctx context.Context, entry InboxEntry, token security.UserTokenCheck, owner string, receipts []ReceiptRow) (redelivery bool, err error) {
	if s.dialect == "postgres" && (s.forward == nil || len(s.forward.destinations) == 0) {
		return s.acceptReceiptsInOneStatement(ctx, entry, token, owner, receipts)
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
