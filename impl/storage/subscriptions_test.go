package storage_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"pgregory.net/rapid"

	"github.com/evotor-partner/evotor-partner/impl/billing"
	"github.com/evotor-partner/evotor-partner/impl/storage"
	"github.com/evotor-partner/evotor-partner/impl/storage/storagetest"
)

// TestSavedSubscriptionIsTheFoldOfItsEvents: whatever order a subscription's events arrive in
// (in order, late, re-sent, unnumbered, a number sent again with another body), the state
// saved is billing's fold of the events stored, though an event in order is stepped from the
// saved state and only the others are folded from all.
func TestSavedSubscriptionIsTheFoldOfItsEvents(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, b storagetest.Backend) {
		st := b.Open(t).Store
		rule := storage.SubscriptionRule{Fold: billing.Fold, Step: billing.Step}
		types := []string{"SubscriptionCreated", "SubscriptionActivated", "SubscriptionRenewed", "SubscriptionTermsChanged",
			"AddonsUpdated", "SubscriptionTerminationRequested", "SubscriptionTerminated", "SomethingNew"}
		run := 0
		rapid.Check(t, func(rt *rapid.T) {
			run++
			user, sub := fmt.Sprintf("u-fold-%d", run), fmt.Sprintf("sub-%d", run)
			n := rapid.IntRange(1, 12).Draw(rt, "events")
			var bodies []string
			for i := range n {
				seq := ""
				if rapid.IntRange(0, 5).Draw(rt, "numbered") > 0 {
					// mostly in order, now and then late or a number sent before
					seq = fmt.Sprintf(`,"sequenceNumber":%d`, i+1-rapid.SampledFrom([]int{0, 0, 0, 1, 3}).Draw(rt, "back"))
				}
				extra := rapid.SampledFrom([]string{"", `,"planId":"pro"`, `,"deviceNumber":3`, `,"trialPeriodDuration":"P14DT"`,
					`,"addons":[{"id":"a","quantity":2}]`, `,"nextBillingDate":"2027-01-01T00:00:00+0000"`}).Draw(rt, "extra")
				bodies = append(bodies, fmt.Sprintf(`{"subscriptionId":%q,"productId":"p","userId":%q,"type":%q%s%s}`,
					sub, user, rapid.SampledFrom(types).Draw(rt, "type"), seq, extra))
				if rapid.IntRange(0, 4).Draw(rt, "re-sent") == 0 {
					bodies = append(bodies, bodies[rapid.IntRange(0, len(bodies)-1).Draw(rt, "which")])
				}
			}
			stored := map[string]bool{} // a number's first body, or an unnumbered body
			var events []billing.Event
			for _, body := range bodies {
				var e struct {
					Seq *int64 `json:"sequenceNumber"`
				}
				_ = json.Unmarshal([]byte(body), &e)
				key := body
				if e.Seq != nil {
					key = fmt.Sprint(*e.Seq)
				}
				if !stored[key] {
					stored[key] = true
					ev, _ := billing.ParseEvent([]byte(body))
					events = append(events, ev)
				}
				err := st.Accept(ctx, storage.InboxEntry{Operation: "subscriptionEvent", EvotorUserID: &user, PathParams: "{}", Body: []byte(body)},
					func(tx *storage.Tx) error {
						_, err := tx.RecordSubscriptionEvent(sub, []byte(body), rule)
						return err
					})
				if err != nil {
					rt.Fatal(err)
				}
			}
			subs, err := st.SubscriptionsOf(ctx, user)
			if err != nil || len(subs) != 1 {
				rt.Fatalf("subscriptions %+v, %v", subs, err)
			}
			s := subs[0]
			got := billing.State{Status: s.Status, TerminationRequested: s.TerminationRequested, PlanID: s.PlanID,
				DeviceNumber: s.DeviceNumber, NextBillingDate: s.NextBillingDate, LastSequence: s.LastSequence}
			if s.Addons != nil {
				got.Addons = json.RawMessage(*s.Addons)
			}
			want := billing.Fold(events)
			if len(want.Addons) > 0 {
				want.Addons = json.RawMessage(string(want.Addons)) // as saved: text
			}
			if !reflect.DeepEqual(got, want) {
				rt.Fatalf("saved %+v, the fold of the %d events stored %+v", got, len(events), want)
			}
		})
	})
}
