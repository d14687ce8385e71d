package tests

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evotor-partner/evotor-partner/cmd/evotor-cloud/cloud"
	"github.com/evotor-partner/evotor-partner/cmd/evotor-cloud/restsim"
	"github.com/evotor-partner/evotor-partner/impl"
	"github.com/evotor-partner/evotor-partner/impl/evotor"
	"github.com/evotor-partner/evotor-partner/impl/evotorapi"
	"github.com/evotor-partner/evotor-partner/impl/forward"
	"github.com/evotor-partner/evotor-partner/impl/metrics"
	"github.com/evotor-partner/evotor-partner/impl/reconcile"
	"github.com/evotor-partner/evotor-partner/impl/storage"
)

// Reconciliation through the simulator (issue 20 §3): the simulated Cloud plays its lifecycle
// against our server with some inventory webhooks dropped on purpose (restsim's Recorder keeps
// them from us, its Model has them), then a sync calls the simulator's REST API with the cloud
// token user/token brought, and our tables equal the simulator's.

// evotorSim is the simulator's REST side on a loopback port, and a reconcile service of e
// calling it.
type evotorSim struct {
	srv  *restsim.Server
	sync *reconcile.Service
}

func newEvotorSim(t *testing.T, e *env) *evotorSim {
	srv, err := restsim.NewServer(restsim.Config{PageSize: 2, CheckAnswers: true})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	m := e.cfg.Metrics // nil: nothing counted
	client, err := evotorapi.New(evotorapi.Config{BaseURL: hs.URL, BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond,
		Observe: m.EvotorCall, Logger: e.cfg.Logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if v := srv.ContractViolations(); len(v) > 0 {
			t.Errorf("the simulator answered against its contract: %v", v)
		}
	})
	var outbox func() storage.Outbox
	if e.cfg.Forwarding != nil { // what a sync finds is forwarded, as the server does
		outbox = e.cfg.Forwarding.Outbox
	}
	sim := &evotorSim{srv: srv, sync: reconcile.New(reconcile.Config{Store: e.store, Sealer: e.sealer, Client: client, Rows: impl.WebhookRows(),
		Observe: m.SyncEnded, Outbox: outbox, Logger: e.cfg.Logger})}
	e.cfg.Sync = sim.sync // the admin API's POST …/sync
	e.assemble()
	return sim
}

// lifecycle plays the Cloud's lifecycle for user against e, the webhooks drop says dropped.
func (s *evotorSim) lifecycle(t *testing.T, e *env, user string, drop func(op string) bool) *restsim.Recorder {
	rec := &restsim.Recorder{Model: s.srv.Model(), Tokens: s.srv.Tokens(), Drop: drop}
	hs := httptest.NewServer(e.api)
	t.Cleanup(hs.Close)
	c, err := cloud.New(cloud.Config{Target: hs.URL, AppAuth: bearer(appToken), Timeout: 5 * time.Second, Doer: rec.Doer(nil)})
	if err != nil {
		t.Fatal(err)
	}
	requireGreen(t, c.Lifecycle(context.Background(), cloud.LifecycleOptions{UserID: user}), 13)
	return rec
}

