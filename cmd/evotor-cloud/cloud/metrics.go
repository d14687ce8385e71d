package cloud

import (
	"context"
	"fmt"
	"net/http"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metrics is one scrape of a partner server's metrics (`evotor-partner serve` with a metrics
// address), by family name.
type Metrics map[string]*dto.MetricFamily

// ScrapeMetrics reads the metrics at url (Prometheus' text format).
func ScrapeMetrics(ctx context.Context, url string) (Metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(resp.Body)
}

// Values are the samples (gauges and counters) of name whose labels include match.
func (m Metrics) Values(name string, match map[string]string) []float64 {
	family := m[name]
	if family == nil {
		return nil
	}
	var vs []float64
	for _, metric := range family.GetMetric() {
		labels := map[string]string{}
		for _, l := range metric.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		matched := true
		for k, v := range match {
			matched = matched && labels[k] == v
		}
		if !matched {
			continue
		}
		switch {
		case metric.Gauge != nil:
			vs = append(vs, metric.GetGauge().GetValue())
		case metric.Counter != nil:
			vs = append(vs, metric.GetCounter().GetValue())
		}
	}
	return vs
}

// Sum adds up Values.
func (m Metrics) Sum(name string, match map[string]string) float64 {
	total := 0.0
	for _, v := range m.Values(name, match) {
		total += v
	}
	return total
}

// Max is the highest of name's samples (0 when none).
func (m Metrics) Max(name string) float64 {
	highest := 0.0
	for _, v := range m.Values(name, nil) {
		highest = max(highest, v)
	}
	return highest
}

// ForwardPending is the metric of a partner server's messages not yet forwarded, per destination.
const ForwardPending = "evotor_partner_forward_pending"

// WaitForwarded waits until the partner server whose metrics are at metricsURL has nothing
// pending to forward, scraping every half second, for at most limit; it tells how long it
// waited and whether forwarding drained.
func WaitForwarded(ctx context.Context, metricsURL string, limit time.Duration) (time.Duration, bool, error) {
	start := time.Now()
	for {
		m, err := ScrapeMetrics(ctx, metricsURL)
		if err != nil {
			return time.Since(start), false, err
		}
		if m.Sum(ForwardPending, nil) == 0 {
			return time.Since(start), true, nil
		}
		if time.Since(start) > limit {
			return time.Since(start), false, nil
		}
		select {
		case <-ctx.Done():
			return time.Since(start), false, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
