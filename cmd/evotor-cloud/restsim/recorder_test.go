package restsim

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evotor-partner/evotor-partner/cmd/evotor-cloud/cloud"
	"github.com/evotor-partner/evotor-partner/impl/evotorapi"
)

// fakePartner answers every webhook 200 (user/create with a user token) and notes what it got.
type fakePartner struct {
	mu         sync.Mutex
	paths      []string
	cloudToken string
}

func (p *fakePartner) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	p.paths = append(p.paths, r.URL.Path)
	p.mu.Unlock()
	var in struct{ UserID, Token string }
	_ = json.Unmarshal(body, &in)
	switch {
	case strings.HasSuffix(r.URL.Path, "/user/create"):
		_ = json.NewEncoder(w).Encode(map[string]string{"userId": in.UserID, "token": "user-token-of-" + in.UserID})
	case strings.HasSuffix(r.URL.Path, "/user/token"):
		p.mu.Lock()
		p.cloudToken = in.Token
		p.mu.Unlock()
	}
}

func (p *fakePartner) got(suffix string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.ContainsFunc(p.paths, func(s string) bool { return strings.HasSuffix(s, suffix) })
}

// lifecycle plays cloud's lifecycle scenario for user1 against a fake partner (under a path
// prefix), its HTTP client wrapped by rec.
func lifecycle(t *testing.T, rec *Recorder) *fakePartner {
	t.Helper()
	partner := &fakePartner{}
	hs := httptest.NewServer(http.StripPrefix("/partner", partner))
	t.Cleanup(hs.Close)
	c, err := cloud.New(cloud.Config{Target: hs.URL + "/partner", AppAuth: "Bearer app-token", Timeout: 5 * time.Second, Doer: rec.Doer(nil)})
	must(t, err)
	rep := c.Lifecycle(context.Background(), cloud.LifecycleOptions{UserID: user1})
	if !rep.OK {
		t.Fatalf("the lifecycle failed: %+v", rep.Steps)
	}
	return partner
}

func TestTheAPIServesWhatTheWebhooksToldAndWhatTheyMissed(t *testing.T) {
	s := newSim(t, Config{PageSize: 2})
	m := s.srv.Model()
	rec := &Recorder{Model: m, Tokens: s.srv.Tokens(),
		Drop: func(op string) bool { return op == "putDevices" || op == "createProducts" }}
	partner := lifecycle(t, rec)

	if partner.got("/inventories/devices") || partner.got("/products") || !partner.got("/inventories/stores") || !partner.got("/documents") {
		t.Fatalf("the partner got %v: the devices and products should have been dropped", partner.paths)
	}
	if rec.Dropped() != 2 || rec.Unattributed() != 0 {
		t.Fatalf("dropped %d, unattributed %d", rec.Dropped(), rec.Unattributed())
	}
	token, ok := s.srv.Tokens().Token(user1)
	if !ok || token != partner.cloudToken {
		t.Fatalf("the cloud token is not the one user/token sent (%q, %q)", token, partner.cloudToken)
	}
	stores := m.StoreIDs(user1)
	if len(stores) != 1 {
		t.Fatalf("stores %v", stores)
	}
	store := stores[0]
	// a document Evotor has and never sent at all
	must(t, m.PutDocuments(user1, store, []byte(`[{"uuid":"never-sent","type":"PAYBACK","closeDate":"2026-01-01T00:00:00.000+0000"}]`)))

	api := s.session(token)
	ctx := context.Background()
	if got := all(t, api.Stores(ctx)); len(got) != 1 || got[0].ID != store {
		t.Fatalf("stores %v", ids(got))
	}
	devices := all(t, api.Devices(ctx, evotorapi.StoreFilter{}))
	if len(devices) != 1 || *devices[0].Value.StoreId != store {
		t.Fatalf("the dropped devices webhook's terminal is not served: %v", ids(devices))
	}
	if got := all(t, api.Employees(ctx, evotorapi.StoreFilter{StoreID: store})); len(got) != 1 {
		t.Fatalf("employees %v", ids(got))
	}
	if got := all(t, api.Products(ctx, store, evotorapi.ProductFilter{})); len(got) != 3 {
		t.Fatalf("the dropped products webhook's products: %v", ids(got))
	}
	if got := all(t, api.ProductGroups(ctx, store)); len(got) != 1 {
		t.Fatalf("the dropped products webhook's group: %v", ids(got))
	}
	docs := ids(all(t, api.StoreDocuments(ctx, store, evotorapi.DocumentFilter{})))
	if len(docs) != 2 || docs[1] != "never-sent" {
		t.Fatalf("documents %v", docs)
	}
	for _, r := range m.Records(user1, KindProduct, store) {
		if !strings.Contains(string(r.Webhook), `"barCodes"`) || !strings.Contains(string(r.JSON), `"barcodes"`) {
			t.Fatalf("a recorded product keeps the webhook's item and the API's shape: %+v", r)
		}
	}
}

