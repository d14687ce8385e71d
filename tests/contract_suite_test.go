package tests

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evotor-partner/evotor-partner/impl"
	"github.com/evotor-partner/evotor-partner/impl/forward"
	"github.com/evotor-partner/evotor-partner/impl/storage"
	"github.com/evotor-partner/evotor-partner/security"
)

// The contract suite: the rules every delivery obeys, as one table of behaviours run on every
// storage adapter (SQLite, PostgreSQL), with forwarding off and on — four paths through the
// code, since a receipt on PostgreSQL without forwarding is stored by one batched SQL
// statement that states the token and owner rules again, and SQLite commits in groups. A new
// adapter, or a new fast path, passes every row in every mode or is not done.

// suiteMode is one way the product runs: a database, and forwarding on or off.
type suiteMode struct {
	backend    backend
	forwarding bool
}

func (m suiteMode) String() string {
	if m.forwarding {
		return m.backend.Name + "/forwarding"
	}
	return m.backend.Name
}

// suiteEnv is a server in a mode, with a clock the user tokens expire by.
type suiteEnv struct {
	*env
	mode  suiteMode
	clock *atomic.Int64 // offset from now, nanoseconds
}

func newSuiteEnv(t *testing.T, m suiteMode) *suiteEnv {
	clock := &atomic.Int64{}
	e := newEnv(t, m.backend, func(c *impl.APIConfig) {
		c.TokenGrace = time.Hour
		c.Now = func() time.Time { return time.Now().Add(time.Duration(clock.Load())) }
	})
	if m.forwarding {
		// Messages are written with the delivery; nothing is sent (the service is not started).
		dests, err := forward.ParseDestinations("http://127.0.0.1:9/evotor-hook", forwardSecret, false)
		if err != nil {
			t.Fatal(err)
		}
		svc, err := forward.New(context.Background(), e.store, forward.Config{Destinations: dests}, nil)
		if err != nil {
			t.Fatal(err)
		}
		e.cfg.Forwarding = svc
		e.assemble()
	}
	return &suiteEnv{env: e, mode: m, clock: clock}
}

// ok sends a delivery and expects 200.
func (e *suiteEnv) ok(t *testing.T, op, store string, body []byte, authorization string) {
	t.Helper()
	if status, resp := e.sendTo(opByID(t, op), store, body, authorization); status != 200 {
		t.Fatalf("%s: %d %s", op, status, resp)
	}
}

