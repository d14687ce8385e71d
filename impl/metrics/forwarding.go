package metrics

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/evotor-partner/evotor-partner/impl/storage"
)

// forwardingCollector reads what each destination has not got yet from the database at each
// scrape (storage.ForwardQueues: pending and dead messages, through their partial indexes, so
// a scrape costs what is waiting, not the delivered history): the numbers are the same on
// every replica and survive restarts. What was delivered and each failed attempt are counted
// in process as they happen (Metrics.ForwardAttempt).
type forwardingCollector struct {
	st                           *storage.Store
	now                          func() time.Time
	pending, byStatus, dead, age *prometheus.Desc
}

func newForwardingCollector(st *storage.Store) *forwardingCollector {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "forward", name), help, append([]string{"destination"}, labels...), nil)
	}
	return &forwardingCollector{st: st, now: time.Now,
		pending: desc("pending", "Forwarded messages not delivered yet (waiting, being sent or retrying), from the database."),
		byStatus: desc("pending_by_last_status", "Pending messages by their last attempt's HTTP status (none: no answer; untried: no attempt yet), from the database.",
			"last_status"),
		dead: desc("dead", "Messages given up on after three days of retries or a 410 (re-send them with the admin API), from the database."),
		age:  desc("oldest_pending_age_seconds", "How long the oldest pending message has waited (0: none pending), from the database."),
	}
}

func (c *forwardingCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.pending, c.byStatus, c.dead, c.age} {
		ch <- d
	}
}

// Collect reports every destination with messages in the outbox, its zeros included (an alert
// on pending never sees the series vanish while the destination has a history).
func (c *forwardingCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), censusTimeout)
	defer cancel()
	queues, err := c.st.ForwardQueues(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.pending, err)
		return
	}
	for _, q := range queues {
		age := 0.0
		if q.OldestPending != nil {
			age = max(c.now().Sub(*q.OldestPending).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(q.PendingTotal()), q.Destination)
		ch <- prometheus.MustNewConstMetric(c.dead, prometheus.GaugeValue, float64(q.Dead), q.Destination)
		ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, age, q.Destination)
		for status, n := range q.Pending {
			ch <- prometheus.MustNewConstMetric(c.byStatus, prometheus.GaugeValue, float64(n), q.Destination, pendingStatusLabel(status))
		}
	}
}

// pendingStatusLabel names a pending message's last status: the HTTP status, none (no answer)
// or untried.
func pendingStatusLabel(status int) string {
	if status == storage.NotTried {
		return "untried"
	}
	return StatusLabel(status)
}

// StatusLabel is the status label of an attempt's HTTP status: its number, or none when no
// answer came back (0).
func StatusLabel(status int) string {
	if status <= 0 {
		return "none"
	}
	return strconv.Itoa(status)
}

// ForwardAttempt counts one attempt to send a message to destination, by the HTTP status it
// got (0: none, a timeout or a refused connection): a 2xx is a delivery
// (evotor_partner_forward_delivered_total), anything else a failed attempt
// (evotor_partner_forward_failed_attempts_total, by status). The sender calls it once per
// attempt, from any goroutine. A nil *Metrics counts nothing.
func (m *Metrics) ForwardAttempt(destination string, status int) {
	if m == nil {
		return
	}
	if status >= 200 && status < 300 {
		m.forwardDelivered.WithLabelValues(destination).Inc()
		return
	}
	m.forwardFailed.WithLabelValues(destination, StatusLabel(status)).Inc()
}
