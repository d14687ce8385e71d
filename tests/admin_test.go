package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/evotor-partner/evotor-partner/cmd/evotor-cloud/cloud"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/evotor-partner/evotor-partner/generated"
	"github.com/evotor-partner/evotor-partner/impl"
)

const adminToken = "admin-token-for-tests-0123456789"

func withAdmin(c *impl.APIConfig) { c.AdminToken = adminToken }

// decodeNumbers decodes JSON keeping numbers as written, so "1.000" compares as 1.000.
func decodeNumbers(t testing.TB, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return v
}

// adminList reads one page of a listing through the generated client.
func (e *env) adminList(kind, userID, store string, limit int, cursor string) ([]any, string) {
	e.t.Helper()
	c := e.client.ClientInterface.(*generated.Client)
	ctx, ed := context.Background(), auth(bearer(adminToken))
	var cur *string
	if cursor != "" {
		cur = &cursor
	}
	var res *http.Response
	var err error
	switch kind {
	case "stores":
		res, err = c.AdminListStores(ctx, userID, &generated.AdminListStoresParams{Limit: &limit, Cursor: cur}, ed)
	case "devices":
		res, err = c.AdminListDevices(ctx, userID, &generated.AdminListDevicesParams{Limit: &limit, Cursor: cur}, ed)
	case "employees":
		res, err = c.AdminListEmployees(ctx, userID, &generated.AdminListEmployeesParams{Limit: &limit, Cursor: cur}, ed)
	case "products":
		res, err = c.AdminListProducts(ctx, userID, store, &generated.AdminListProductsParams{Limit: &limit, Cursor: cur}, ed)
	case "documents":
		res, err = c.AdminListDocuments(ctx, userID, store, &generated.AdminListDocumentsParams{Limit: &limit, Cursor: cur}, ed)
	case "receipts":
		res, err = c.AdminListReceipts(ctx, userID, &generated.AdminListReceiptsParams{Limit: &limit, Cursor: cur}, ed)
	case "events":
		res, err = c.AdminListEvents(ctx, userID, &generated.AdminListEventsParams{Limit: &limit, Cursor: cur}, ed)
	default:
		e.t.Fatalf("no listing %s", kind)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(res.Body)
	if res.StatusCode != 200 {
		e.t.Fatalf("admin %s: %d %s", kind, res.StatusCode, buf.Bytes())
	}
	page := decodeNumbers(e.t, buf.Bytes()).(map[string]any)
	next, _ := page["nextCursor"].(string)
	return page["items"].([]any), next
}

// adminEventBody reads one stored delivery's body through the generated client: the bytes as
// answered.
func (e *env) adminEventBody(userID string, event any) []byte {
	e.t.Helper()
	id, err := event.(map[string]any)["id"].(json.Number).Int64()
	if err != nil {
		e.t.Fatalf("event id: %v (%v)", err, event)
	}
	res, err := e.client.AdminGetEventBodyWithResponse(context.Background(), userID, id, auth(bearer(adminToken)))
	if err != nil || res.StatusCode() != 200 || res.HTTPResponse.Header.Get("Content-Type") != "application/json" {
		e.t.Fatalf("event %d's body: %v %d %s", id, err, res.StatusCode(), res.Body)
	}
	return res.Body
}

// adminAll reads every page of a listing.
func (e *env) adminAll(kind, userID, store string) []any {
	var all []any
	cursor := ""
	for {
		items, next := e.adminList(kind, userID, store, 500, cursor)
		all = append(all, items...)
		if next == "" {
			return all
		}
		cursor = next
	}
}

// listingOf says where a notification fixture's objects are read back.
var listingOf = map[string]string{
	"createProducts": "products", "putDocuments": "documents", "putDevices": "devices",
	"putEmployees": "employees", "putStores": "stores", "postReceipts": "receipts",
}

// TestEveryFixtureReadsBackAsSent: every notification fixture, read back through the admin
// API, returns each object exactly as sent (field by field, numbers as written); every event
// fixture is in the user's inbox byte for byte and reflected in the user's state.
func TestEveryFixtureReadsBackAsSent(t *testing.T) {
	t.Parallel() // on databases of its own: runs beside the others
	entries, _ := readFixtureNames(t)
	eachBackend(t, func(t *testing.T, b backend) {
		for _, name := range entries {
			o := fixtureOperation(t, name)
			if o.Credential != cloud.UserCredential && o.ID != "subscriptionEvent" && o.ID != "installationEvent" {
				continue
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel() // each on a database of its own
				e := newEnv(t, b, withAdmin)
				const user = "01-000000000000001"
				token := e.createUser(user)
				body := fixture(t, name)
				credential := bearer(appToken)
				if o.Credential == cloud.UserCredential {
					credential = bearer(token)
				}
				if status, resp := e.send(o, body, credential); status != 200 {
					t.Fatalf("%d %s", status, resp)
				}
				if o.Credential != cloud.UserCredential {
					about := user // the user the event is about
					ev := decodeNumbers(t, body).(map[string]any)
					if u, ok := ev["userId"].(string); ok {
						about = u
					} else if d, ok := ev["data"].(map[string]any); ok {
						about, _ = d["userId"].(string)
					}
					events, _ := e.adminList("events", about, "", 10, "")
					if got := e.adminEventBody(about, events[0]); !bytes.Equal(got, body) {
						t.Fatalf("inbox body differs: %s", got)
					}
					res, err := e.client.AdminGetUserWithResponse(context.Background(), about, auth(bearer(adminToken)))
					if err != nil || res.JSON200 == nil || len(res.JSON200.Subscriptions)+len(res.JSON200.Installations) == 0 {
						t.Fatalf("user state: %v %s", err, res.Body)
					}
					return
				}
				sent := decodeNumbers(t, body)
				list, ok := sent.([]any)
				if !ok {
					list = []any{sent}
				}
				stored := e.adminAll(listingOf[o.ID], user, storeUUID)
				byKey := map[string]any{}
				for _, item := range stored {
					m := item.(map[string]any)
					key, _ := m["uuid"].(string)
					if key == "" {
						key, _ = m["id"].(string)
					}
					byKey[strings.ToLower(key)] = item
				}
				for _, item := range list {
					m := item.(map[string]any)
					key, _ := m["uuid"].(string)
					if key == "" {
						key, _ = m["id"].(string)
					}
					if !reflect.DeepEqual(byKey[strings.ToLower(key)], item) {
						t.Fatalf("%s read back as %v\nsent %v", key, byKey[strings.ToLower(key)], item)
					}
				}
			})
		}
	})
}

