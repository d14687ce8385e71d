package impl

import (
	"context"
	"fmt"
	"strconv"

	"github.com/evotor-partner/evotor-partner/generated"
	"github.com/evotor-partner/evotor-partner/impl/apperr"
	"github.com/evotor-partner/evotor-partner/impl/evotor"
	"github.com/evotor-partner/evotor-partner/impl/storage"
	"github.com/evotor-partner/evotor-partner/security"
)

// SubscriptionEvent stores a billing event once and refolds the subscription's state.
func (s *Server) SubscriptionEvent(ctx context.Context, req generated.SubscriptionEventRequestObject) (generated.SubscriptionEventResponseObject, error) {
	res, redelivery, err := s.deliveries.SubscriptionEvent(ctx, delivery(ctx, "subscriptionEvent", req.Body.UserId, nil), req.Body.SubscriptionId)
	if res == storage.EventKeyConflict {
		s.logger.WarnContext(ctx, "subscription event re-sent with a different body; the first is kept",
			"subscription", req.Body.SubscriptionId, "sequence", req.Body.SequenceNumber)
	}
	if err := delivered(ctx, redelivery, err); err != nil {
		return nil, err
	}
	return generated.SubscriptionEvent200Response{}, nil
}

// InstallationEvent stores an install/uninstall once; the newest decides the state, and an
// uninstall revokes the user's tokens.
func (s *Server) InstallationEvent(ctx context.Context, req generated.InstallationEventRequestObject) (generated.InstallationEventResponseObject, error) {
	ms, err := millis(req.Body.Timestamp)
	if err != nil {
		return nil, apperr.New(apperr.Incorrect, "timestamp")
	}
	ev := storage.InstallationEvent{EventID: evotor.CanonicalID(req.Body.Id), EvotorUserID: req.Body.Data.UserId,
		ProductID: req.Body.Data.ProductId, Type: req.Body.Type, OccurredMs: ms, Body: security.RawBodyFrom(ctx)}
	redelivery, err := s.deliveries.InstallationEvent(ctx, delivery(ctx, "installationEvent", req.Body.Data.UserId, nil), ev)
	if err := delivered(ctx, redelivery, err); err != nil {
		return nil, err
	}
	return generated.InstallationEvent200Response{}, nil
}

// millis reads Evotor's millisecond timestamp, a number or a string of digits.
func millis(m generated.Millis) (int64, error) {
	if n, err := m.AsMillis0(); err == nil {
		return n, nil
	}
	str, err := m.AsMillis1()
	if err != nil {
		return 0, fmt.Errorf("timestamp: %w", err)
	}
	return strconv.ParseInt(str, 10, 64)
}
