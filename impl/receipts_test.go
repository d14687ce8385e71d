package impl

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"pgregory.net/rapid"

	"github.com/evotor-partner/evotor-partner/generated"
	"github.com/evotor-partner/evotor-partner/impl/evotor"
	"github.com/evotor-partner/evotor-partner/impl/storage"
	"github.com/evotor-partner/evotor-partner/impl/usertoken"
	"github.com/evotor-partner/evotor-partner/security"
)

// TestReceiptRowsAreTheBoundReceipts: the columns read from the validator's tree are those the
// generated model binds (BindExact, as every other handler reads its body), for any receipt
// the validator accepts: ids of any shape and written with any escapes, amounts as numbers or
// strings, optional members absent or null, unknown members, one receipt or an array.
func TestReceiptRowsAreTheBoundReceipts(t *testing.T) {
	e, token := validating(t)
	var got, want []storage.ReceiptRow
	var rowsErr error
	e.POST("/api/v2/receipts", func(c echo.Context) error {
		ctx := c.Request().Context()
		elements, err := security.BodyElements(ctx)
		if err != nil {
			return err
		}
		got, rowsErr = receiptRows(ctx, "owner")
		want = boundReceiptRows(t, elements, "owner")
		return c.NoContent(http.StatusOK)
	})
	rapid.Check(t, func(rt *rapid.T) {
		body := receiptsBody().Draw(rt, "body")
		req := postValidated(rt, e, token, "/api/v2/receipts", body)
		sameRows(rt, body, rowsErr, got, want)
		// The rows outlive the request: a value left pointing into the validator's pooled tree
		// would change under the next request's parse.
		before, beforeWant := got, want
		next := httptest.NewRequest(http.MethodPost, "/api/v2/receipts", strings.NewReader(receiptsBody().Draw(rt, "next body")))
		next.Header = req.Header
		e.ServeHTTP(httptest.NewRecorder(), next)
		if !reflect.DeepEqual(before, beforeWant) {
			rt.Fatalf("%s: rows changed by the next request:\ntree  %s\nbound %s", body, dump(before), dump(beforeWant))
		}
	})
}

// validating is an echo server behind the validator, and a user token it accepts.
func validating(t *testing.T) (*echo.Echo, string) {
	spec, err := generated.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	token, hash := usertoken.New()
	v, err := security.NewValidator(spec, security.Config{App: security.AppCredentials{Tokens: []string{uuid.NewString()}}, UserTokens: oneToken{hash}})
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	e.HTTPErrorHandler = security.ErrorHandler(slog.New(slog.DiscardHandler))
	e.Use(v.Middleware())
	return e, token
}

// postValidated posts body to path with the user token and fails unless the validator let it
// through to the handler.
func postValidated(rt *rapid.T, e *echo.Echo, token, path, body string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		rt.Fatalf("validator refused %s: %d %s", body, rec.Code, rec.Body)
	}
	return req
}

// sameRows fails unless the rows read from the tree are those binding made.
func sameRows[Row any](rt *rapid.T, body string, err error, tree, bound []Row) {
	if err != nil {
		rt.Fatal(err)
	}
	if !reflect.DeepEqual(tree, bound) {
		rt.Fatalf("%s:\ntree  %s\nbound %s", body, dump(tree), dump(bound))
	}
}

type oneToken struct{ hash usertoken.Hash }

func (o oneToken) LookupUserToken(_ context.Context, h usertoken.Hash) (usertoken.Record, bool, error) {
	return usertoken.Record{ID: 1, UserID: "01-000000000000001"}, h == o.hash, nil
}

func dump(rows any) string {
	b, _ := json.Marshal(rows)
	return string(b)
}

