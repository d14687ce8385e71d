package security

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestBodyIsLetGoWhenTheHandlerReturns: the request's context outlives the request (a pooled
// database connection keeps the context of its last query), so the body is let go of when the
// handler returns, not with the context.
func TestBodyIsLetGoWhenTheHandlerReturns(t *testing.T) {
	e, token := newBenchAPI(t)
	var ctx context.Context
	e.POST("/api/v2/receipts", func(c echo.Context) error {
		ctx = c.Request().Context()
		if len(RawBodyFrom(ctx)) == 0 {
			t.Error("no body while the handler runs")
		}
		return c.NoContent(http.StatusOK)
	})
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, receiptRequest(token))
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if s := stateOf(ctx); s == nil || s.body != nil || s.items != nil || s.doc != nil {
		t.Fatalf("the request's context still holds its body after the handler returned: %+v", s)
	}
	if _, ok := PrincipalFrom(ctx); !ok {
		t.Fatal("the principal went with the body") // the error handler and the access log read it after
	}
}
