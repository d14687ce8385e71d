package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/evotor-partner/evotor-partner/impl"
	"github.com/evotor-partner/evotor-partner/impl/sealer"
	"github.com/evotor-partner/evotor-partner/impl/storage"
	"github.com/evotor-partner/evotor-partner/security"
)

// TestSmoke is `make bench-load` in miniature, in process and on SQLite only: a short
// closed loop against our server and against the GORM baseline; both answer nothing but 200s
// and the report prints every goal.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("a load test: skipped under -short")
	}
	o := closedLoopOptions{Connections: 4, Duration: 400 * time.Millisecond, Rounds: 2} // a smoke test: answers, not speed
	ctx := context.Background()

	insert, err := gormSQLiteBaseline(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	base := httptest.NewServer(baselineHandler(insert))
	defer base.Close()
	ours, appToken := inProcessPartner(t)
	token, err := createUser(ours.URL, appToken, benchUserID)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := closedLoop(ctx, o, loadTarget{target: target{URL: base.URL, Auth: "Bearer " + baselineUserToken, UserID: benchUserID}},
		loadTarget{target: target{URL: ours.URL, Auth: "Bearer " + token, UserID: benchUserID}})
	if err != nil {
		t.Fatal(err)
	}
	baseline, result := rs[0], rs[1]
	for name, r := range map[string]loadResult{"baseline": baseline, "evotor-partner": result} {
		if r.OK == 0 || r.Failed() > 0 {
			t.Errorf("%s: %d answers 200, statuses %v", name, r.OK, r.Statuses)
		}
	}

	var out bytes.Buffer
	printReport(&out, results{Setting: "smoke", SQLiteClosed: &pair{Baseline: baseline, Ours: result}}, options{connections: 4, openRate: 1000, openDuration: 20 * time.Second})
	report := out.String()
	t.Log("\n" + report)
	for _, want := range []string{"SQLite closed loop, 4 connections", "receipts/s on SQLite, ours ÷ echo+GORM baseline", "not run", "of 10 goals met"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// inProcessPartner is our server on a SQLite file, wired as cmd/evotor-partner wires it.
func inProcessPartner(t *testing.T) (*httptest.Server, string) {
	st, err := storage.Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	key := make([]byte, sealer.SecretKeySize)
	_, _ = rand.Read(key)
	sealer, err := sealer.New(key)
	if err != nil {
		t.Fatal(err)
	}
	const appToken = "3a5f1c2e-7b9d-4e8f-a1b2-c3d4e5f6a7b8"
	api, err := impl.NewAPI(impl.APIConfig{Store: st, Sealer: sealer, App: security.AppCredentials{Tokens: []string{appToken}},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return srv, appToken
}

// TestReceiptIsNewAndValidSized: every receipt has fresh ids and is about 1.7 KB.
func TestReceiptIsNewAndValidSized(t *testing.T) {
	a, b := receipt(benchUserID), receipt(benchUserID)
	var ra, rb struct {
		ID   string `json:"id"`
		Data struct {
			ID    string `json:"id"`
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		} `json:"data"`
	}
	if err := json.Unmarshal(a, &ra); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rb); err != nil {
		t.Fatal(err)
	}
	if ra.ID == rb.ID || ra.Data.ID == rb.Data.ID || len(ra.Data.Items) != receiptItems || ra.Data.Items[0].ID == rb.Data.Items[0].ID {
		t.Errorf("receipts share ids: %s / %s", a, b)
	}
	if n := len(a); n < 1500 || n > 1900 {
		t.Errorf("receipt is %d bytes, want about 1.7 KB", n)
	}
}

// TestCatalogueSplitsIntoItsProducts: the COPY floor gets every product with its uuid.
func TestCatalogueSplitsIntoItsProducts(t *testing.T) {
	body := catalogue(100_000)
	var products []product
	if err := json.Unmarshal(body, &products); err != nil {
		t.Fatal(err)
	}
	rows, err := splitProducts(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(body) < 100_000 || len(rows) != len(products) || rows[7][0] != products[7].UUID {
		t.Fatalf("%d bytes, %d rows for %d products", len(body), len(rows), len(products))
	}
}

// TestProcAccounting: the CPU time read from /proc agrees with getrusage's, and resident
// memory reads.
func TestProcAccounting(t *testing.T) {
	before, err := cpuTimeOf(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	rusageBefore := rusageCPU(t)
	for rusageCPU(t)-rusageBefore < 300*time.Millisecond {
		_ = receipt(benchUserID) // burn CPU
	}
	used := rusageCPU(t) - rusageBefore
	after, err := cpuTimeOf(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if d := after - before; d < used-50*time.Millisecond || d > used+50*time.Millisecond {
		t.Errorf("/proc says %s of CPU, getrusage %s", d, used)
	}
	rss, peak, err := memoryOf(os.Getpid())
	if err != nil || rss <= 0 || peak < rss {
		t.Errorf("VmRSS %d, VmHWM %d, %v", rss, peak, err)
	}
}

// TestParseBenchmark reads `go test -bench -benchmem` output, median of the runs.
func TestParseBenchmark(t *testing.T) {
	out := []byte("goos: linux\nBenchmarkValidatorReceipt-2   3618   414240 ns/op   3.53 MB/s   43379 B/op   386 allocs/op\n" +
		"BenchmarkValidatorReceipt-2   3000   90000 ns/op   3.53 MB/s   43379 B/op   300 allocs/op\n" +
		"BenchmarkValidatorReceipt-2   3000   87000 ns/op   3.53 MB/s   43379 B/op   302 allocs/op\nPASS\n")
	got, err := parseBenchmark(out, "BenchmarkValidatorReceipt")
	if err != nil || got.NsPerOp != 90000 || got.AllocsPerOp != 302 {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := parseBenchmark([]byte("FAIL\n"), "BenchmarkValidatorReceipt"); err == nil {
		t.Fatal("no benchmark line parsed as a result")
	}
}

func rusageCPU(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestOpenLoopReportCountsEveryFailure: whatever did not end in 200 — an error status, no
// answer, an arrival dropped — fails the "every answer 200" goal and shows in the table.
func TestOpenLoopReportCountsEveryFailure(t *testing.T) {
	var rep cloudLoadReport
	line := `{"requests":995,"answered":995,"dropped":5,"errors":3,"statuses":{"200":992,"503":1,"error":2},"rate":998.1,` +
		`"duration_s":20.01,"p50_ms":5.7,"p90_ms":11.9,"p99_ms":19.5,"max_ms":45.5,"resends":0,"interrupted":false}`
	if err := json.Unmarshal([]byte(line), &rep); err != nil {
		t.Fatal(err)
	}
	r := rep.result(995 * time.Millisecond)
	if r.OK != 992 || r.Failed() != 8 || r.CPU != time.Millisecond || r.P99 != 19500*time.Microsecond {
		t.Fatalf("%+v", r)
	}
	if got, want := notOK(r), "1 × 503, 5 × dropped, 2 × error"; got != want {
		t.Errorf("not 200: %q, want %q", got, want)
	}
}

// TestClosedLoopCountsOnlyAnswers200: throughput is answers 200; every other answer is
// counted by its status.
func TestClosedLoopCountsOnlyAnswers200(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if n.Add(1)%2 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	rs, err := closedLoop(context.Background(), closedLoopOptions{Connections: 2, Duration: 200 * time.Millisecond, Rounds: 2},
		loadTarget{target: target{URL: srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	r := rs[0]
	total := int(n.Load())
	if r.OK+r.Failed() != total || r.Statuses["503"] != total/2 || r.OK != total-total/2 {
		t.Fatalf("%d requests served, counted %v", total, r.Statuses)
	}
	if want := float64(r.OK) / 0.2; r.Rate > want*1.05 {
		t.Errorf("rate %.0f/s counts more than the %d answers 200 in 200 ms", r.Rate, r.OK)
	}
}
