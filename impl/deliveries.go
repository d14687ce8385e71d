package impl

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/evotor-partner/evotor-partner/impl/apperr"
	"github.com/evotor-partner/evotor-partner/impl/storage"
	"github.com/evotor-partner/evotor-partner/security"
)

// deliver stores a delivery: apply's domain writes and the inbox row (the body exactly as it
// arrived) in one transaction, before the 200. userID is the user the delivery is about: the
// token's user for notifications, the body's userId for app events.
func (s *Server) deliver(ctx context.Context, operation, userID string, pathParams map[string]string, apply func(tx *storage.Tx) error) error {
	entry, err := s.inboxEntry(ctx, operation, userID, pathParams)
	if err != nil {
		return err
	}
	redelivery := false
	err = s.store.Accept(ctx, entry, func(tx *storage.Tx) error {
		err := apply(tx)
		redelivery = tx.IsRedelivery()
		return err
	})
	if err == nil {
		noteDelivery(ctx, redelivery) // after the commit: only what was really stored
	}
	return err
}

// inboxEntry is the inbox row of a delivery: its operation, user, path parameters and body,
// and where it is forwarded.
func (s *Server) inboxEntry(ctx context.Context, operation, userID string, pathParams map[string]string) (storage.InboxEntry, error) {
	if pathParams == nil {
		pathParams = map[string]string{} // stored as {}: the admin API promises an object
	}
	params, err := json.Marshal(pathParams)
	if err != nil {
		return storage.InboxEntry{}, err
	}
	entry := storage.InboxEntry{Operation: operation, PathParams: string(params), Body: security.RawBodyFrom(ctx)}
	if s.forwarding != nil {
		entry.ForwardTo = s.forwarding.Outbox()
	}
	if userID != "" {
		entry.EvotorUserID = &userID
	}
	return entry, nil
}

// notify runs a user-token notification: the payment policy, then the delivery on behalf of
// the token's user (the owner of everything it writes), which confirms the token inside its
// transaction (the authenticator may have answered from its cache).
func (s *Server) notify(ctx context.Context, operation string, pathParams map[string]string, apply func(owner string, tx *storage.Tx) error) error {
	p, err := s.notifier(ctx)
	if err != nil {
		return err
	}
	return s.deliver(ctx, operation, p.UserID, pathParams, func(tx *storage.Tx) error {
		if err := tx.ConfirmToken(p.Token); err != nil {
			return err
		}
		return apply(p.UserID, tx)
	})
}

// notifier is who sends a user-token notification, once the payment policy lets them. It
// fails closed: without a user principal nothing is written.
func (s *Server) notifier(ctx context.Context) (security.Principal, error) {
	p, ok := security.PrincipalFrom(ctx)
	if !ok || p.UserID == "" {
		return security.Principal{}, apperr.New(apperr.BadUserToken, "")
	}
	if s.requireActiveSubscription {
		ended, err := s.store.AllSubscriptionsTerminated(ctx, p.UserID)
		if err != nil {
			return security.Principal{}, err
		}
		if ended {
			return security.Principal{}, &apperr.Error{Kind: apperr.PaymentRequired, Subject: "userUuid", Value: p.UserID}
		}
	}
	return p, nil
}

// rawItems are the elements of a JSON array body, as the validator found them (slices of the
// body, not copies).
func rawItems(ctx context.Context) ([][]byte, error) {
	items, err := security.BodyItems(ctx)
	if err != nil {
		return nil, err
	}
	return slices.Collect(items), nil
}

func storeParams(storeUUID string) map[string]string {
	return map[string]string{"storeUuid": storeUUID}
}
