package impl

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/evotor-partner/evotor-partner/generated"
	"github.com/evotor-partner/evotor-partner/impl/store"
	"github.com/evotor-partner/evotor-partner/security"
)

// deliver stores a delivery: apply's domain writes and the inbox row (the body exactly as it
// arrived) in one transaction, before the 200. userID is the user the delivery is about: the
// token's user for notifications, the body's userId for app events.
func (s *Server) deliver(ctx context.Context, operation, userID string, pathParams map[string]string, apply func(tx *store.Tx) error) error {
	params, err := json.Marshal(pathParams)
	if err != nil {
		return err
	}
	entry := store.InboxEntry{Operation: operation, PathParams: string(params), Body: security.RawBodyFrom(ctx)}
	if userID != "" {
		entry.EvotorUserID = &userID
	}
	return s.store.Accept(ctx, entry, apply)
}

// outcome is how a notification ends besides 200 or an internal error.
type outcome int

const (
	delivered       outcome = iota
	paymentRequired         // 402 1004: the payment policy is on and every subscription ended
	resourceAbsent          // 404 {}: the payload names another user's object
)

// notify runs a user-token notification: the payment policy, then the delivery on behalf of
// the token's user (the owner of everything it writes).
func (s *Server) notify(ctx context.Context, operation string, pathParams map[string]string, apply func(owner string, tx *store.Tx) error) (outcome, error) {
	p, _ := security.PrincipalFrom(ctx)
	if s.requireActiveSubscription {
		ended, err := s.store.AllSubscriptionsTerminated(ctx, p.UserID)
		if err != nil {
			return delivered, err
		}
		if ended {
			return paymentRequired, nil
		}
	}
	err := s.deliver(ctx, operation, p.UserID, pathParams, func(tx *store.Tx) error { return apply(p.UserID, tx) })
	if errors.Is(err, store.ErrNotOwner) {
		s.logger.WarnContext(ctx, "notification names another user's object; refused", "operation", operation, "user", p.UserID)
		return resourceAbsent, nil
	}
	return delivered, err
}

// respond turns an outcome into the operation's generated response.
func respond[R any](ctx context.Context, out outcome, err error, ok, absent R, payment func(generated.PaymentRequiredJSONResponse) R) (R, error) {
	switch {
	case err != nil:
		var zero R
		return zero, err
	case out == paymentRequired:
		p, _ := security.PrincipalFrom(ctx)
		return payment(generated.PaymentRequiredJSONResponse(security.PaymentRequired(p.UserID))), nil
	case out == resourceAbsent:
		return absent, nil
	}
	return ok, nil
}

// rawItems splits a JSON array body into its elements, kept byte for byte.
func rawItems(ctx context.Context) ([]json.RawMessage, error) {
	var items []json.RawMessage
	err := json.Unmarshal(security.RawBodyFrom(ctx), &items)
	return items, err
}

func storeParams(storeUUID string) map[string]string {
	return map[string]string{"storeUuid": storeUUID}
}