func TestAdminPaginationAndEvents(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, withAdmin)
		const user = "01-000000000000001"
		token := bearer(e.createUser(user))
		body := catalogue(560_000)
		want := strings.Count(string(body), `"uuid"`)
		if status, resp := e.send(opByID(t, "createProducts"), body, token); status != 200 || want < 1001 {
			t.Fatalf("%d %s (%d products)", status, resp, want)
		}
		seen, pages, cursor, last := map[string]bool{}, 0, "", ""
		for {
			items, next := e.adminList("products", user, strings.ToLower(storeUUID), 500, cursor)
			pages++
			for _, it := range items {
				id := strings.ToLower(it.(map[string]any)["uuid"].(string))
				if seen[id] || id <= last {
					t.Fatalf("page %d: %s repeated or out of order", pages, id)
				}
				seen[id], last = true, id
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if len(seen) != want || pages != (want+499)/500 {
			t.Fatalf("%d products over %d pages, want %d", len(seen), pages, want)
		}
		// The inbox, newest first, two at a time.
		for i := 0; i < 4; i++ {
			e.send(opByID(t, "putDevices"), fmt.Appendf(nil, `[{"uuid":"20991231-0000-4000-8000-%012d"}]`, i), token)
		}
		var ids []float64
		cursor = ""
		for {
			items, next := e.adminList("events", user, "", 2, cursor)
			for _, it := range items {
				n, _ := it.(map[string]any)["id"].(json.Number).Float64()
				ids = append(ids, n)
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if len(ids) != 5 {
			t.Fatalf("%d events, want 5", len(ids))
		}
		// A listing carries each body's size, never the body (a page of 10 MB bodies would be
		// held at once); the body comes on its own request, byte for byte, to its user only.
		events, _ := e.adminList("events", user, "", 10, "")
		catalogueEvent := events[len(events)-1].(map[string]any)
		if _, has := catalogueEvent["body"]; has {
			t.Fatal("the listing holds bodies")
		}
		if n, _ := catalogueEvent["bodyBytes"].(json.Number).Int64(); n != int64(len(body)) {
			t.Fatalf("bodyBytes %d, want %d", n, len(body))
		}
		if got := e.adminEventBody(user, catalogueEvent); !bytes.Equal(got, body) {
			t.Fatalf("the catalogue's body: %d bytes, sent %d", len(got), len(body))
		}
		catalogueID, _ := catalogueEvent["id"].(json.Number).Int64()
		for _, ask := range []struct {
			user string
			id   int64
		}{{"01-000000000000002", catalogueID}, {user, catalogueID + 1000}} {
			res, err := e.client.AdminGetEventBodyWithResponse(context.Background(), ask.user, ask.id, auth(bearer(adminToken)))
			if err != nil {
				t.Fatal(err)
			}
			expectError(t, res.StatusCode(), res.Body, 404, 404, "eventId")
		}
		for i := 1; i < len(ids); i++ {
			if ids[i] >= ids[i-1] {
				t.Fatalf("events not newest first: %v", ids)
			}
		}
		res, _ := e.client.AdminListStoresWithResponse(context.Background(), user, &generated.AdminListStoresParams{Cursor: ptr("%%%")}, auth(bearer(adminToken)))
		expectError(t, res.StatusCode(), res.Body, 400, 2003, "cursor")
	})
}

func ptr[T any](v T) *T { return &v }

func TestAdminAccountsAndAccess(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, withAdmin)
		res, err := e.client.AdminCreateAccountWithResponse(context.Background(),
			generated.NewAccount{Login: "shop", Password: "pw-12345", HasBilling: ptr(true)}, auth(bearer(adminToken)))
		if err != nil || res.JSON200 == nil || res.JSON200.Login != "shop" {
			t.Fatalf("%v %s", err, res.Body)
		}
		if v := e.verify("01-000000000000001", "shop", "pw-12345"); v.JSON200 == nil || !v.JSON200.HasBilling {
			t.Fatalf("verify against the API-created account: %s", v.Body)
		}
		again, _ := e.client.AdminCreateAccountWithResponse(context.Background(),
			generated.NewAccount{Login: "SHOP", Password: "x"}, auth(bearer(adminToken)))
		expectError(t, again.StatusCode(), again.Body, 409, 2005, "login")
		user, _ := e.client.AdminGetUserWithResponse(context.Background(), "01-000000000000001", auth(bearer(adminToken)))
		if user.JSON200 == nil || user.JSON200.Account == nil || *user.JSON200.Account.Login != "shop" || user.JSON200.HasCloudToken {
			t.Fatalf("user: %s", user.Body)
		}
		for _, h := range []string{"", bearer("wrong-admin-token-0123456789"), bearer(appToken)} {
			r, _ := e.client.AdminGetUserWithResponse(context.Background(), "01-000000000000001", auth(h))
			expectError(t, r.StatusCode(), r.Body, 401, 401, "")
		}
		unknown, _ := e.client.AdminGetUserWithResponse(context.Background(), "01-000000000000099", auth(bearer(adminToken)))
		expectError(t, unknown.StatusCode(), unknown.Body, 404, 404, "")

		off := newEnv(t, b) // no admin token configured
		r, _ := off.client.AdminGetUserWithResponse(context.Background(), "01-000000000000001", auth(bearer(adminToken)))
		expectError(t, r.StatusCode(), r.Body, 404, 404, "")
	})
}

