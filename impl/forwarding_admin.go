package impl

import (
	"context"
	"strconv"
	"time"

	"github.com/evotor-partner/evotor-partner/generated"
	"github.com/evotor-partner/evotor-partner/impl/apperr"
	"github.com/evotor-partner/evotor-partner/impl/forward"
	"github.com/evotor-partner/evotor-partner/impl/storage"
)

// The admin API of forwarding: what was forwarded where, and re-sending what died.

// Forwarding is what the handlers need of the forwarding queue (impl/forward.Service).
type Forwarding interface {
	// Outbox is where each accepted delivery is forwarded, written with it.
	Outbox() storage.Outbox
	// ResendDead re-sends the dead message id (id > 0) or every dead message of destination.
	ResendDead(ctx context.Context, id int64, destination string) (int, error)
}

// AdminListForwardMessages lists messages newest first, by state and destination.
func (s *Server) AdminListForwardMessages(ctx context.Context, req generated.AdminListForwardMessagesRequestObject) (generated.AdminListForwardMessagesResponseObject, error) {
	n, before, err := newestFirstArgs(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	var f storage.ForwardFilter
	if req.Params.State != nil {
		f.State = string(*req.Params.State)
	}
	if req.Params.Destination != nil {
		f.Destination = *req.Params.Destination
	}
	msgs, more, err := s.store.ForwardMessages(ctx, f, before, n)
	if err != nil {
		return nil, err
	}
	page := generated.ForwardMessagesPage{Items: make([]generated.ForwardMessage, len(msgs))}
	for i, m := range msgs {
		page.Items[i] = forwardMessageView(m)
	}
	if len(msgs) > 0 {
		page.NextCursor = nextCursor(more, strconv.FormatInt(msgs[len(msgs)-1].ID, 10))
	}
	return generated.AdminListForwardMessages200JSONResponse(page), nil
}

func forwardMessageView(m storage.Outgoing) generated.ForwardMessage {
	v := generated.ForwardMessage{Id: m.ID, WebhookId: forward.MessageID(m.InboxID), Destination: m.Destination, Seq: m.Seq,
		Operation: m.Operation, State: generated.ForwardMessageState(m.State), Attempts: m.Attempts,
		LastAttemptAt: m.LastAttemptAt, LastError: m.LastError, ReceivedAt: m.ReceivedAt, DeliveredAt: m.DeliveredAt}
	if m.EvotorUserID != "" {
		v.UserId = &m.EvotorUserID
	}
	if m.LastStatus != nil {
		st := int(*m.LastStatus)
		v.LastStatus = &st
	}
	return v
}

// AdminResendForwardMessage queues one dead message again; 404 when it is not a dead message.
func (s *Server) AdminResendForwardMessage(ctx context.Context, req generated.AdminResendForwardMessageRequestObject) (generated.AdminResendForwardMessageResponseObject, error) {
	n, err := s.resendDead(ctx, req.MessageId, "")
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, apperr.Because(apperr.NotFound, "messageId", "no message with this id")
	}
	return generated.AdminResendForwardMessage200JSONResponse{Resent: n}, nil
}

// AdminResendDeadMessages queues every dead message of a destination again.
func (s *Server) AdminResendDeadMessages(ctx context.Context, req generated.AdminResendDeadMessagesRequestObject) (generated.AdminResendDeadMessagesResponseObject, error) {
	n, err := s.resendDead(ctx, 0, req.Body.Destination)
	if err != nil {
		return nil, err
	}
	return generated.AdminResendDeadMessages200JSONResponse{Resent: n}, nil
}

func (s *Server) resendDead(ctx context.Context, id int64, destination string) (int, error) {
	if s.forwarding == nil {
		return 0, apperr.Because(apperr.Unavailable, "", "forwarding is not running")
	}
	return s.forwarding.ResendDead(ctx, id, destination)
}

// AdminForwardingStats counts each destination's messages.
func (s *Server) AdminForwardingStats(ctx context.Context, _ generated.AdminForwardingStatsRequestObject) (generated.AdminForwardingStatsResponseObject, error) {
	stats, err := s.store.ForwardingStats(ctx)
	if err != nil {
		return nil, err
	}
	out := generated.ForwardingStats{Destinations: make([]generated.DestinationStats, len(stats))}
	for i, st := range stats {
		out.Destinations[i] = generated.DestinationStats{Destination: st.Destination, Pending: st.Pending,
			Delivered: st.Delivered, Dead: st.Dead, FailedAttempts: st.FailedAttempts}
		if st.OldestPending != nil {
			age := time.Since(*st.OldestPending).Seconds()
			out.Destinations[i].OldestPendingAgeSeconds = &age
		}
	}
	return generated.AdminForwardingStats200JSONResponse(out), nil
}
