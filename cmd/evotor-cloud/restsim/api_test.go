package restsim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evotor-partner/evotor-partner/impl/evotorapi"
)

const user1 = "01-000000000000001"

// aUser is user1 with 5 stores, 7 terminals, 6 employees, a catalogue of 2 groups and 9
// products in each of the first two stores, and 5 documents in the first: every list spans
// several pages of 2.
func aUser(t *testing.T, m *Model) {
	must(t, m.PutStores(user1, array(5, func(i int) string {
		return fmt.Sprintf(`{"uuid":%q,"name":"Магазин %d","address":"Москва","code":null}`, storeID(i), i)
	})))
	must(t, m.PutDevices(user1, array(7, func(i int) string {
		return fmt.Sprintf(`{"uuid":%q,"name":"Касса %d","storeUuid":%q,"timezoneOffset":10800000}`, deviceID(i), i, storeID(i%2))
	})))
	must(t, m.PutEmployees(user1, array(6, func(i int) string {
		// the second store named in lower case, as Evotor sometimes writes a uuid
		return fmt.Sprintf(`{"uuid":"e%d","name":"Иван","lastName":"Иванов","phone":7987654321%d,"stores":[%q],"role":"CASHIER"}`,
			i, i, strings.ToLower(storeID(i%2)))
	})))
	for s := range 2 {
		must(t, m.PutProducts(user1, storeID(s), array(11, func(i int) string {
			if i < 2 {
				return fmt.Sprintf(`{"uuid":"g%d-%d","name":"Группа","group":true,"hasVariants":false,"parentUuid":null}`, s, i)
			}
			return fmt.Sprintf(`{"uuid":"p%d-%d","code":"%d","barCodes":["46%011d"],"name":"Сидр","price":123.12,"quantity":"12.000",`+
				`"costPrice":100.123,"measureName":"шт","tax":"VAT_20","allowToSell":true,"parentUuid":"g%d-0","group":false,"type":"NORMAL"}`,
				s, i, i, i, s)
		})))
	}
	must(t, m.PutDocuments(user1, storeID(0), array(5, func(i int) string {
		return fmt.Sprintf(`{"type":"SELL","uuid":"d%d","extras":{},"number":%d,"closeSum":"246.24","openDate":"2025-12-01T10:00:00.000+0000",`+
			`"closeDate":"2025-12-0%dT10:00:00.000+0000","deviceUuid":%q,"sessionUUID":"s1","closeUserUuid":"e0","sessionNumber":"1",`+
			`"transactions":[{"id":"23","type":"DOCUMENT_OPEN"}]}`, i, i, i+1, deviceID(i%2))
	})))
}

