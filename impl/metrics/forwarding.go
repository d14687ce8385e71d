package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/evotor-partner/evotor-partner/impl/storage"
)

// forwardingCollector reads each destination's outbox from the database at each scrape (one
// GROUP BY): the numbers are the same on every replica and survive restarts.
type forwardingCollector struct {
	st                                    *storage.Store
	now                                   func() time.Time
	pending, delivered, dead, failed, age *prometheus.Desc
}

func newForwardingCollector(st *storage.Store) *forwardingCollector {
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "forward", name), help, []string{"destination"}, nil)
	}
	return &forwardingCollector{st: st, now: time.Now,
		pending:   desc("pending", "Forwarded messages not delivered yet (waiting, being sent or retrying)."),
		delivered: desc("delivered_total", "Messages the destination answered with a 2xx."),
		dead:      desc("dead", "Messages given up on after three days of retries (re-send them with the admin API)."),
		failed:    desc("failed_attempts_total", "Attempts answered with anything but a 2xx, or not answered."),
		age:       desc("oldest_pending_age_seconds", "How long the oldest pending message has waited (0: none pending)."),
	}
}

func (c *forwardingCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.pending, c.delivered, c.dead, c.failed, c.age} {
		ch <- d
	}
}

func (c *forwardingCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), censusTimeout)
	defer cancel()
	stats, err := c.st.ForwardingStats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.pending, err)
		return
	}
	for _, s := range stats {
		age := 0.0
		if s.OldestPending != nil {
			age = c.now().Sub(*s.OldestPending).Seconds()
		}
		for _, m := range []struct {
			desc  *prometheus.Desc
			kind  prometheus.ValueType
			value float64
		}{
			{c.pending, prometheus.GaugeValue, float64(s.Pending)},
			{c.delivered, prometheus.CounterValue, float64(s.Delivered)},
			{c.dead, prometheus.GaugeValue, float64(s.Dead)},
			{c.failed, prometheus.CounterValue, float64(s.FailedAttempts)},
			{c.age, prometheus.GaugeValue, age},
		} {
			ch <- prometheus.MustNewConstMetric(m.desc, m.kind, m.value, s.Destination)
		}
	}
}
