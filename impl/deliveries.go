package impl

import (
	"context"
	"slices"

	"github.com/evotor-partner/evotor-partner/impl/deliver"
	"github.com/evotor-partner/evotor-partner/security"
)

// Handlers of events and notifications translate what the validator checked into the
// application layer's terms (impl/deliver), which applies the rules in one unit of work.

// delivery is the request as a delivery: its operation, the user it is about, its path
// parameters and its body exactly as received.
func delivery(ctx context.Context, operation, userID string, pathParams map[string]string) deliver.Delivery {
	return deliver.Delivery{Operation: operation, UserID: userID, PathParams: pathParams, Body: security.RawBodyFrom(ctx)}
}

// sender is who sent a user-token notification; without a user principal, nobody (the
// application refuses it).
func sender(ctx context.Context) deliver.Sender {
	p, ok := security.PrincipalFrom(ctx)
	if !ok {
		return deliver.Sender{}
	}
	return deliver.Sender{UserID: p.UserID, Token: p.Token}
}

// delivered reports a committed delivery to the metrics (new, or a re-send) and passes err on.
func delivered(ctx context.Context, redelivery bool, err error) error {
	if err == nil {
		noteDelivery(ctx, redelivery) // after the commit: only what was really stored
	}
	return err
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