// count counts the rows of a table (a GORM model).
func (e *suiteEnv) count(t *testing.T, model any) int64 {
	t.Helper()
	var n int64
	if err := e.db.Model(model).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// outboxMatchesInbox: with forwarding, one message per stored delivery (one destination);
// without, none.
func (e *suiteEnv) outboxMatchesInbox(t *testing.T) {
	t.Helper()
	inbox, outbox := e.count(t, &storage.InboxEntry{}), e.count(t, &storage.ForwardMessage{})
	want := int64(0)
	if e.mode.forwarding {
		want = inbox
	}
	if outbox != want {
		t.Fatalf("%d outbox messages for %d inbox rows (forwarding %v)", outbox, inbox, e.mode.forwarding)
	}
}

const suiteStore = "20170928-3176-40EB-80E2-A11F032E282A"

var contractSuite = []struct {
	name string
	run  func(t *testing.T, e *suiteEnv)
}{
	{"a re-sent receipt or event is stored once, with one inbox row and one message", func(t *testing.T, e *suiteEnv) {
		user := bearer(e.createUser("01-000000000000001"))
		bodies := []struct{ op, store string }{{"postReceipts", ""}, {"subscriptionEvent", ""}, {"installationEvent", ""}}
		payload := map[string][]byte{
			"postReceipts":      receipt("b5c9e8a2-3d1f-4a6e-9b7c-2f0e1d3c0001", suiteStore, 3),
			"subscriptionEvent": subscriptionEvent("sub-1", "01-000000000000001", 1, "SubscriptionCreated", ""),
			"installationEvent": installation("a99fbf70-6307-4acc-b61c-741ee9eef6c0", "ApplicationInstalled", 1000),
		}
		for _, b := range bodies {
			cred := user
			if b.op != "postReceipts" {
				cred = bearer(appToken)
			}
			before := e.inboxCount()
			for range 3 {
				e.ok(t, b.op, b.store, payload[b.op], cred)
			}
			if got := e.inboxCount() - before; got != 1 {
				t.Fatalf("%s sent three times: %d inbox rows", b.op, got)
			}
		}
		if r, i := e.count(t, &storage.ReceiptRow{}), e.count(t, &storage.ReceiptItemRow{}); r != 1 || i != 3 {
			t.Fatalf("%d receipts, %d items", r, i)
		}
		e.outboxMatchesInbox(t)
	}},
	{"subscription state follows the sequence, not the arrival", func(t *testing.T, e *suiteEnv) {
		events := lifecycle("sub-order", "01-000000000000001")
		for i := len(events) - 1; i >= 0; i-- { // newest first
			e.sendEvent(events[i])
		}
		inOrder := newSuiteEnv(t, e.mode)
		for _, ev := range events {
			inOrder.sendEvent(ev)
		}
		if got, want := stateOf(e.subscription("sub-order")), stateOf(inOrder.subscription("sub-order")); got != want {
			t.Fatalf("out of order: %s; in order: %s", got, want)
		}
		e.outboxMatchesInbox(t)
	}},
	{"another user's store refuses the whole delivery, on every notification", func(t *testing.T, e *suiteEnv) {
		owner, intruder := bearer(e.createUser("01-000000000000001")), bearer(e.createUser("01-000000000000002"))
		e.ok(t, "putStores", "", []byte(`[{"uuid":"`+suiteStore+`","name":"owner's"}]`), owner)
		before, inbox, outbox := e.dumpTables(), e.inboxCount(), e.count(t, &storage.ForwardMessage{})
		for _, a := range []struct{ op, body string }{
			{"postReceipts", string(receipt("b5c9e8a2-3d1f-4a6e-9b7c-2f0e1d3c0002", strings.ToLower(suiteStore), 1))},
			{"putStores", `[{"uuid":"` + suiteStore + `","name":"taken over"}]`},
			{"createProducts", `[{"uuid":"01ba18b6-8707-5f47-3d9c-4db058054cb2","name":"x","group":false}]`},
			{"putDocuments", `[{"uuid":"2a1fc216-c23d-43aa-b3a5-51646c2a03cc","type":"OPEN_SESSION"}]`},
		} {
			status, resp := e.sendTo(opByID(t, a.op), suiteStore, []byte(a.body), intruder)
			if status != 404 || string(resp) != "{}\n" {
				t.Fatalf("%s into another user's store: %d %q", a.op, status, resp)
			}
		}
		if e.dumpTables() != before || e.inboxCount() != inbox || e.count(t, &storage.ForwardMessage{}) != outbox {
			t.Fatal("a refused delivery changed the database")
		}
		e.outboxMatchesInbox(t)
	}},
	{"a superseded token works for its grace, then 1003; an uninstall revokes at once (1002), on every notification", func(t *testing.T, e *suiteEnv) {
		// Each token is used once before it is superseded or revoked, so the replica's token
		// cache holds it as valid: the refusal must come from the delivery's own transaction.
		n := 0
		notify := func(op, cred string) (int, []byte) {
			n++
			body := map[string][]byte{
				"postReceipts": receipt(fmt.Sprintf("b5c9e8a2-3d1f-4a6e-9b7c-2f0e1d3c1%03d", n), suiteStore, 1),
				"putStores":    fmt.Appendf(nil, `[{"uuid":%q,"name":"store %d"}]`, suiteStore, n),
			}[op]
			return e.sendTo(opByID(t, op), suiteStore, body, cred)
		}
		first := bearer(e.createUser("01-000000000000001"))
		for _, op := range []string{"postReceipts", "putStores"} {
			if status, resp := notify(op, first); status != 200 {
				t.Fatalf("%s: %d %s", op, status, resp)
			}
		}
		e.clock.Store(int64(10 * time.Minute))
		second := bearer(e.createUser("01-000000000000001"))
		for _, op := range []string{"postReceipts", "putStores"} {
			for _, cred := range []string{first, second} {
				if status, resp := notify(op, cred); status != 200 {
					t.Fatalf("%s within the grace: %d %s", op, status, resp)
				}
			}
		}
		e.clock.Store(int64(2 * time.Hour))
		for _, op := range []string{"postReceipts", "putStores"} {
			status, resp := notify(op, first)
			expectError(t, status, resp, 401, security.CodeExpiredUserToken, "")
			if status, resp := notify(op, second); status != 200 {
				t.Fatalf("%s with the newest token: %d %s", op, status, resp)
			}
		}
		e.ok(t, "installationEvent", "", installation("c3d4e5f6-1a2b-4c3d-8e9f-0a1b2c3d4e5f", "ApplicationUninstalled", 5000), bearer(appToken))
		for _, op := range []string{"postReceipts", "putStores"} {
			status, resp := notify(op, second)
			expectError(t, status, resp, 401, security.CodeBadUserToken, "")
		}
		e.outboxMatchesInbox(t)
	}},
	{"a catalogue is stored whole, and its re-send changes nothing", func(t *testing.T, e *suiteEnv) {
		user := bearer(e.createUser("01-000000000000001"))
		size := 10 << 20
		if testing.Short() {
			size = 1 << 20
		}
		body := catalogue(size)
		e.ok(t, "createProducts", suiteStore, body, user)
		want := int64(strings.Count(string(body), `"uuid"`))
		if got := e.count(t, &storage.ProductRow{}); got != want {
			t.Fatalf("%d of %d products stored", got, want)
		}
		before := e.productsUpdatedAt()
		e.ok(t, "createProducts", suiteStore, body, user)
		if after := e.productsUpdatedAt(); len(after) != len(before) {
			t.Fatalf("re-sent: %d products, before %d", len(after), len(before))
		}
		for id, at := range e.productsUpdatedAt() {
			if !at.Equal(before[id]) {
				t.Fatalf("product %s rewritten by a re-send", id)
			}
		}
		e.outboxMatchesInbox(t)
	}},
}

func TestContractSuite(t *testing.T) {
	t.Parallel() // on databases of its own: runs beside the others
	for _, b := range backends() {
		for _, forwarding := range []bool{false, true} {
			m := suiteMode{backend: b, forwarding: forwarding}
			t.Run(m.String(), func(t *testing.T) {
				t.Parallel() // each mode on databases of its own
				for _, c := range contractSuite {
					t.Run(c.name, func(t *testing.T) { c.run(t, newSuiteEnv(t, m)) })
				}
			})
		}
	}
}