func TestEveryRecordIsListedAcrossPages(t *testing.T) {
	s, api := withUser1(t, Config{PageSize: 2})
	m := s.srv.Model()
	ctx := context.Background()

	stores := all(t, api.Stores(ctx))
	if got, want := ids(stores), recordIDs(m.Records(user1, KindStore, "")); !slices.Equal(got, want) || len(got) != 5 {
		t.Fatalf("stores %v, want %v", got, want)
	}
	for i, st := range stores {
		if r := m.Records(user1, KindStore, "")[i]; string(st.Raw) != string(r.JSON) {
			t.Fatalf("store served as %s, held as %s", st.Raw, r.JSON)
		}
		if *st.Value.Name != fmt.Sprintf("Магазин %d", i) || *st.Value.UserId != user1 {
			t.Fatalf("store %d: %s", i, st.Raw)
		}
	}
	if !strings.Contains(string(stores[0].Raw), `"code":null`) {
		t.Fatalf("a field the contract does not name was not kept: %s", stores[0].Raw)
	}

	devices := all(t, api.Devices(ctx, evotorapi.StoreFilter{}))
	if got := ids(devices); !slices.Equal(got, recordIDs(m.Records(user1, KindDevice, ""))) || len(got) != 7 {
		t.Fatalf("devices %v", got)
	}
	if d := devices[1].Value; *d.StoreId != storeID(1) || *d.Name != "Касса 1" {
		t.Fatalf("device in the API's shape: %s", devices[1].Raw)
	}
	if n, _ := evotorapi.Number(devices[0].Value.TimezoneOffset); n != 10800000 {
		t.Fatalf("timezone_offset: %s", devices[0].Raw)
	}

	employees := all(t, api.Employees(ctx, evotorapi.StoreFilter{}))
	if got := ids(employees); !slices.Equal(got, []string{"e0", "e1", "e2", "e3", "e4", "e5"}) {
		t.Fatalf("employees %v", got)
	}
	if e := employees[0].Value; *e.LastName != "Иванов" || len(*e.Stores) != 1 {
		t.Fatalf("employee in the API's shape: %s", employees[0].Raw)
	}

	for st := range 2 {
		products := all(t, api.Products(ctx, storeID(st), evotorapi.ProductFilter{}))
		if got := ids(products); len(got) != 9 || got[0] != fmt.Sprintf("p%d-2", st) {
			t.Fatalf("store %d: products %v", st, got)
		}
		p := products[0].Value
		if *p.StoreId != storeID(st) || (*p.Barcodes)[0] != "4600000000002" || *p.MeasureName != "шт" || *p.ParentId != fmt.Sprintf("g%d-0", st) {
			t.Fatalf("product in the API's shape: %s", products[0].Raw)
		}
		if cost, _ := evotorapi.Text(p.CostPrice); cost != "100.123" {
			t.Fatalf("cost_price %q", cost)
		}
		groups := all(t, api.ProductGroups(ctx, storeID(st)))
		if got := ids(groups); !slices.Equal(got, []string{fmt.Sprintf("g%d-0", st), fmt.Sprintf("g%d-1", st)}) {
			t.Fatalf("store %d: groups %v", st, got)
		}
	}
	if products := all(t, api.Products(ctx, storeID(4), evotorapi.ProductFilter{})); len(products) != 0 {
		t.Fatalf("a store without products lists %d", len(products))
	}

	docs := all(t, api.StoreDocuments(ctx, storeID(0), evotorapi.DocumentFilter{}))
	if got := ids(docs); !slices.Equal(got, []string{"d0", "d1", "d2", "d3", "d4"}) {
		t.Fatalf("documents %v", got)
	}
	if strings.Contains(string(docs[0].Raw), `"body"`) || *docs[0].Value.DeviceId != deviceID(0) || *docs[0].Value.SessionId != "s1" {
		t.Fatalf("a listed document: %s", docs[0].Raw)
	}
	one, err := api.Document(ctx, storeID(0), "d1")
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(*one.Value.Body, &body); err != nil || body["closeSum"] != "246.24" || body["transactions"] == nil {
		t.Fatalf("a document's body keeps what the webhook carried besides the header: %s", one.Raw)
	}

	if got := s.srv.Stats().ByStatus[http.StatusOK]; got < 3+4+3+2*(5+1)+1+3+1 {
		t.Fatalf("%d pages answered: the lists were not paged by 2", got)
	}
}

func TestOneRecordAndNotFound(t *testing.T) {
	s, api := withUser1(t, Config{})
	ctx := context.Background()
	// uuid-shaped ids are the same in either case
	if st, err := api.Store(ctx, strings.ToLower(storeID(3))); err != nil || st.ID != storeID(3) {
		t.Fatalf("store: %+v, %v", st, err)
	}
	if d, err := api.Device(ctx, deviceID(2)); err != nil || *d.Value.StoreId != storeID(0) {
		t.Fatalf("device: %v", err)
	}
	if e, err := api.Employee(ctx, "e3"); err != nil || e.ID != "e3" {
		t.Fatalf("employee: %v", err)
	}
	if p, err := api.Product(ctx, storeID(1), "p1-5"); err != nil || *p.Value.Name != "Сидр" {
		t.Fatalf("product: %v", err)
	}
	if g, err := api.ProductGroup(ctx, storeID(1), "g1-1"); err != nil || g.ID != "g1-1" {
		t.Fatalf("group: %v", err)
	}
	for name, err := range map[string]error{
		"store":          second(api.Store(ctx, "nope")),
		"device":         second(api.Device(ctx, "nope")),
		"employee":       second(api.Employee(ctx, "nope")),
		"product":        second(api.Product(ctx, storeID(0), "p1-5")), // another store's
		"product, store": second(api.Product(ctx, "nope", "p0-2")),
		"document":       second(api.Document(ctx, storeID(1), "d1")),
	} {
		if !errors.Is(err, evotorapi.ErrNotFound) {
			t.Errorf("%s: %v, want 404", name, err)
		}
	}
	for _, err := range api.Products(ctx, "nope", evotorapi.ProductFilter{}) {
		if !errors.Is(err, evotorapi.ErrNotFound) {
			t.Fatalf("products of an unknown store: %v", err)
		}
	}
	// another user's token sees nothing of user1's
	other := s.user("01-000000000000002", "cloud-token-2")
	if got := all(t, other.Stores(ctx)); len(got) != 0 {
		t.Fatalf("another user sees %d stores", len(got))
	}
	if _, err := other.Store(ctx, storeID(0)); !errors.Is(err, evotorapi.ErrNotFound) {
		t.Fatalf("another user's store: %v", err)
	}
}