// sameInventory fails unless our stores, devices, employees and products of user are the
// simulator's: the same uuids, none marked missing, and each row the one the webhook that
// carried it makes.
func (s *evotorSim) sameInventory(t *testing.T, e *env, user string) {
	t.Helper()
	ctx := context.Background()
	m, rows := s.srv.Model(), impl.WebhookRows()
	stores, err := e.store.OwnedStores(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	compare(t, "stores", m.Records(user, restsim.KindStore, ""), stores, func(raw []byte) (storage.StoreRow, error) { return rows.Store(user, raw) })
	devices, _ := e.store.OwnedDevices(ctx, user)
	compare(t, "devices", m.Records(user, restsim.KindDevice, ""), devices, func(raw []byte) (storage.DeviceRow, error) { return rows.Device(user, raw) })
	employees, _ := e.store.OwnedEmployees(ctx, user)
	compare(t, "employees", m.Records(user, restsim.KindEmployee, ""), employees, func(raw []byte) (storage.EmployeeRow, error) { return rows.Employee(user, raw) })
	for _, store := range m.StoreIDs(user) {
		products, _ := e.store.StoreProducts(ctx, user, evotor.CanonicalID(store))
		want := append(m.Records(user, restsim.KindProduct, store), m.Records(user, restsim.KindProductGroup, store)...)
		compare(t, "products of "+store, want, products, func(raw []byte) (storage.ProductRow, error) {
			r, err := rows.Product(raw)
			r.OwnerID, r.StoreUUID = user, evotor.CanonicalID(store)
			return r, err
		})
	}
}

// compare holds our rows to the simulator's records (each made a row from the webhook that
// carried it, as the handler made it).
func compare[R any](t *testing.T, what string, want []restsim.Record, got []R, row func(raw []byte) (R, error)) {
	t.Helper()
	if len(want) == 0 {
		t.Fatalf("%s: the simulator has none (the test proves nothing)", what)
	}
	ours := map[string]R{}
	for _, r := range got {
		ours[uuidOf(r)] = r
	}
	for _, rec := range want {
		r, ok := ours[evotor.CanonicalID(rec.ID)]
		if !ok {
			t.Errorf("%s: %s is the simulator's, not ours", what, rec.ID)
			continue
		}
		delete(ours, evotor.CanonicalID(rec.ID))
		if missingOf(r) {
			t.Errorf("%s: %s is marked missing", what, rec.ID)
		}
		w, err := row(rec.Webhook)
		if err != nil {
			t.Fatal(err)
		}
		if !sameColumns(w, r) {
			t.Errorf("%s: %s is\n%+v\nwant\n%+v", what, rec.ID, r, w)
		}
	}
	for u := range ours {
		t.Errorf("%s: %s is ours, not the simulator's", what, u)
	}
}

// TestReconciliationHealsDroppedWebhooks (issue 20 §3): the lifecycle with the devices,
// employees and products webhooks dropped, then a sync: our tables equal the simulator's, the
// healed records are in the inbox under reconciliation's operations; a second sync finds
// nothing (nothing stored twice); a record Evotor deletes is marked, not deleted.
func TestReconciliationHealsDroppedWebhooks(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		e := newEnv(t, b, withAdmin)
		sim := newEvotorSim(t, e)
		const user = "01-000000000000031"
		dropped := []string{"putDevices", "putEmployees", "createProducts"}
		rec := sim.lifecycle(t, e, user, func(op string) bool { return slices.Contains(dropped, op) })
		if rec.Dropped() != 3 {
			t.Fatalf("dropped %d webhooks, want 3", rec.Dropped())
		}
		inboxBefore := e.inboxCount()
		admin := auth(bearer(adminToken))

		if got, _ := e.client.AdminGetUserSyncWithResponse(ctx, user, admin); got.StatusCode() != 404 {
			t.Fatalf("the last sync before any: %d %s", got.StatusCode(), got.Body)
		}
		posted, err := e.client.AdminSyncUserWithResponse(ctx, user, admin)
		if err != nil || posted.JSON200 == nil {
			t.Fatalf("POST sync: %v %s", err, posted.Body)
		}
		// 1 store (known), 1 device, 1 employee, 3 products and 1 group (missed)
		if st := posted.JSON200; st.State != "succeeded" || st.Error != nil || st.Fetched != 7 || st.Changed != 6 || st.Missing != 0 || st.FinishedAt == nil {
			t.Fatalf("sync: %s", posted.Body)
		}
		last, _ := e.client.AdminGetUserSyncWithResponse(ctx, user, admin)
		if last.JSON200 == nil || last.JSON200.Changed != 6 || last.JSON200.State != "succeeded" {
			t.Fatalf("the last sync: %s", last.Body)
		}
		sim.sameInventory(t, e, user)
		if got := e.inboxCount() - inboxBefore; got != 3 {
			t.Fatalf("%d inbox entries for what was healed, want 3 (devices, employees, one store's products)", got)
		}
		ops := inboxOperations(t, e, user)
		for _, op := range []string{reconcile.OpDevices, reconcile.OpEmployees, reconcile.OpProducts} {
			if !slices.Contains(ops, op) {
				t.Errorf("no %s in the inbox: %v", op, ops)
			}
		}
		if slices.Contains(ops, reconcile.OpStores) {
			t.Errorf("the stores webhook arrived, yet reconciliation stored them again: %v", ops)
		}

		// Again: nothing new, nothing written.
		st, err := sim.sync.Sync(ctx, user)
		if err != nil || st.State != storage.SyncSucceeded || st.Changed != 0 || st.Fetched != 7 {
			t.Fatalf("second sync: %+v %v", st, err)
		}
		if got := e.inboxCount() - inboxBefore; got != 3 {
			t.Fatalf("the second sync wrote %d inbox entries", got-3)
		}

		// Evotor deletes the terminal (no webhook says so): marked, kept; back, unmarked.
		device := sim.srv.Model().Records(user, restsim.KindDevice, "")[0]
		if !sim.srv.Model().Remove(user, restsim.KindDevice, "", device.ID) {
			t.Fatal("the simulator had no such device")
		}
		if st, _ = sim.sync.Sync(ctx, user); st.State != storage.SyncSucceeded || st.Missing != 1 || st.Changed != 0 {
			t.Fatalf("sync after a deletion: %+v", st)
		}
		devices, _ := e.store.OwnedDevices(ctx, user)
		if len(devices) != 1 || devices[0].MissingSince == nil {
			t.Fatalf("the deleted device: %+v", devices)
		}
		if err := sim.srv.Model().PutDevices(user, []byte("["+string(device.Webhook)+"]")); err != nil {
			t.Fatal(err)
		}
		if st, _ = sim.sync.Sync(ctx, user); st.State != storage.SyncSucceeded || st.Missing != 0 {
			t.Fatalf("sync after the device came back: %+v", st)
		}
		sim.sameInventory(t, e, user)
	})
}

