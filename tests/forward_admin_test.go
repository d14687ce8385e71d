package tests

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/evotor-partner/evotor-partner/generated"
	"github.com/evotor-partner/evotor-partner/impl"
	"github.com/evotor-partner/evotor-partner/impl/forward"
	"github.com/evotor-partner/evotor-partner/impl/storage"
)

// lateForwarding lets the API be built before the forwarding service that needs its store.
type lateForwarding struct{ svc *forward.Service }

func (l *lateForwarding) Outbox() storage.Outbox { return l.svc.Outbox() }

func (l *lateForwarding) ResendDead(ctx context.Context, id int64, destination string) (int, error) {
	return l.svc.ResendDead(ctx, id, destination)
}

func TestAdminSeesAndResendsDeadMessages(t *testing.T) {
	t.Parallel() // mostly waiting on retries: runs beside the others
	eachBackend(t, func(t *testing.T, b backend) {
		late := &lateForwarding{}
		e := newEnv(t, b, withAdmin, func(c *impl.APIConfig) { c.Forwarding = late })
		dest := newDestination(t, forwardSecret)
		dest.failFirst = 1 << 30
		late.svc = startForwarding(t, e, forward.Config{RetryFor: 100 * time.Millisecond}, dest.srv.URL)
		ctx, admin := context.Background(), auth(bearer(adminToken))
		users := []string{"01-000000000000601", "01-000000000000602"}
		sendUsersEvents(e, users, 2)

		dead := generated.AdminListForwardMessagesParamsStateDead
		list := func(p generated.AdminListForwardMessagesParams) *generated.ForwardMessagesPage {
			res, err := e.client.AdminListForwardMessagesWithResponse(ctx, &p, admin)
			if err != nil || res.JSON200 == nil {
				t.Fatalf("list: %v %d %s", err, res.StatusCode(), res.Body)
			}
			return res.JSON200
		}
		waitFor(t, 20*time.Second, func() bool { return len(list(generated.AdminListForwardMessagesParams{State: &dead}).Items) == 4 })

		// Paged newest first, each with its last attempt.
		one, seen := 1, map[int64]bool{}
		p := generated.AdminListForwardMessagesParams{State: &dead, Limit: &one, Destination: &dest.srv.URL}
		for {
			page := list(p)
			for _, m := range page.Items {
				if m.LastStatus == nil || *m.LastStatus != 503 || m.LastError == nil || *m.LastError != "HTTP 503" ||
					m.Attempts < 2 || !strings.HasPrefix(m.WebhookId, "msg_") || m.Operation != "subscriptionEvent" || seen[m.Id] {
					t.Fatalf("dead message %+v", m)
				}
				seen[m.Id] = true
			}
			if page.NextCursor == nil {
				break
			}
			p.Cursor = page.NextCursor
		}
		if len(seen) != 4 {
			t.Fatalf("%d dead messages paged, want 4", len(seen))
		}

		stats, err := e.client.AdminForwardingStatsWithResponse(ctx, admin)
		if err != nil || stats.JSON200 == nil || len(stats.JSON200.Destinations) != 1 {
			t.Fatalf("stats: %v %s", err, stats.Body)
		}
		if s := stats.JSON200.Destinations[0]; s.Dead != 4 || s.Pending != 0 || s.Delivered != 0 || s.FailedAttempts < 8 || s.OldestPendingAgeSeconds != nil {
			t.Fatalf("stats %+v", s)
		}

		dest.mu.Lock()
		dest.failFirst = 0
		dest.mu.Unlock()
		// One message by id (404 for one that is not dead), then the rest of the destination.
		var firstOfUser0 int64
		for _, m := range list(generated.AdminListForwardMessagesParams{State: &dead}).Items {
			if *m.UserId == users[0] && m.Seq == 1 {
				firstOfUser0 = m.Id
			}
		}
		res, err := e.client.AdminResendForwardMessageWithResponse(ctx, firstOfUser0, admin)
		if err != nil || res.JSON200 == nil || res.JSON200.Resent != 1 {
			t.Fatalf("resend one: %v %d %s", err, res.StatusCode(), res.Body)
		}
		dest.waitDelivered(1, 10*time.Second)
		// Any message may be sent again, a delivered one included (the receiver skips its id);
		// an id no message has is 404.
		if res, _ := e.client.AdminResendForwardMessageWithResponse(ctx, firstOfUser0, admin); res.JSON200 == nil || res.JSON200.Resent != 1 {
			t.Fatalf("resending a delivered message: %d %s", res.StatusCode(), res.Body)
		}
		if res, _ := e.client.AdminResendForwardMessageWithResponse(ctx, 1<<40, admin); res.StatusCode() != 404 {
			t.Fatalf("resending no message: %d %s", res.StatusCode(), res.Body)
		}
		all, err := e.client.AdminResendDeadMessagesWithResponse(ctx, generated.AdminResendDeadMessagesJSONRequestBody{Destination: dest.srv.URL}, admin)
		if err != nil || all.JSON200 == nil || all.JSON200.Resent != 3 {
			t.Fatalf("resend all: %v %s", err, all.Body)
		}
		checkInOrder(t, dest.waitDelivered(4, 10*time.Second), users, 2)
		delivered := generated.AdminListForwardMessagesParamsStateDelivered
		// Marked delivered once the 2xx is back (just after the receiver saw the message).
		waitFor(t, 5*time.Second, func() bool { return len(list(generated.AdminListForwardMessagesParams{State: &delivered}).Items) == 4 })
	})
}