func second[T any](_ T, err error) error { return err }

func TestFiltersAndCursors(t *testing.T) {
	now := time.Date(2026, 12, 10, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s, api := withUser1(t, Config{PageSize: 2, Now: clock, Model: NewModel(clock)})
	m := s.srv.Model()
	ctx := context.Background()

	if got := ids(all(t, api.Devices(ctx, evotorapi.StoreFilter{StoreID: storeID(1)}))); !slices.Equal(got, []string{deviceID(1), deviceID(3), deviceID(5)}) {
		t.Fatalf("devices of store 1: %v", got)
	}
	if got := ids(all(t, api.Employees(ctx, evotorapi.StoreFilter{StoreID: storeID(1)}))); !slices.Equal(got, []string{"e1", "e3", "e5"}) {
		t.Fatalf("employees of store 1 (named in lower case): %v", got)
	}
	docs := func(f evotorapi.DocumentFilter) []string { return ids(all(t, api.StoreDocuments(ctx, storeID(0), f))) }
	if got := docs(evotorapi.DocumentFilter{Since: time.Date(2025, 12, 2, 10, 0, 0, 0, time.UTC), Until: time.Date(2025, 12, 4, 10, 0, 0, 0, time.UTC)}); !slices.Equal(got, []string{"d1", "d2"}) {
		t.Fatalf("documents made in [2nd, 4th): %v", got)
	}
	if got := docs(evotorapi.DocumentFilter{Types: []string{"PAYBACK"}}); len(got) != 0 {
		t.Fatalf("PAYBACK documents: %v", got)
	}
	if got := ids(all(t, api.DeviceDocuments(ctx, storeID(0), deviceID(1), evotorapi.DocumentFilter{}))); !slices.Equal(got, []string{"d1", "d3"}) {
		t.Fatalf("documents of terminal 1: %v", got)
	}

	// products changed since: one edited an hour later
	now = now.Add(time.Hour)
	must(t, m.PutProducts(user1, storeID(0), []byte(`[{"uuid":"p0-4","name":"Сидр грушевый","price":150}]`)))
	if got := ids(all(t, api.Products(ctx, storeID(0), evotorapi.ProductFilter{Since: now}))); !slices.Equal(got, []string{"p0-4"}) {
		t.Fatalf("products changed since: %v", got)
	}

	// a record added while paging is not lost, and none is listed twice
	var seen []string
	for it, err := range api.Stores(ctx) {
		must(t, err)
		seen = append(seen, it.ID)
		if len(seen) == 1 {
			must(t, m.PutStores(user1, []byte(`[{"uuid":"late","name":"Новый"}]`)))
			m.Remove(user1, KindStore, "", storeID(4))
		}
	}
	if want := []string{storeID(0), storeID(1), storeID(2), storeID(3), "late"}; !slices.Equal(seen, want) {
		t.Fatalf("stores while they changed: %v, want %v", seen, want)
	}

	// cursors are the API's own, for one list
	first := s.do("GET", "/stores/"+storeID(0)+"/products", "", "Accept", MediaType, "Authorization", "Bearer cloud-token-1")
	var page struct {
		Paging struct {
			NextCursor string `json:"next_cursor"`
		}
	}
	must(t, json.NewDecoder(first.Body).Decode(&page))
	if page.Paging.NextCursor == "" {
		t.Fatal("no next_cursor on a first page of 2")
	}
	for name, path := range map[string]string{
		"another store's list": "/stores/" + storeID(1) + "/products?cursor=" + urlEscape(page.Paging.NextCursor),
		"another kind's list":  "/stores?cursor=" + urlEscape(page.Paging.NextCursor),
		"not a cursor":         "/stores?cursor=abc",
	} {
		resp := s.do("GET", path, "", "Accept", MediaType, "Authorization", "Bearer cloud-token-1")
		if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 400 || !strings.Contains(string(b), `"subject":"cursor"`) {
			t.Errorf("%s: %d %s", name, resp.StatusCode, b)
		}
	}
}

func urlEscape(s string) string {
	return strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(s)
}

func TestRevokedOrReplacedTokensAreInvalid(t *testing.T) {
	s := newSim(t, Config{})
	aUser(t, s.srv.Model())
	ctx := context.Background()
	api := s.user(user1, "cloud-token-1")
	if _, err := api.Store(ctx, storeID(0)); err != nil {
		t.Fatal(err)
	}
	s.srv.Tokens().Revoke(user1)
	_, err := api.Store(ctx, storeID(0))
	if !errors.Is(err, evotorapi.ErrTokenInvalid) {
		t.Fatalf("after revoking: %v, want ErrTokenInvalid", err)
	}
	for _, err := range api.Stores(ctx) {
		if !errors.Is(err, evotorapi.ErrTokenInvalid) {
			t.Fatalf("a listing after revoking: %v", err)
		}
	}
	if strings.Contains(err.Error(), "cloud-token-1") {
		t.Fatalf("the token in an error: %v", err)
	}

	// the next user/token gives a new token; the one before it stays invalid
	fresh := s.user(user1, "cloud-token-2")
	if _, err := fresh.Store(ctx, storeID(0)); err != nil {
		t.Fatalf("the new token: %v", err)
	}
	if _, err := api.Store(ctx, storeID(0)); !errors.Is(err, evotorapi.ErrTokenInvalid) {
		t.Fatalf("the replaced token: %v", err)
	}
	if _, err := s.session("never-issued").Store(ctx, storeID(0)); !errors.Is(err, evotorapi.ErrTokenInvalid) {
		t.Fatalf("a token never issued: %v", err)
	}
	if got := s.srv.Stats().ByStatus[http.StatusUnauthorized]; got != 4 {
		t.Fatalf("%d answers 401, want 4 (a 401 is not retried)", got)
	}
}

func TestRateLimitAnswers429WithRetryAfter(t *testing.T) {
	s, _ := withUser1(t, Config{RateLimit: RateLimit{Requests: 2, Period: 400 * time.Millisecond}})
	get := func() *http.Response {
		return s.do("GET", "/stores/"+storeID(0), "", "Accept", MediaType, "Authorization", "Bearer cloud-token-1")
	}
	first := get()
	if first.StatusCode != 200 || first.Header.Get("X-RateLimit-Limit") != "2" || first.Header.Get("X-RateLimit-Remaining") != "1" {
		t.Fatalf("first: %d %v", first.StatusCode, first.Header)
	}
	get()
	refused := get()
	body, _ := io.ReadAll(refused.Body)
	h := refused.Header
	reset, _ := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64)
	if refused.StatusCode != 429 || h.Get("Retry-After") != "1" || h.Get("X-RateLimit-Remaining") != "0" ||
		time.Until(time.UnixMilli(reset)) > 400*time.Millisecond || !strings.Contains(string(body), `"code":"too_many_requests"`) {
		t.Fatalf("over the limit: %d %v %s", refused.StatusCode, h, body)
	}

	// the client waits as told and gets its answer
	before := s.srv.Stats().ByStatus[429]
	start := time.Now()
	st, err := s.session("cloud-token-1").Store(context.Background(), storeID(1))
	if err != nil || st.ID != storeID(1) {
		t.Fatalf("after a 429: %v", err)
	}
	if s.srv.Stats().ByStatus[429] != before+1 || time.Since(start) < time.Second {
		t.Fatalf("the call was not refused once and retried after Retry-After (%d refusals, %s)", s.srv.Stats().ByStatus[429]-before, time.Since(start))
	}
}

