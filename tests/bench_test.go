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
			n := 0
			for b.Loop() {
				n++
				body := receipt(fmt.Sprintf("b5c9e8a2-3d1f-4a6e-9b7c-%012d", n), "20170928-3176-40EB-80E2-A11F032E282A", 1)
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
					body := receipt(fmt.Sprintf("b5c9e8a2-3d1f-4a6e-9b7c-%012d", n.Add(1)), "20170928-3176-40EB-80E2-A11F032E282A", 1)
					req := httptest.NewRequest(http.MethodPost, "/api/v2/receipts", bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+token)
					req.Header.Set("Content-Type", "application/json")
					rec := httptest.NewRecorder()
					e.api.ServeHTTP(rec, req)
					if rec.Code != 200 {
						b.Errorf("%d %s", rec.Code, rec.Body)
						return
					}
				}
			})
		})
	}
}
