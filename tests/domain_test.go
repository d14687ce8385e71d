package tests

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/evotor-partner/evotor-partner/impl"
	"github.com/evotor-partner/evotor-partner/impl/storage"
	"github.com/evotor-partner/evotor-partner/security"
)

// subscriptionEvent renders one billing event of subscription sub.
func subscriptionEvent(sub, userID string, seq int, typ, extra string) []byte {
	return fmt.Appendf(nil, `{"subscriptionId":%q,"productId":"569af313-5fcf-43b4-9eb4-f81e8f17dac7","userId":%q,`+
		`"timestamp":"2017-04-20T18:26:37.753+0000","sequenceNumber":%d,"type":%q%s}`, sub, userID, seq, typ, extra)
}

// lifecycle is a subscription's story in sequence order (1-based).
func lifecycle(sub, userID string) [][]byte {
	return [][]byte{
		subscriptionEvent(sub, userID, 1, "SubscriptionCreated", `,"planId":"starter","trialPeriodDuration":"P14DT","deviceNumber":1`),
		subscriptionEvent(sub, userID, 2, "SubscriptionActivated", `,"nextBillingDate":"2017-06-04T00:48:38.000+0000"`),
		subscriptionEvent(sub, userID, 3, "SubscriptionTermsChanged", `,"planId":"pro","deviceNumber":3`),
		subscriptionEvent(sub, userID, 4, "subscriptionterminationrequested", ``),
		subscriptionEvent(sub, userID, 5, "AddonsUpdated", `,"addons":[{"id":"extra","quantity":2}]`),
		subscriptionEvent(sub, userID, 6, "SubscriptionFutureType", ``),
	}
}

func (e *env) sendEvent(body []byte) {
	e.t.Helper()
	if status, resp := e.send(opByID(e.t, "subscriptionEvent"), body, bearer(appToken)); status != 200 {
		e.t.Fatalf("subscription event: %d %s", status, resp)
	}
}

func (e *env) subscription(id string) storage.Subscription {
	e.t.Helper()
	var s storage.Subscription
	if err := e.db.Where("subscription_id = ?", id).Take(&s).Error; err != nil {
		e.t.Fatal(err)
	}
	s.UpdatedAt = time.Time{}
	return s
}

func stateOf(s storage.Subscription) string {
	str := func(p *string) string {
		if p == nil {
			return "-"
		}
		return *p
	}
	n := func(p *int64) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprint(*p)
	}
	return fmt.Sprintf("%s term=%v plan=%s devices=%s next=%s addons=%s last=%s", s.Status, s.TerminationRequested,
		str(s.PlanID), n(s.DeviceNumber), str(s.NextBillingDate), str(s.Addons), n(s.LastSequence))
}

func TestSubscriptionStateFollowsSequenceNotArrival(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		story := lifecycle("in-order", "01-000000000000001")
		for _, ev := range story[:4] {
			e.sendEvent(ev)
		}
		want := stateOf(e.subscription("in-order"))
		if want != "active term=true plan=pro devices=3 next=2017-06-04T00:48:38.000+0000 addons=- last=4" {
			t.Fatalf("in-order state: %s", want)
		}
		for _, order := range [][]int{{1, 3, 2, 4}, {1, 4, 2, 3}, {4, 3, 2, 1}} {
			sub := fmt.Sprint("order-", order)
			events := lifecycle(sub, "01-000000000000001")
			for _, i := range order {
				e.sendEvent(events[i-1])
			}
			if got := stateOf(e.subscription(sub)); got != want {
				t.Errorf("order %v: %s, want %s", order, got, want)
			}
		}
		// Redelivery and a conflicting body: stored once, the first kept, state unchanged.
		e.sendEvent(story[1])
		e.sendEvent(subscriptionEvent("in-order", "01-000000000000001", 2, "SubscriptionTerminated", ""))
		var n int64
		e.db.Model(&storage.SubscriptionEvent{}).Where("subscription_id = ?", "in-order").Count(&n)
		if n != 4 || stateOf(e.subscription("in-order")) != want {
			t.Fatalf("%d events stored, state %s", n, stateOf(e.subscription("in-order")))
		}
		if !strings.Contains(e.logs.String(), "re-sent with a different body") {
			t.Fatal("a conflicting redelivery was not logged")
		}
		e.sendEvent(lifecycle("in-order", "01-000000000000001")[5]) // unknown type: stored, no change
		if got := stateOf(e.subscription("in-order")); got != want {
			t.Fatalf("unknown type changed the state: %s", got)
		}
		e.sendEvent(subscriptionEvent("in-order", "01-000000000000001", 7, "SubscriptionTerminated", ""))
		if got := e.subscription("in-order"); got.Status != "terminated" {
			t.Fatalf("after termination: %s", stateOf(got))
		}
	})
}

