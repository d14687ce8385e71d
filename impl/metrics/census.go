package metrics

import (
	"context"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/evotor-partner/evotor-partner/impl/billing"
	"github.com/evotor-partner/evotor-partner/impl/store"
)

// censusTimeout bounds the scrape-time query: a slow database costs a scrape these metrics,
// not the whole scrape.
const censusTimeout = 3 * time.Second

// censusCollector reads installations, subscriptions and user tokens by state from the
// database at each scrape (one query): the numbers are the database's, the same on every
// instance, and survive restarts.
type censusCollector struct {
	st                           *store.Store
	installations, subscriptions *prometheus.Desc
	tokensIssued, tokensRevoked  *prometheus.Desc
}

func newCensusCollector(st *store.Store) *censusCollector {
	name := func(n string) string { return prometheus.BuildFQName(namespace, "", n) }
	return &censusCollector{
		st: st,
		installations: prometheus.NewDesc(name("installations"),
			"Installations of the app (Evotor user and product) by state, from the database.", []string{"state"}, nil),
		subscriptions: prometheus.NewDesc(name("subscriptions"),
			"Subscriptions by status, from the database.", []string{"status"}, nil),
		tokensIssued: prometheus.NewDesc(name("user_tokens_issued_total"),
			"User tokens issued (user/create, user/verify), from the database.", nil, nil),
		tokensRevoked: prometheus.NewDesc(name("user_tokens_revoked_total"),
			"User tokens revoked by an uninstall, from the database.", nil, nil),
	}
}

func (c *censusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.installations, c.subscriptions, c.tokensIssued, c.tokensRevoked} {
		ch <- d
	}
}

// Collect reports every known state, 0 included, so an alert on a state never sees it vanish.
func (c *censusCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), censusTimeout)
	defer cancel()
	census, err := c.st.Census(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.installations, err)
		return
	}
	for _, state := range withKnown(census.Installations, "installed", "uninstalled") {
		ch <- prometheus.MustNewConstMetric(c.installations, prometheus.GaugeValue, float64(census.Installations[state]), state)
	}
	for _, status := range withKnown(census.Subscriptions, billing.StatusTrial, billing.StatusPending, billing.StatusActive, billing.StatusTerminated) {
		ch <- prometheus.MustNewConstMetric(c.subscriptions, prometheus.GaugeValue, float64(census.Subscriptions[status]), status)
	}
	ch <- prometheus.MustNewConstMetric(c.tokensIssued, prometheus.CounterValue, float64(census.TokensIssued))
	ch <- prometheus.MustNewConstMetric(c.tokensRevoked, prometheus.CounterValue, float64(census.TokensRevoked))
}

// withKnown is the known states followed by any other state the database holds.
func withKnown(counts map[string]int64, known ...string) []string {
	states := slices.Clone(known)
	for s := range counts {
		if !slices.Contains(known, s) {
			states = append(states, s)
		}
	}
	return states
}