func TestUninstallRevokesTheCloudTokenWhenAsked(t *testing.T) {
	s := newSim(t, Config{})
	rec := &Recorder{Model: s.srv.Model(), Tokens: s.srv.Tokens(), RevokeOnUninstall: true}
	partner := lifecycle(t, rec)
	if _, ok := s.srv.Tokens().Token(user1); ok {
		t.Fatal("the token outlived ApplicationUninstalled")
	}
	if _, err := s.session(partner.cloudToken).Store(context.Background(), "any"); !errors.Is(err, evotorapi.ErrTokenInvalid) {
		t.Fatalf("after the uninstall: %v", err)
	}
	if len(s.srv.Model().Records(user1, KindStore, "")) != 1 {
		t.Fatal("the records are kept (Evotor keeps them)")
	}
}

func TestWebhooksAreKnownByThePartnerContractsPaths(t *testing.T) {
	for _, c := range []struct{ method, path, op, store string }{
		{"POST", "/api/v1/user/create", "createUser", ""},
		{"PUT", "/prefix/api/v1/inventories/stores", "putStores", ""},
		{"POST", "/api/v1/inventories/stores/20170228-F4F1-401B-80FA-9ECCA8451FFB/products", "createProducts", "20170228-F4F1-401B-80FA-9ECCA8451FFB"},
		{"PUT", "/api/v1/inventories/stores/a%2Fb/documents", "putDocuments", "a/b"},
		{"PUT", "/api/v1/inventories/stores/x/products", "", ""}, // products are POSTed
		{"GET", "/api/v1/commodities", "", ""},
	} {
		u, _ := url.Parse("http://partner" + c.path)
		if op, store := webhookOf(c.method, u); op != c.op || store != c.store {
			t.Errorf("%s %s: %q %q, want %q %q", c.method, c.path, op, store, c.op, c.store)
		}
	}
	if len(webhookPaths()) != len(recorded) {
		t.Fatalf("%d of the %d webhooks found in the partner contract", len(webhookPaths()), len(recorded))
	}
}

// Evotor's real payloads (tests/testdata/evotor/requests), recorded as their webhooks, are
// served as the contract says (every answer is checked) and read by the client without a
// field that does not fit.
func TestRealPayloadsAreServedAsTheContractSays(t *testing.T) {
	s := newSim(t, Config{PageSize: 7})
	m := s.srv.Model()
	const store = "20170228-F4F1-401B-80FA-9ECCA8451FFB"
	recorded, err := m.PutRequestFiles(user1, store, "../../../tests/testdata/evotor/requests")
	must(t, err)
	if recorded < 10 {
		t.Fatalf("only %d files recorded", recorded)
	}
	api := s.user(user1, "cloud-token-1")
	ctx := context.Background()
	counts := map[string]int{"stores": len(all(t, api.Stores(ctx))), "devices": len(all(t, api.Devices(ctx, evotorapi.StoreFilter{}))),
		"employees": len(all(t, api.Employees(ctx, evotorapi.StoreFilter{})))}
	for _, st := range m.StoreIDs(user1) {
		counts["products"] += len(all(t, api.Products(ctx, st, evotorapi.ProductFilter{})))
		counts["groups"] += len(all(t, api.ProductGroups(ctx, st)))
		for _, d := range all(t, api.StoreDocuments(ctx, st, evotorapi.DocumentFilter{})) {
			counts["documents"]++
			one, err := api.Document(ctx, st, d.ID)
			if err != nil || one.Mismatch != nil || one.Value.Body == nil {
				t.Errorf("document %s: %v %v %s", d.ID, err, one.Mismatch, one.Raw)
			}
		}
	}
	for kind, n := range counts {
		if n == 0 {
			t.Errorf("no %s served", kind)
		}
	}
	t.Logf("served %v", counts)
}
