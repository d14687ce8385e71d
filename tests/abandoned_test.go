package tests

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/evotor-partner/evotor-partner/impl/metrics"
)

// TestAnAbandonedRequestIsNotAServerError: a client that gave up (Evotor's 10 s, a load
// generator's timeout) before its answer is not a server failure: the request is logged once,
// at INFO, as abandoned, counted with status 499 and the delivery outcome "abandoned" — not a
// 500 at ERROR level (an operator's alert) nor a refusal.
func TestAnAbandonedRequestIsNotAServerError(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		var m *metrics.Metrics
		e := newEnv(t, b, withMetrics(t, &m))
		token := e.createUser("01-000000000000001")
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // the client is gone by the time the server works on it
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/api/v2/receipts",
			bytes.NewReader(receipt("b5c9e8a2-3d1f-4a6e-9b7c-2f0e1d3c0499", storeUUID, 2)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", bearer(token))
		rec := httptest.NewRecorder()
		e.api.ServeHTTP(rec, req)
		if rec.Code != 499 || rec.Body.Len() != 0 {
			t.Fatalf("answered %d %q, want 499 and nothing", rec.Code, rec.Body)
		}
		var lines []string
		for _, l := range strings.Split(e.logs.String(), "\n") {
			if strings.Contains(l, "/api/v2/receipts") && !strings.Contains(l, `"msg":"request"`) { // beside the access log
				lines = append(lines, l)
			}
		}
		if len(lines) != 1 || !strings.Contains(lines[0], `"level":"INFO"`) || !strings.Contains(lines[0], "abandoned") {
			t.Fatalf("logged %q, want one INFO line saying abandoned", lines)
		}
		families := scrape(t, m)
		if n := values(t, families, "evotor_partner_requests_total", "operation", "status")["PostReceipts/499"]; n != 1 {
			t.Fatalf("requests_total{PostReceipts,499} = %v, want 1", n)
		}
		if n := values(t, families, "evotor_partner_deliveries_total", "kind", "outcome")["PostReceipts/abandoned"]; n != 1 {
			t.Fatalf("deliveries_total{PostReceipts,abandoned} = %v, want 1", n)
		}
	})
}
