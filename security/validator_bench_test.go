package security

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/evotor-partner/evotor-partner/generated"
	"github.com/evotor-partner/evotor-partner/impl/usertoken"
)

// memoryTokens is a UserTokens over a map, so the benchmark measures the validator alone.
type memoryTokens map[usertoken.Hash]usertoken.Record

func (m memoryTokens) LookupUserToken(_ context.Context, h usertoken.Hash) (usertoken.Record, bool, error) {
	r, ok := m[h]
	return r, ok, nil
}

// receipt15KB is a realistic ~1.5 KB v2 receipt with four items.
var receipt15KB = []byte(`{"id":"b5c9e8a2-3d1f-4a6e-9b7c-2f0e1d3c4b5a","timestamp":1496826444000,"userId":"01-000000000000001","type":"ReceiptCreated","version":2,
"data":{"id":"2ae3d6c1-9b8f-4e7a-a1c2-d3e4f5a6b7c8","deviceId":"1022722e-9441-4beb-beae-c6bc5e7af30d","storeId":"20170928-3176-40EB-80E2-A11F032E282A",
"dateTime":"2017-06-07T12:55:18.000Z","type":"SELL","shiftId":"80","employeeId":"20170417-46B8-40B9-802E-4DEB67C07565","paymentSource":"PAY_CASH","infoCheck":false,"egais":false,
"items":[` + strings.Repeat(`{"id":"01ba18b6-8707-5f47-3d9c-4db058054cb2","name":"Сидр яблочный","itemType":"ALCOHOL_NOT_MARKED","measureName":"шт","quantity":2,"price":123.12,"costPrice":100.12,"sumPrice":246.24,"tax":37.56,"taxPercent":18,"discount":0},`, 3) +
	`{"id":"390067bf-e8d3-4fcc-8c30-fbfd77a0a70d","name":"Пакет","itemType":"NORMAL","measureName":"шт","quantity":1,"price":5,"costPrice":1,"sumPrice":5,"tax":0,"taxPercent":0,"discount":0}],
"totalTax":112.68,"totalDiscount":0,"totalAmount":743.72,"extras":{}}}`)

func newBenchAPI(tb testing.TB) (*echo.Echo, string) {
	spec, err := generated.GetSpec()
	if err != nil {
		tb.Fatal(err)
	}
	token, hash := usertoken.New()
	v, err := NewValidator(spec, Config{
		App:        AppCredentials{Tokens: []string{"3a5f1c2e-7b9d-4e8f-a1b2-c3d4e5f6a7b8"}},
		UserTokens: memoryTokens{hash: {ID: 1, UserID: "01-000000000000001"}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	e := echo.New()
	e.HTTPErrorHandler = ErrorHandler(slog.New(slog.DiscardHandler))
	e.Use(v.Middleware())
	e.POST("/api/v2/receipts", func(c echo.Context) error {
		if p, ok := PrincipalFrom(c.Request().Context()); !ok || p.UserID == "" || len(RawBodyFrom(c.Request().Context())) == 0 {
			return c.NoContent(http.StatusInternalServerError)
		}
		return c.NoContent(http.StatusOK)
	})
	return e, token
}

func receiptRequest(token string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/api/v2/receipts", bytes.NewReader(receipt15KB))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	return req
}

// TestValidatorPassesPrincipalAndBody: what the benchmark measures is a working pass.
func TestValidatorPassesPrincipalAndBody(t *testing.T) {
	e, token := newBenchAPI(t)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, receiptRequest(token))
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	e.ServeHTTP(rec, receiptRequest("unknown"))
	if rec.Code != 401 || !strings.Contains(rec.Body.String(), "1002") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}

// BenchmarkValidatorReceipt: user-token authentication + schema validation of a ~1.5 KB receipt.
func BenchmarkValidatorReceipt(b *testing.B) {
	e, token := newBenchAPI(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(receipt15KB)))
	for b.Loop() {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, receiptRequest(token))
		if rec.Code != 200 {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}

// TestBodyTreeLivesAsLongAsTheHandler: a handler reads the values the schema checked from the
// validator's tree; once it returned, the tree is released (the request holds it no more).
func TestBodyTreeLivesAsLongAsTheHandler(t *testing.T) {
	e, token := newBenchAPI(t)
	var state *requestState
	e.POST("/api/v2/receipts", func(c echo.Context) error {
		ctx := c.Request().Context()
		tree, err := BodyTree(ctx)
		if err != nil {
			return err
		}
		if got := string(tree.GetStringBytes("data", "storeId")); got != "20170928-3176-40EB-80E2-A11F032E282A" {
			t.Errorf("storeId from the tree: %q", got)
		}
		state = stateOf(ctx)
		return c.NoContent(http.StatusOK)
	})
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, receiptRequest(token))
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if state == nil || state.doc != nil {
		t.Fatalf("the tree is still held after the handler returned: %+v", state)
	}
	if _, err := BodyTree(context.Background()); err == nil {
		t.Fatal("a tree without a validated body")
	}
}