func TestCommodityLookup(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		owner, other := e.createUser("01-000000000000001"), e.createUser("01-000000000000002")
		if status, resp := e.send(opByID(t, "createProducts"), fixture(t, "products_create.json"), bearer(owner)); status != 200 {
			t.Fatalf("%d %s", status, resp)
		}
		find := func(token, scan string, alc *string) *generated.FindCommodityResponse {
			res, err := e.client.FindCommodityWithResponse(context.Background(), &generated.FindCommodityParams{ScanCode: scan, AlcCode: alc}, auth(bearer(token)))
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		got := find(owner, "2000000000060", ptr("0000000000000000001"))
		if got.JSON200 == nil || *got.JSON200.Name != "Сидр" || *got.JSON200.Measure != "шт" || *got.JSON200.AlcoholByVolume != 5.45 ||
			(*got.JSON200.ScanCodes)[0] != "2000000000060" {
			t.Fatalf("%d %s", got.StatusCode(), got.Body)
		}
		for _, miss := range []*generated.FindCommodityResponse{
			find(owner, "2000000000060", ptr("9999")), // alcohol code differs
			find(owner, "4600000000000", nil),         // no such barcode
			find(other, "2000000000060", nil),         // another user's product
		} {
			if miss.StatusCode() != 404 || string(miss.Body) != "{}\n" {
				t.Fatalf("%d %s", miss.StatusCode(), miss.Body)
			}
		}
		r, _ := e.client.FindCommodityWithResponse(context.Background(), &generated.FindCommodityParams{ScanCode: "2000000000060"}, auth(bearer(appToken)))
		expectError(t, r.StatusCode(), r.Body, 401, 1002, "")
	})
}
