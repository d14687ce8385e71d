package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/evotor-partner/evotor-partner/impl/storage"
)

func TestMetricsAddrConfig(t *testing.T) {
	t.Setenv(envDataDir, t.TempDir())
	t.Setenv(envAppToken, "3a5f1c2e-7b9d-4e8f-a1b2-c3d4e5f6a7b8")
	for _, c := range []struct {
		name  string
		value *string // nil: unset
		want  string
	}{
		{"unset: loopback default", nil, defaultMetricsAddr},
		{"empty: off", new(""), ""},
		{"set", new("0.0.0.0:9100"), "0.0.0.0:9100"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(envMetricsAddr, "")
			if c.value == nil {
				os.Unsetenv(envMetricsAddr) // t.Setenv restores it afterwards
			} else {
				t.Setenv(envMetricsAddr, *c.value)
			}
			cfg, err := loadConfig()
			if err != nil || cfg.MetricsAddr != c.want {
				t.Fatalf("MetricsAddr %q (%v), want %q", cfg.MetricsAddr, err, c.want)
			}
		})
	}
}

// TestMetricsListener: the metrics answer on their own port, and nothing listens when off;
// Go's profiles are there only when asked for.
func TestMetricsListener(t *testing.T) {
	st, err := storage.Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	logger := slog.New(slog.DiscardHandler)

	off, err := startMetrics("", true, st, logger)
	if err != nil || off != nil || off.registry() != nil {
		t.Fatalf("metrics off: %v %v", off, err)
	}
	off.stop() // a no-op, as serve() defers it

	on, err := startMetrics("127.0.0.1:0", false, st, logger)
	if err != nil {
		t.Fatal(err)
	}
	if status, body := get(t, "http://"+on.addr+"/metrics"); status != http.StatusOK ||
		!strings.Contains(body, "evotor_partner_installations{") || !strings.Contains(body, "go_sql_open_connections") {
		t.Fatalf("GET /metrics: %d %.300s", status, body)
	}
	for _, path := range []string{"/", "/debug/pprof/", "/debug/pprof/heap"} {
		if status, _ := get(t, "http://"+on.addr+path); status != http.StatusNotFound {
			t.Fatalf("GET %s on the metrics port: %d, want 404", path, status)
		}
	}
	on.stop()

	profiled, err := startMetrics("127.0.0.1:0", true, st, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer profiled.stop()
	if status, body := get(t, "http://"+profiled.addr+"/debug/pprof/"); status != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Fatalf("GET /debug/pprof/ with profiling on: %d %.200s", status, body)
	}
	if status, body := get(t, "http://"+profiled.addr+"/debug/pprof/heap?debug=1"); status != http.StatusOK || !strings.Contains(body, "heap profile") {
		t.Fatalf("GET /debug/pprof/heap with profiling on: %d %.200s", status, body)
	}
	if _, err := http.Get("http://" + on.addr + "/metrics"); err == nil {
		t.Fatal("the metrics listener still answers after stop")
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
