package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/evotor-partner/evotor-partner/impl/metrics"
	"github.com/evotor-partner/evotor-partner/impl/storage"
)

const (
	envMetricsAddr     = "EVOTOR_PARTNER_METRICS_ADDR"
	defaultMetricsAddr = "127.0.0.1:9090"
)

// metricsAddr is EVOTOR_PARTNER_METRICS_ADDR: unset, the loopback default; set but empty, off.
func metricsAddr() string {
	if v, ok := os.LookupEnv(envMetricsAddr); ok {
		return v
	}
	return defaultMetricsAddr
}

// metricsServer serves /metrics on a listener of its own, never on the public port.
type metricsServer struct {
	metrics *metrics.Metrics
	addr    string // the address bound (a port 0 resolved)
	srv     *http.Server
}

// startMetrics builds the metrics of st and serves them on addr; addr "" turns metrics off
// (a nil server: nothing listens, nothing is counted). profiling adds Go's profiles
// (/debug/pprof/) on the same private listener: where a server spends its CPU under real
// traffic, which no benchmark shows as well.
func startMetrics(addr string, profiling bool, st *storage.Store, logger *slog.Logger) (*metricsServer, error) {
	if addr == "" {
		logger.Info("metrics off", "variable", envMetricsAddr)
		return nil, nil
	}
	m, err := metrics.New(st)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", envMetricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler(logger))
	if profiling {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index) // and every named profile under it
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	}
	s := &metricsServer{metrics: m, addr: ln.Addr().String(),
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}}
	go func() {
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics listener stopped", "error", err.Error())
		}
	}()
	logger.Info("serving metrics", "url", "http://"+s.addr+"/metrics")
	return s, nil
}

// registry is what the API counts into; nil when metrics are off.
func (s *metricsServer) registry() *metrics.Metrics {
	if s == nil {
		return nil
	}
	return s.metrics
}

// stop shuts the listener down, letting a scrape in flight finish.
func (s *metricsServer) stop() {
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
}