// TestRevokedCloudTokenMarksTheUser (issue 20 §3): Evotor revokes the cloud token; the sync
// gets 401, fails, and marks the token invalid; the user's deliveries go on; the next
// user/token clears the mark and the sync succeeds.
func TestRevokedCloudTokenMarksTheUser(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		e := newEnv(t, b, withAdmin)
		sim := newEvotorSim(t, e)
		const user = "01-000000000000032"
		sim.lifecycle(t, e, user, nil)
		token, _ := sim.srv.Tokens().Token(user)
		if !sim.srv.Tokens().Revoke(user) {
			t.Fatal("no token to revoke")
		}
		st, err := sim.sync.Sync(ctx, user)
		if err != nil || st.State != storage.SyncFailed || st.Error == nil || !strings.Contains(*st.Error, "401") {
			t.Fatalf("sync with a revoked token: %+v %v", st, err)
		}
		if strings.Contains(*st.Error, token) || strings.Contains(e.logs.String(), token) || !strings.Contains(e.logs.String(), "sync with Evotor failed") {
			t.Fatalf("the cloud token is in the sync's error or the log, or the failure is not logged:\n%s", e.logs.String())
		}
		view, _ := e.client.AdminGetUserWithResponse(ctx, user, auth(bearer(adminToken)))
		if view.JSON200 == nil || !view.JSON200.HasCloudToken || view.JSON200.CloudTokenValid == nil || *view.JSON200.CloudTokenValid {
			t.Fatalf("the admin view after a 401: %s", view.Body)
		}
		list, _ := e.client.AdminListUsersWithResponse(ctx, nil, auth(bearer(adminToken)))
		if list.JSON200 == nil || len(list.JSON200.Items) != 1 || list.JSON200.Items[0].CloudTokenValid == nil || *list.JSON200.Items[0].CloudTokenValid {
			t.Fatalf("the users listing after a 401: %s", list.Body)
		}
		calls := sim.srv.Stats()
		if st, _ = sim.sync.Sync(ctx, user); st.State != storage.SyncFailed {
			t.Fatalf("a marked token synced: %+v", st)
		}
		if sim.srv.Stats().Requests != calls.Requests {
			t.Fatal("Evotor was called again with a token it refused")
		}
		// Nothing else breaks: the user's webhooks are still stored.
		sim.lifecycle(t, e, "01-000000000000033", nil)
		// user/token brings a new token (the simulator's, through the server's own endpoint).
		sim.srv.Tokens().Set(user, "fresh-cloud-token-0001")
		resp, err := e.client.StoreCloudTokenWithBodyWithResponse(ctx, "application/json",
			strings.NewReader(`{"userId":"`+user+`","token":"fresh-cloud-token-0001"}`), auth(bearer(appToken)))
		if err != nil || resp.StatusCode() != 200 {
			t.Fatalf("user/token: %v %s", err, resp.Body)
		}
		if st, _ = sim.sync.Sync(ctx, user); st.State != storage.SyncSucceeded {
			t.Fatalf("sync after user/token: %+v", st)
		}
		if view, _ = e.client.AdminGetUserWithResponse(ctx, user, auth(bearer(adminToken))); view.JSON200 == nil || !*view.JSON200.CloudTokenValid {
			t.Fatalf("the admin view after user/token: %s", view.Body)
		}
	})
}

