package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Reconciliation's counters: syncs by outcome, the records they found new or changed (what the
// webhooks had missed), and every call to Evotor's REST API by operation and status. No label
// carries a user or a token.
func (m *Metrics) newSyncCounters() {
	m.syncs = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "sync", Name: "total",
		Help: "Syncs with Evotor (reconciliation) that ended, by outcome: succeeded, failed, token_invalid (Evotor answered 401, or the token was marked so), no_token."},
		[]string{"outcome"})
	m.syncChanges = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "sync", Name: "changes_total",
		Help: "Records syncs found new or changed against what was stored (the webhooks had missed them), stored and forwarded."},
		[]string{})
	m.evotorCalls = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "evotor_api", Name: "calls_total",
		Help: "Calls to Evotor's REST API, each attempt, by operation (the client's) and HTTP status (none: no answer)."},
		[]string{"operation", "status"})
}

// SyncEnded counts a sync by its outcome and the records it changed. A nil *Metrics counts
// nothing.
func (m *Metrics) SyncEnded(outcome string, changed int64) {
	if m == nil {
		return
	}
	m.syncs.WithLabelValues(outcome).Inc()
	m.syncChanges.WithLabelValues().Add(float64(changed))
}

// EvotorCall counts one attempt of a call to Evotor's REST API (impl/evotorapi's Observe).
func (m *Metrics) EvotorCall(op string, status int, _ time.Duration) {
	if m == nil {
		return
	}
	m.evotorCalls.WithLabelValues(op, StatusLabel(status)).Inc()
}