// boundReceiptRows is receiptRows by binding each receipt into the generated model.
func boundReceiptRows(t *testing.T, elements []security.Element, owner string) []storage.ReceiptRow {
	var rows []storage.ReceiptRow
	for _, el := range elements {
		var r generated.Receipt
		if err := security.BindExact(el.Raw, &r); err != nil {
			t.Fatal(err)
		}
		d := r.Data
		row := storage.ReceiptRow{OwnerID: owner, ID: r.Id, ReceiptUUID: evotor.CanonicalID(d.Id),
			StoreUUID: evotor.CanonicalID(d.StoreId), DeviceUUID: canonical(d.DeviceId), EmployeeUUID: canonical(d.EmployeeId),
			ShiftID: d.ShiftId, Type: d.Type, PaymentSource: d.PaymentSource, DateTime: boundMoment(d.DateTime),
			TotalAmount: decimalText(d.TotalAmount), TotalTax: decimalText(d.TotalTax), TotalDiscount: decimalText(d.TotalDiscount),
			Raw: el.Raw, BodyOffset: el.At}
		if d.Items != nil {
			for _, it := range *d.Items {
				row.Items = append(row.Items, storage.ReceiptItemRow{ItemUUID: itemID(it.Id), Name: it.Name,
					ItemType: it.ItemType, Quantity: decimalText(it.Quantity), Price: decimalText(it.Price),
					SumPrice: decimalText(it.SumPrice), Tax: decimalText(it.Tax), Discount: decimalText(it.Discount)})
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// boundMoment is evotorTime of a bound dateTime (a time or Unix milliseconds).
func boundMoment(v *generated.EvotorTime) *time.Time {
	if v == nil {
		return nil
	}
	return evotorTime(scalarText(v))
}

func receiptsBody() *rapid.Generator[string] {
	member, str, decimal, object := jsonMember, jsonID, jsonDecimal, jsonObject
	item := rapid.Custom(func(t *rapid.T) string {
		m := member(t, "id", str(t, "item id"), true) + member(t, "name", str(t, "name"), true) +
			member(t, "itemType", jsonString(t, "NORMAL"), true) + member(t, "measureName", `"шт"`, true)
		for _, name := range []string{"quantity", "price", "costPrice", "sumPrice", "tax", "taxPercent", "discount"} {
			m += member(t, name, decimal(t, name), true)
		}
		return object(m)
	})
	receipt := rapid.Custom(func(t *rapid.T) string {
		items := rapid.SliceOfN(item, 0, 3).Draw(t, "items")
		data := member(t, "id", str(t, "receipt id"), false) + member(t, "storeId", str(t, "store"), false) +
			member(t, "type", jsonString(t, "SELL"), false) + member(t, "deviceId", str(t, "device"), true) +
			member(t, "employeeId", str(t, "employee"), true) + member(t, "shiftId", str(t, "shift"), true) +
			member(t, "paymentSource", jsonString(t, "PAY_CASH"), true) +
			member(t, "dateTime", rapid.OneOf(
				rapid.Custom(func(t *rapid.T) string {
					return jsonString(t, rapid.SampledFrom([]string{"2017-06-07T12:55:18.000Z", "2017-06-07T12:55:18.000+0000", "1496840118000"}).Draw(t, "time"))
				}),
				rapid.SampledFrom([]string{"1496840118000", "1.496840118e12", "0"}),
			).Draw(t, "dateTime"), true) +
			member(t, "items", "["+strings.Join(items, ",")+"]", true) + member(t, "extras", `{"k":[1,{"id":"x"}]}`, true) +
			member(t, "futureField", `{"id":"not this one"}`, true)
		for _, name := range []string{"totalTax", "totalDiscount", "totalAmount"} {
			data += member(t, name, decimal(t, name), true)
		}
		return object(member(t, "id", str(t, "event id"), false) + member(t, "type", `"ReceiptCreated"`, true) + member(t, "data", object(data), false))
	})
	return rapid.Custom(func(t *rapid.T) string {
		if rapid.Bool().Draw(t, "array") {
			return "[" + strings.Join(rapid.SliceOfN(receipt, 1, 3).Draw(t, "receipts"), " , ") + "]"
		}
		return receipt.Draw(t, "receipt")
	})
}