func inboxOperations(t *testing.T, e *env, user string) []string {
	t.Helper()
	entries, _, err := e.store.InboxOf(context.Background(), user, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	ops := make([]string, len(entries))
	for i, en := range entries {
		ops[i] = en.Operation
	}
	return ops
}

func uuidOf(row any) string {
	return evotor.CanonicalID(reflect.ValueOf(row).FieldByName("UUID").String())
}

func missingOf(row any) bool { return !reflect.ValueOf(row).FieldByName("MissingSince").IsNil() }

// sameColumns compares what a webhook writes of a row (not its raw bytes, times or marks).
func sameColumns(a, b any) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := range va.NumField() {
		switch va.Type().Field(i).Name {
		case "UUID", "Raw", "RawHash", "UpdatedAt", "MissingSince":
			continue
		}
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			return false
		}
	}
	return true
}

// TestPeriodicSyncQueuesEachUserOnce: the periodic plan queues one River job per user with a
// valid cloud token, once per interval however often it plans (replicas plan together), and
// the job syncs the user: the dropped webhooks are healed.
func TestPeriodicSyncQueuesEachUserOnce(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		e := newEnv(t, b)
		sim := newEvotorSim(t, e)
		const user = "01-000000000000034"
		sim.lifecycle(t, e, user, func(op string) bool { return op == "createProducts" })
		if _, err := forward.New(ctx, e.store, forward.Config{}, nil); err != nil { // River's tables
			t.Fatal(err)
		}
		db, err := e.store.SQLDB()
		if err != nil {
			t.Fatal(err)
		}
		p, err := reconcile.NewPeriodic(sim.sync, db, e.store.OnPostgres(), reconcile.PeriodicConfig{Interval: time.Hour, RescueAfter: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := p.Plan(ctx); err != nil || n != 1 {
			t.Fatalf("planned %d, %v; want 1", n, err)
		}
		if n, err := p.Plan(ctx); err != nil || n != 0 {
			t.Fatalf("planned again %d, %v; want 0 within the interval", n, err)
		}
		if err := p.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Stop(context.Background()) })
		waitFor(t, 20*time.Second, func() bool {
			st, found, _ := e.store.LastSync(ctx, user)
			return found && st.State == storage.SyncSucceeded
		})
		st, _, _ := e.store.LastSync(ctx, user)
		if st.Changed != 4 { // 3 products and a group
			t.Fatalf("the periodic sync: %+v", st)
		}
		sim.sameInventory(t, e, user)
	})
}

