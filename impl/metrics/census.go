package metrics

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/evotor-partner/evotor-partner/impl/billing"
	"github.com/evotor-partner/evotor-partner/impl/storage"
)

// censusTimeout bounds the scrape-time queries: a slow database costs a scrape these metrics,
// not the whole scrape.
const censusTimeout = 3 * time.Second

// censusMaxAge is how long a census read from the database is reported before it is read
// again. Counting installations, subscriptions and tokens reads those tables whole (a row per
// installation, subscription and issued token: they grow with the customers and their
// logins), so it is not done at every scrape, however often Prometheus (or several) scrapes.
const censusMaxAge = time.Minute

// censusCollector reads installations, subscriptions and user tokens by state from the
// database (one query, at most once per censusMaxAge): the numbers are the database's, the
// same on every instance, and survive restarts.
type censusCollector struct {
	st                           *storage.Store
	now                          func() time.Time
	installations, subscriptions *prometheus.Desc
	tokensIssued, tokensRevoked  *prometheus.Desc

	mu     sync.Mutex // one census query at a time; scrapes meanwhile wait for its result
	last   storage.Census
	readAt time.Time // zero: never read
}

func newCensusCollector(st *storage.Store) *censusCollector {
	name := func(n string) string { return prometheus.BuildFQName(namespace, "", n) }
	return &censusCollector{
		st: st, now: time.Now,
		installations: prometheus.NewDesc(name("installations"),
			"Installations of the app (Evotor user and product) by state, from the database (read at most once a minute).", []string{"state"}, nil),
		subscriptions: prometheus.NewDesc(name("subscriptions"),
			"Subscriptions by status, from the database (read at most once a minute).", []string{"status"}, nil),
		tokensIssued: prometheus.NewDesc(name("user_tokens_issued_total"),
			"User tokens issued (user/create, user/verify), from the database (read at most once a minute).", nil, nil),
		tokensRevoked: prometheus.NewDesc(name("user_tokens_revoked_total"),
			"User tokens revoked by an uninstall, from the database (read at most once a minute).", nil, nil),
	}
}

func (c *censusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.installations, c.subscriptions, c.tokensIssued, c.tokensRevoked} {
		ch <- d
	}
}

// census is the last census, read again when it is older than censusMaxAge.
func (c *censusCollector) census() (storage.Census, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.readAt.IsZero() && c.now().Sub(c.readAt) < censusMaxAge {
		return c.last, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), censusTimeout)
	defer cancel()
	census, err := c.st.Census(ctx)
	if err != nil {
		return storage.Census{}, err
	}
	c.last, c.readAt = census, c.now()
	return census, nil
}

// Collect reports every known state, 0 included, so an alert on a state never sees it vanish.
func (c *censusCollector) Collect(ch chan<- prometheus.Metric) {
	census, err := c.census()
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

// tablesCollector reports each table's size as the database estimates it
// (storage.TableSizes: catalog statistics on PostgreSQL, the rowid span on SQLite), at every
// scrape: a lookup per table, never a count.
type tablesCollector struct {
	st   *storage.Store
	rows *prometheus.Desc
}

func newTablesCollector(st *storage.Store) *tablesCollector {
	return &tablesCollector{st: st, rows: prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "table_rows_estimate"),
		"Rows in each table, as the database estimates them without counting (PostgreSQL: its statistics; SQLite: the span of rowids, an upper bound).",
		[]string{"table"}, nil)}
}

func (c *tablesCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.rows }

func (c *tablesCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), censusTimeout)
	defer cancel()
	sizes, err := c.st.TableSizes(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.rows, err)
		return
	}
	for table, n := range sizes {
		ch <- prometheus.MustNewConstMetric(c.rows, prometheus.GaugeValue, float64(n), table)
	}
}
