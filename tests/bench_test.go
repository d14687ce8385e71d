package tests

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// BenchmarkReceiptNotification: one new v2 receipt (~1 KB, one item; a fresh id each time, so
// every iteration writes) through the whole server — log, limit, validator, strict handler,
// receipt + item + inbox rows in one transaction — on each database. Durable commits: on
// PostgreSQL synchronous_commit stays on, on SQLite synchronous=FULL.
func BenchmarkReceiptNotification(b *testing.B) {
	for _, be := range backends() {
		b.Run(be.Name, func(b *testing.B) {
			e := newEnv(b, be)
			token := e.createUser("01-000000000000001")
			b.ReportAllocs()
			n := int64(0)
			for b.Loop() {
				n++
				if err := e.postNewReceipt(token, n); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReceiptNotificationParallel is BenchmarkReceiptNotification from 32 goroutines at
// once, as Evotor's concurrent deliveries arrive (on PostgreSQL they share commits).
func BenchmarkReceiptNotificationParallel(b *testing.B) {
	for _, be := range backends() {
		b.Run(be.Name, func(b *testing.B) {
			e := newEnv(b, be)
			token := e.createUser("01-000000000000001")
			var n atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(16) // × GOMAXPROCS goroutines
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := e.postNewReceipt(token, n.Add(1)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// postNewReceipt posts receipt number n (a new id for each n) straight to the API's handler.
func (e *env) postNewReceipt(token string, n int64) error {
	body := receipt(fmt.Sprintf("b5c9e8a2-3d1f-4a6e-9b7c-%012d", n), "20170928-3176-40EB-80E2-A11F032E282A", 1)
	req := httptest.NewRequest(http.MethodPost, "/api/v2/receipts", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	e.api.ServeHTTP(rec, req)
	if rec.Code != 200 {
		return fmt.Errorf("%d %s", rec.Code, rec.Body)
	}
	return nil
}