// TestSyncMetrics: syncs by outcome, the records they changed, Evotor's answers by status.
func TestSyncMetrics(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		var m *metrics.Metrics
		e := newEnv(t, b, withMetrics(t, &m))
		sim := newEvotorSim(t, e)
		const user = "01-000000000000035"
		sim.lifecycle(t, e, user, func(op string) bool { return op == "putDevices" })
		if st, _ := sim.sync.Sync(ctx, user); st.State != storage.SyncSucceeded {
			t.Fatalf("sync: %+v", st)
		}
		sim.srv.Tokens().Revoke(user)
		_, _ = sim.sync.Sync(ctx, user)
		got := scrape(t, m)
		expectValues(t, "sync_total", values(t, got, "evotor_partner_sync_total", "outcome"), map[string]float64{"succeeded": 1, "token_invalid": 1})
		expectValues(t, "sync_changes_total", values(t, got, "evotor_partner_sync_changes_total"), map[string]float64{"": 1})
		calls := values(t, got, "evotor_partner_evotor_api_calls_total", "operation", "status")
		ok, refused := 0.0, 0.0
		for k, v := range calls {
			switch {
			case strings.HasSuffix(k, "/200"):
				ok += v
			case strings.HasSuffix(k, "/401"):
				refused += v
			}
		}
		if ok < 5 || refused != 1 {
			t.Fatalf("Evotor's answers: %v", calls)
		}
	})
}

// TestForwardingSeesOnlyWhatTheWebhooksMissed: with forwarding on, a sync forwards one
// message, under its own operation, with only the dropped webhook's terminal; a second sync
// forwards nothing.
func TestForwardingSeesOnlyWhatTheWebhooksMissed(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		e := newEnv(t, b)
		dest := newDestination(t, forwardSecret)
		startForwarding(t, e, forward.Config{}, dest.srv.URL)
		sim := newEvotorSim(t, e)
		const user = "01-000000000000036"
		sim.lifecycle(t, e, user, func(op string) bool { return op == "putDevices" })
		sent := len(dest.waitDelivered(int(e.inboxCount()), 10*time.Second))
		if st, _ := sim.sync.Sync(ctx, user); st.State != storage.SyncSucceeded || st.Changed != 1 {
			t.Fatalf("sync: %+v", st)
		}
		got := dest.waitDelivered(sent+1, 10*time.Second)
		m := got[len(got)-1]
		device := sim.srv.Model().Records(user, restsim.KindDevice, "")[0]
		if m.Operation != reconcile.OpDevices || m.UserID == nil || *m.UserID != user || !strings.Contains(string(m.Body), device.ID) {
			t.Fatalf("the forwarded message: %s %v %s", m.Operation, m.UserID, m.Body)
		}
		for _, earlier := range got[:len(got)-1] {
			if strings.HasPrefix(earlier.Operation, "reconcile") {
				t.Fatalf("another reconciliation message: %s", earlier.Operation)
			}
		}
		if st, _ := sim.sync.Sync(ctx, user); st.Changed != 0 {
			t.Fatalf("second sync: %+v", st)
		}
		time.Sleep(300 * time.Millisecond)
		if n := len(dest.waitDelivered(0, time.Second)); n != sent+1 {
			t.Fatalf("%d messages after the second sync, want %d", n, sent+1)
		}
	})
}