// TestSubscriptionStateProperty: any arrival order of any prefix of the story ends in the state
// the in-order delivery gives.
func TestSubscriptionStateProperty(t *testing.T) {
	t.Parallel()
	e := newEnv(t, backends()[0])
	var n atomic.Int64
	rapid.Check(t, func(rt *rapid.T) {
		k := rapid.IntRange(1, 6).Draw(rt, "events")
		perm := rapid.Permutation(seqTo(k)).Draw(rt, "arrival")
		id := n.Add(1)
		inOrder, shuffled := fmt.Sprint("sorted-", id), fmt.Sprint("shuffled-", id)
		a, b := lifecycle(inOrder, "01-000000000000001"), lifecycle(shuffled, "01-000000000000001")
		for i := 0; i < k; i++ {
			e.sendEvent(a[i])
		}
		for _, i := range perm {
			e.sendEvent(b[i])
		}
		if x, y := stateOf(e.subscription(inOrder)), stateOf(e.subscription(shuffled)); x != y {
			rt.Fatalf("arrival %v: %s, in order: %s", perm, y, x)
		}
	})
}

func seqTo(k int) []int {
	s := make([]int, k)
	for i := range s {
		s[i] = i
	}
	return s
}

// TestConcurrentCopiesOfEvents: 50 overlapping copies of each of 20 events: 20 stored, each
// applied once, no 5xx.
func TestConcurrentCopiesOfEvents(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		var events [][]byte
		for s := 0; s < 4; s++ {
			events = append(events, lifecycle(fmt.Sprint("sub-", s), "01-000000000000001")[:5]...)
		}
		var wg sync.WaitGroup
		var failures atomic.Int64
		for copyN := 0; copyN < 50; copyN++ {
			for _, ev := range events {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if status, _ := e.send(opByID(t, "subscriptionEvent"), ev, bearer(appToken)); status != 200 {
						failures.Add(1)
					}
				}()
			}
		}
		wg.Wait()
		var stored, inbox int64
		e.db.Model(&storage.SubscriptionEvent{}).Count(&stored)
		inbox = e.inboxCount()
		if failures.Load() != 0 || stored != 20 || inbox != 20 {
			t.Fatalf("%d failures, %d events stored, %d inbox rows", failures.Load(), stored, inbox)
		}
		for s := 0; s < 4; s++ {
			if got := e.subscription(fmt.Sprint("sub-", s)); got.LastSequence == nil || *got.LastSequence != 5 || got.Addons == nil {
				t.Fatalf("sub-%d: %s", s, stateOf(got))
			}
		}
	})
}

func installation(id, typ string, ms int64) []byte {
	return fmt.Appendf(nil, `{"id":%q,"timestamp":%d,"version":2,"type":%q,"data":{"userId":"01-000000000000001","productId":"p"}}`, id, ms, typ)
}

func TestUninstallRevokesTokensAndReinstallWorks(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		inst := opByID(t, "installationEvent")
		send := func(body []byte) {
			if status, resp := e.send(inst, body, bearer(appToken)); status != 200 {
				t.Fatalf("installation event: %d %s", status, resp)
			}
		}
		send(installation("a99fbf70-6307-4acc-b61c-741ee9eef6c0", "ApplicationInstalled", 1000))
		old := e.createUser("01-000000000000001")
		send(installation("c3d4e5f6-1a2b-4c3d-8e9f-0a1b2c3d4e5f", "ApplicationUninstalled", 2000))
		status, resp := e.send(opByID(t, "putStores"), fixture(t, "stores.json"), bearer(old))
		expectError(t, status, resp, 401, security.CodeBadUserToken, "")
		// A late, older install changes nothing; a newer one and a new create work again.
		send(installation("b8f3c1d2-7a4e-4f6b-9c0d-2e1f3a4b5c6d", "ApplicationInstalled", 1500))
		var i storage.Installation
		e.db.Take(&i)
		if i.Installed || i.LastEventMs != 2000 {
			t.Fatalf("installation after a late older event: %+v", i)
		}
		send(installation("d4e5f6a7-1a2b-4c3d-8e9f-0a1b2c3d4e5f", "ApplicationInstalled", 3000))
		if !e.tokenWorks(e.createUser("01-000000000000001")) || e.tokenWorks(old) {
			t.Fatal("after reinstall: the new token must work and the old one stay revoked")
		}
	})
}