func TestFailuresOnDemandThenSuccess(t *testing.T) {
	s, api := withUser1(t, Config{PageSize: 2})
	ctx := context.Background()
	s.srv.FailNext(2, http.StatusBadGateway)
	if got := all(t, api.Stores(ctx)); len(got) != 5 {
		t.Fatalf("%d stores after two 502s", len(got))
	}
	if got := s.srv.Stats().ByStatus[http.StatusBadGateway]; got != 2 {
		t.Fatalf("%d answers 502, want 2", got)
	}
	// a create is not retried after a 5xx (it may have created): the caller sees it
	s.srv.FailNext(1, 0)
	name := "Квас"
	if _, err := api.CreateProduct(ctx, storeID(0), evotorapi.Product{Name: &name}); !errors.Is(err, evotorapi.ErrUnavailable) {
		t.Fatalf("a create answered 503: %v", err)
	}
	if got := len(s.srv.Model().Records(user1, KindProduct, storeID(0))); got != 9 {
		t.Fatalf("%d products after a failed create", got)
	}
}

func TestMediaTypeAndBearerAreRequired(t *testing.T) {
	s, _ := withUser1(t, Config{})
	bearer := "Bearer cloud-token-1"
	product := `{"name":"Квас","type":"NORMAL","price":55}`
	for _, c := range []struct {
		name, method, path, body string
		header                   []string
		status                   int
		code                     string
	}{
		{"no Accept", "GET", "/stores", "", []string{"Authorization", bearer}, 406, "not_acceptable"},
		{"Accept: application/json", "GET", "/stores", "", []string{"Accept", "application/json", "Authorization", bearer}, 406, "not_acceptable"},
		{"no Authorization", "GET", "/stores", "", []string{"Accept", MediaType}, 401, "unauthorized"},
		{"an unknown token", "GET", "/stores", "", []string{"Accept", MediaType, "Authorization", "Bearer nope"}, 401, "unauthorized"},
		{"the token without Bearer", "GET", "/stores", "", []string{"Accept", MediaType, "Authorization", "cloud-token-1"}, 401, "unauthorized"},
		{"X-Authorization (the 2018 SDK)", "GET", "/stores", "", []string{"Accept", MediaType, "X-Authorization", "cloud-token-1"}, 401, "unauthorized"},
		{"a body in application/json", "POST", "/stores/" + storeID(0) + "/products", product,
			[]string{"Accept", MediaType, "Authorization", bearer, "Content-Type", "application/json"}, 415, "unsupported_media_type"},
		{"a bulk replace in the single media type", "PUT", "/stores/" + storeID(0) + "/products", "[" + product + "]",
			[]string{"Accept", MediaType, "Authorization", bearer, "Content-Type", MediaType}, 415, "unsupported_media_type"},
		{"since not a number", "GET", "/stores/" + storeID(0) + "/products?since=yesterday", "",
			[]string{"Accept", MediaType, "Authorization", bearer}, 400, "validation_failed"},
		{"a delete without ids", "DELETE", "/stores/" + storeID(0) + "/products", "", []string{"Accept", MediaType, "Authorization", bearer}, 400, "validation_failed"},
		{"a product whose price is not a number", "POST", "/stores/" + storeID(0) + "/products", `{"name":"Квас","price":"дёшево"}`,
			[]string{"Accept", MediaType, "Authorization", bearer, "Content-Type", MediaType}, 400, "validation_failed"},
		{"an unknown path", "GET", "/receipts", "", []string{"Accept", MediaType, "Authorization", bearer}, 404, "not_found"},
		{"as the contract says", "GET", "/stores", "", []string{"Accept", "application/vnd.evotor.v2+json; charset=utf-8", "Authorization", "bearer cloud-token-1"}, 200, ""},
		{"a single create", "POST", "/stores/" + storeID(0) + "/products", product,
			[]string{"Accept", MediaType, "Authorization", bearer, "Content-Type", MediaType + ";charset=UTF-8"}, 200, ""},
	} {
		resp := s.do(c.method, c.path, c.body, c.header...)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != c.status || resp.Header.Get("Content-Type") != MediaType {
			t.Errorf("%s: %d (%s) %s, want %d", c.name, resp.StatusCode, resp.Header.Get("Content-Type"), body, c.status)
			continue
		}
		if c.code != "" && !strings.Contains(string(body), `"code":"`+c.code+`"`) {
			t.Errorf("%s: body %s, want code %s", c.name, body, c.code)
		}
		if c.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: no WWW-Authenticate", c.name)
		}
	}
	resp := s.do("GET", "/stores/"+storeID(0)+"/products?since=yesterday", "", "Accept", MediaType, "Authorization", bearer)
	var e struct {
		Violations []struct{ Subject, Reason string }
	}
	if json.NewDecoder(resp.Body).Decode(&e) != nil || len(e.Violations) == 0 || e.Violations[0].Subject != "since" {
		t.Fatalf("the violation names the parameter: %+v", e)
	}
}
