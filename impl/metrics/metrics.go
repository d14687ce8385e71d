// Package metrics is what an operator alerts on: requests, deliveries, user tokens,
// installations and subscriptions, forwarding, the tables' sizes, the database pool and the Go
// runtime, in Prometheus' format. No scrape reads a table whole: what comes from the database
// is read through indexes or the database's own estimates, or at most once a minute. It owns its registry (never the global one), served by Handler on a listener of its
// own, away from the public port.
package metrics

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/evotor-partner/evotor-partner/impl/storage"
)

const namespace = "evotor_partner"

// Outcomes of a delivery (the outcome label of evotor_partner_deliveries_total).
const (
	Stored      = "stored"      // a new delivery, written before the 200
	Redelivered = "redelivered" // already stored: answered 200, nothing written
	Refused     = "refused"     // answered anything but 200: Evotor re-sends it
	Abandoned   = "abandoned"   // the client gave up before the answer (status 499): Evotor re-sends it
)

// latencyBuckets reach Evotor's 10 s timeout, finer below a second where answers normally are.
var latencyBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 7.5, 10}

// Metrics holds the registry and the collectors the API feeds. A nil *Metrics counts nothing.
type Metrics struct {
	registry   *prometheus.Registry
	requests   *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	received   *prometheus.CounterVec
	deliveries *prometheus.CounterVec
	// forwarding's attempts, counted as they happen (ForwardAttempt)
	forwardDelivered, forwardFailed *prometheus.CounterVec
	// reconciliation (sync.go)
	syncs, syncChanges, evotorCalls *prometheus.CounterVec
}

// New builds the metrics of a server over st: the request, delivery and forwarding counters,
// the state of installations, subscriptions and tokens, forwarding's backlog and the tables'
// sizes read from st at scrape time, st's connection pool, and the Go runtime and process
// collectors.
func New(st *storage.Store) (*Metrics, error) {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "requests_total",
			Help: "Requests answered, by operation (operationId, or none), HTTP status and Evotor error code (empty when not a refusal)."},
			[]string{"operation", "status", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "request_duration_seconds",
			Help: "Time from the request's arrival to its answer, by operation.", Buckets: latencyBuckets},
			[]string{"operation"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "received_bytes_total",
			Help: "Request body bytes read, by operation."}, []string{"operation"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "deliveries_total",
			Help: "Events and notifications received, by kind (operationId), outcome (stored, redelivered, refused: answered anything but 200) and, when refused, Evotor error code."},
			[]string{"kind", "outcome", "code"}),
		forwardDelivered: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "forward", Name: "delivered_total",
			Help: "Messages the destination answered with a 2xx, counted by this process."}, []string{"destination"}),
		forwardFailed: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "forward", Name: "failed_attempts_total",
			Help: "Attempts answered with anything but a 2xx (status: the HTTP status), or not answered (status none), counted by this process."},
			[]string{"destination", "status"}),
	}
	m.newSyncCounters()
	sqlDB, err := st.SQLDB()
	if err != nil {
		return nil, err
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.received, m.deliveries, m.forwardDelivered, m.forwardFailed,
		m.syncs, m.syncChanges, m.evotorCalls,
		newCensusCollector(st), newForwardingCollector(st), newTablesCollector(st), collectors.NewDBStatsCollector(sqlDB, st.Dialect()),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := m.registry.Register(c); err != nil {
			return nil, fmt.Errorf("registering metrics: %w", err)
		}
	}
	return m, nil
}

// Handler serves the registry in Prometheus' exposition format. A collector that fails (the
// database down) is logged and left out; the rest is still served.
func (m *Metrics) Handler(logger *slog.Logger) http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		ErrorLog:      slogPrinter{logger},
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      m.registry, // promhttp_metric_handler_errors_total
	})
}

// ExpectDeliveries starts each kind's stored and redelivered counters at 0, so a ratio over
// them exists before the first delivery (a missing series would silence an alert).
func (m *Metrics) ExpectDeliveries(kinds []string) {
	if m == nil {
		return
	}
	for _, k := range kinds {
		m.deliveries.WithLabelValues(k, Stored, "")
		m.deliveries.WithLabelValues(k, Redelivered, "")
	}
}

// Request is one answered request, as the API's middleware saw it.
type Request struct {
	Operation string // operationId; "" when no operation of the spec matched
	Status    int
	Code      int // Evotor's error code of a refusal (the status when the body is {}); 0 for none
	Duration  time.Duration
	BodyBytes int64
	Delivery  string // an event's or notification's outcome: Stored, Redelivered or Refused; "" for other operations
}

// ObserveRequest counts a request and, when it carried a delivery, the delivery's outcome.
func (m *Metrics) ObserveRequest(r Request) {
	if m == nil {
		return
	}
	op := r.Operation
	if op == "" {
		op = "none"
	}
	code := ""
	if r.Code != 0 {
		code = strconv.Itoa(r.Code)
	}
	m.requests.WithLabelValues(op, strconv.Itoa(r.Status), code).Inc()
	m.latency.WithLabelValues(op).Observe(r.Duration.Seconds())
	m.received.WithLabelValues(op).Add(float64(r.BodyBytes))
	if r.Delivery != "" {
		m.deliveries.WithLabelValues(op, r.Delivery, code).Inc()
	}
}

// slogPrinter lets promhttp log through the server's logger.
type slogPrinter struct{ logger *slog.Logger }

func (p slogPrinter) Println(v ...any) {
	p.logger.Error("metrics", "error", fmt.Sprint(v...))
}