func TestSupersededTokenExpiresAfterGrace(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		var offset atomic.Int64
		clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
		e := newEnv(t, b, func(c *impl.APIConfig) { c.TokenGrace = time.Hour; c.Now = clock })
		first := e.createUser("01-000000000000001")
		offset.Store(int64(10 * time.Minute))
		second := e.createUser("01-000000000000001")
		if !e.tokenWorks(first) || !e.tokenWorks(second) {
			t.Fatal("within the grace period both tokens work")
		}
		offset.Store(int64(2 * time.Hour))
		status, resp := e.send(opByID(t, "putStores"), fixture(t, "stores.json"), bearer(first))
		expectError(t, status, resp, 401, security.CodeExpiredUserToken, "")
		if !e.tokenWorks(second) {
			t.Fatal("the newest token must not expire")
		}
	})
}

func TestPaymentPolicy(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, func(c *impl.APIConfig) { c.RequireActiveSubscription = true })
		paying, lapsed := e.createUser("01-000000000000001"), e.createUser("01-000000000000002")
		e.sendEvent(subscriptionEvent("s1", "01-000000000000002", 1, "SubscriptionCreated", ""))
		if !e.tokenWorks(lapsed) {
			t.Fatal("a subscription that has not ended must not be refused")
		}
		e.sendEvent(subscriptionEvent("s1", "01-000000000000002", 2, "SubscriptionTerminated", ""))
		before := e.inboxCount()
		status, resp := e.send(opByID(t, "putStores"), fixture(t, "stores.json"), bearer(lapsed))
		if status != http.StatusPaymentRequired || string(resp) != `{"errors":[{"code":1004,"reason":"payment required","subject":"userUuid","value":"01-000000000000002"}]}`+"\n" {
			t.Fatalf("%d %q", status, resp)
		}
		if e.inboxCount() != before {
			t.Fatal("a 402 stored the delivery")
		}
		own := []byte(`[{"uuid":"20991231-0000-4000-8000-0000000000a1","name":"paying user's store"}]`)
		if status, resp := e.send(opByID(t, "putStores"), own, bearer(paying)); status != 200 {
			t.Fatalf("a user without subscriptions is refused: %d %s", status, resp)
		}
	})
}

// TestOtherUsersObjectsAreAbsent: user A's token on user B's store, device, employee → 404 {}
// and B's rows byte-for-byte unchanged; nothing of A's delivery is stored.
func TestOtherUsersObjectsAreAbsent(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		tokenA := e.createUser("01-000000000000001")
		userA, userB := bearer(tokenA), bearer(e.createUser("01-000000000000002"))
		for _, f := range []struct{ op, file string }{{"putStores", "stores_address_null_code.json"}, {"putDevices", "devices_extra_code_null.json"}, {"putEmployees", "employees_nulls_manual.json"}} {
			if status, resp := e.send(opByID(t, f.op), fixture(t, f.file), userB); status != 200 {
				t.Fatalf("B's %s: %d %s", f.op, status, resp)
			}
		}
		before, inboxBefore := e.dumpTables(), e.inboxCount()
		attempts := []struct{ op, body string }{
			{"putStores", `[{"uuid":"20170228-f4f1-401b-80fa-9ecca8451ffb","name":"taken over"}]`}, // B's store, other case
			{"putDevices", `[{"uuid":"20170222-D58C-40E0-8051-B53ADFF38860","name":"mine now"}]`},
			{"putDevices", `[{"uuid":"20991231-0000-4000-8000-000000000001","storeUuid":"20240928-8516-4031-8096-728591F6A6FC"}]`},
			{"putEmployees", `[{"uuid":"20250426-BB4E-40A5-8088-997C89F09FA1","name":"x","role":"ADMIN","stores":[]}]`},
			{"putEmployees", `[{"uuid":"20991231-0000-4000-8000-000000000002","name":"x","role":"ADMIN","stores":["20161209-3002-4054-80FD-F41228040000"]}]`},
			{"createProducts", string(fixture(t, "products_create.json"))},
			{"putDocuments", string(fixture(t, "documents_sell.json"))},
			{"postReceipts", `{"id":"b5c9e8a2-3d1f-4a6e-9b7c-2f0e1d3c4b5a","data":{"id":"2ae3d6c1-9b8f-4e7a-a1c2-d3e4f5a6b7c8","storeId":"20170228-F4F1-401B-80FA-9ECCA8451FFB","type":"SELL"}}`},
		}
		for _, a := range attempts {
			status, resp := e.sendTo(opByID(t, a.op), "20170228-F4F1-401B-80FA-9ECCA8451FFB", []byte(a.body), userA)
			if status != 404 || string(resp) != "{}\n" {
				t.Fatalf("%s with B's object: %d %q", a.op, status, resp)
			}
		}
		if after := e.dumpTables(); after != before || e.inboxCount() != inboxBefore {
			t.Fatal("a refused delivery changed the database")
		}
		if !e.tokenWorks(tokenA) {
			t.Fatal("A's own notifications must still work")
		}
	})
}
