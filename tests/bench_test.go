package tests

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkReceiptNotification: one v2 receipt through the whole server (log, limit,
// validator, strict handler, inbox insert) on each database. Durable commits: on PostgreSQL
// synchronous_commit stays on, on SQLite synchronous=FULL.
func BenchmarkReceiptNotification(b *testing.B) {
	for _, be := range backends() {
		b.Run(be.name, func(b *testing.B) {
			e := newEnv(b, be)
			token := e.createUser("01-000000000000001")
			body := fixture(b, "receipts_v2_sell.json")
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/api/v2/receipts", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				e.api.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