// TestFailedSyncMarksNothing: Evotor failing in the middle of a sync (5xx past the client's
// retries) fails the sync with Evotor's status in its error, marks nothing missing, and the
// next sync heals as if nothing had happened.
func TestFailedSyncMarksNothing(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		e := newEnv(t, b)
		sim := newEvotorSim(t, e)
		const user = "01-000000000000037"
		sim.lifecycle(t, e, user, func(op string) bool { return op == "createProducts" })
		sim.srv.FailNext(100, 503)
		st, err := sim.sync.Sync(ctx, user)
		if err != nil || st.State != storage.SyncFailed || st.Error == nil || !strings.Contains(*st.Error, "503") || st.Missing != 0 {
			t.Fatalf("sync while Evotor fails: %+v %v", st, err)
		}
		stores, _ := e.store.OwnedStores(ctx, user)
		devices, _ := e.store.OwnedDevices(ctx, user)
		if len(stores) != 1 || stores[0].MissingSince != nil || len(devices) != 1 || devices[0].MissingSince != nil {
			t.Fatalf("marked after a failed sync: %+v %+v", stores, devices)
		}
		if _, valid, _ := e.store.CloudTokenValid(ctx, user); !valid {
			t.Fatal("a 503 marked the cloud token")
		}
		sim.srv.FailNext(0, 0)
		if st, _ = sim.sync.Sync(ctx, user); st.State != storage.SyncSucceeded || st.Changed != 4 {
			t.Fatalf("the next sync: %+v", st)
		}
		sim.sameInventory(t, e, user)
	})
}

// TestReconciliationFollowsEvotorsEdits: what Evotor changes without a webhook reaching us is
// Evotor's state after a sync — a member Evotor no longer sends clears its column (it is not
// kept from the webhook), and a store Evotor no longer has is marked with every product in it
// (none deleted).
func TestReconciliationFollowsEvotorsEdits(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		e := newEnv(t, b)
		sim := newEvotorSim(t, e)
		const user = "01-000000000000038"
		sim.lifecycle(t, e, user, func(string) bool { return false })
		m := sim.srv.Model()
		store := m.StoreIDs(user)[0]

		// The merchant clears a product's cost price in Evotor; no webhook tells us.
		product := m.Records(user, restsim.KindProduct, store)[0]
		var members map[string]json.RawMessage
		if err := json.Unmarshal(product.Webhook, &members); err != nil || members["costPrice"] == nil {
			t.Fatalf("the lifecycle's product has no cost price to clear: %s", product.Webhook)
		}
		delete(members, "costPrice")
		edited, _ := json.Marshal(members)
		if err := m.PutProducts(user, store, []byte("["+string(edited)+"]")); err != nil {
			t.Fatal(err)
		}
		if st, _ := sim.sync.Sync(ctx, user); st.State != storage.SyncSucceeded || st.Changed != 1 || st.Missing != 0 {
			t.Fatalf("sync after the edit: %+v", st)
		}
		sim.sameInventory(t, e, user) // the product's cost price is nil, as the edited webhook makes it

		// The merchant deletes the store.
		want := len(m.Records(user, restsim.KindProduct, store)) + len(m.Records(user, restsim.KindProductGroup, store))
		if !m.Remove(user, restsim.KindStore, "", store) {
			t.Fatal("the simulator had no such store")
		}
		if st, _ := sim.sync.Sync(ctx, user); st.State != storage.SyncSucceeded || st.Missing != int64(1+want) || st.Changed != 0 {
			t.Fatalf("sync after the store was deleted: %+v, want %d marked", st, 1+want)
		}
		stores, _ := e.store.OwnedStores(ctx, user)
		products, _ := e.store.StoreProducts(ctx, user, evotor.CanonicalID(store))
		if len(stores) != 1 || stores[0].MissingSince == nil || len(products) != want {
			t.Fatalf("after the store was deleted: stores %+v, %d products (want %d kept)", stores, len(products), want)
		}
		for _, p := range products {
			if p.MissingSince == nil {
				t.Errorf("product %s of the deleted store is not marked", p.UUID)
			}
		}
		if st, _ := sim.sync.Sync(ctx, user); st.Missing != 0 || st.Changed != 0 {
			t.Fatalf("a third sync marked or changed again: %+v", st)
		}
	})
}
