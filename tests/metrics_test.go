package tests

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/evotor-partner/evotor-partner/cmd/evotor-cloud/cloud"
	"github.com/evotor-partner/evotor-partner/impl"
	"github.com/evotor-partner/evotor-partner/impl/metrics"
)

// withMetrics turns the API's metrics on and hands them to the test.
func withMetrics(t testing.TB, into **metrics.Metrics) envOption {
	return func(c *impl.APIConfig) {
		m, err := metrics.New(c.Store)
		if err != nil {
			t.Fatal(err)
		}
		c.Metrics, *into = m, m
	}
}

// scrape reads the metrics the way Prometheus does: over HTTP, in the text format.
func scrape(t *testing.T, m *metrics.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(m.Handler(slog.New(slog.DiscardHandler)))
	defer srv.Close()
	resp, err := http.Get(srv.URL) // no Accept header: the text format
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return families
}

// values maps each series of a family (its label values joined by "/", in the order named)
// to its value: a counter's or gauge's value, a histogram's sample count.
func values(t *testing.T, families map[string]*dto.MetricFamily, name string, labels ...string) map[string]float64 {
	t.Helper()
	f, ok := families[name]
	if !ok {
		t.Fatalf("%s not exposed", name)
	}
	out := map[string]float64{}
	for _, m := range f.GetMetric() {
		var key []string
		for _, l := range labels {
			v := ""
			for _, p := range m.GetLabel() {
				if p.GetName() == l {
					v = p.GetValue()
				}
			}
			key = append(key, v)
		}
		switch {
		case m.Counter != nil:
			out[strings.Join(key, "/")] = m.GetCounter().GetValue()
		case m.Gauge != nil:
			out[strings.Join(key, "/")] = m.GetGauge().GetValue()
		case m.Histogram != nil:
			out[strings.Join(key, "/")] = float64(m.GetHistogram().GetSampleCount())
		}
	}
	return out
}

func expectValues(t *testing.T, name string, got, want map[string]float64) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Errorf("%s:\n got %v\nwant %v", name, got, want)
	}
}

// bodyBytes counts the Content-Length of every request it passes on.
type bodyBytes struct {
	h http.Handler
	n atomic.Int64
}

func (b *bodyBytes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.n.Add(r.ContentLength)
	b.h.ServeHTTP(w, r)
}

// TestMetricsCountWhatWasSent: after the lifecycle, a redelivery, a 401 and a 400, every
// counter says exactly what was sent.
func TestMetricsCountWhatWasSent(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		var m *metrics.Metrics
		e := newEnv(t, b, withMetrics(t, &m))
		sent := &bodyBytes{h: e.api}
		evotor := simulator(t, sent, bearer(appToken))
		requireGreen(t, evotor.Lifecycle(ctx, cloud.LifecycleOptions{UserID: "01-000000000000001"}), 13)

		send := func(opID string, body []byte, authorization string, wantStatus int) []byte {
			t.Helper()
			op, _ := cloud.OperationByID(opID)
			res := evotor.Send(ctx, op, "", body, authorization)
			if res.Err != nil || res.Status != wantStatus {
				t.Fatalf("%s: %d %v %s, want %d", opID, res.Status, res.Err, res.Body, wantStatus)
			}
			return res.Body
		}
		activated := fixture(t, "subscription_activated.json")
		send("subscriptionEvent", activated, bearer(appToken), 200)                               // stored
		send("subscriptionEvent", activated, bearer(appToken), 200)                               // redelivered
		send("subscriptionEvent", activated, bearer("0f8fad5b-d9cb-469f-a165-70867728950e"), 401) // wrong app token
		var user struct{ Token string }
		if err := json.Unmarshal(send("createUser", []byte(`{"userId":"01-000000000000002"}`), bearer(appToken), 200), &user); err != nil {
			t.Fatal(err)
		}
		send("postReceipts", []byte(`{"not json`), bearer(user.Token), 400)

		got := scrape(t, m)
		expectValues(t, "requests_total", values(t, got, "evotor_partner_requests_total", "operation", "status", "code"), map[string]float64{
			"SubscriptionEvent/200/": 3 + 2, "SubscriptionEvent/401/1001": 1, "InstallationEvent/200/": 2,
			"CreateUser/200/": 2, "StoreCloudToken/200/": 1,
			"PutStores/200/": 1, "PutDevices/200/": 1, "PutEmployees/200/": 1, "CreateProducts/200/": 1, "PutDocuments/200/": 1,
			"PostReceipts/200/": 1, "PostReceipts/400/2001": 1,
		})
		expectValues(t, "request_duration_seconds (sample counts)", values(t, got, "evotor_partner_request_duration_seconds", "operation"), map[string]float64{
			"SubscriptionEvent": 6, "InstallationEvent": 2, "CreateUser": 2, "StoreCloudToken": 1,
			"PutStores": 1, "PutDevices": 1, "PutEmployees": 1, "CreateProducts": 1, "PutDocuments": 1, "PostReceipts": 2,
		})
		expectValues(t, "deliveries_total", values(t, got, "evotor_partner_deliveries_total", "kind", "outcome", "code"), map[string]float64{
			"SubscriptionEvent/stored/": 3 + 1, "SubscriptionEvent/redelivered/": 1, "SubscriptionEvent/refused/1001": 1,
			"InstallationEvent/stored/": 2, "InstallationEvent/redelivered/": 0,
			"PutStores/stored/": 1, "PutStores/redelivered/": 0, "PutDevices/stored/": 1, "PutDevices/redelivered/": 0,
			"PutEmployees/stored/": 1, "PutEmployees/redelivered/": 0, "CreateProducts/stored/": 1, "CreateProducts/redelivered/": 0,
			"PutDocuments/stored/": 1, "PutDocuments/redelivered/": 0,
			"PostReceipts/stored/": 1, "PostReceipts/redelivered/": 0, "PostReceipts/refused/2001": 1,
		})
		// Every body was read but the 401's: the credential is checked first.
		received := 0.0
		for _, v := range values(t, got, "evotor_partner_received_bytes_total", "operation") {
			received += v
		}
		if want := float64(sent.n.Load() - int64(len(activated))); received != want {
			t.Errorf("received_bytes_total: %v, want %v", received, want)
		}
		expectValues(t, "user_tokens_issued_total", values(t, got, "evotor_partner_user_tokens_issued_total"), map[string]float64{"": 2})
		expectValues(t, "user_tokens_revoked_total", values(t, got, "evotor_partner_user_tokens_revoked_total"), map[string]float64{"": 1})
		expectValues(t, "installations", values(t, got, "evotor_partner_installations", "state"), map[string]float64{"installed": 0, "uninstalled": 1})
		// The lifecycle's subscription is in its trial (termination requested); the fixture's is active.
		expectValues(t, "subscriptions", values(t, got, "evotor_partner_subscriptions", "status"), map[string]float64{
			"trial": 1, "pending": 0, "active": 1, "terminated": 0})
		for _, name := range []string{"go_sql_open_connections", "go_sql_wait_count_total", "go_sql_wait_duration_seconds_total", "go_goroutines", "process_resident_memory_bytes"} {
			if _, ok := got[name]; !ok {
				t.Errorf("%s not exposed", name)
			}
		}
	})
}

// TestPublicAPIDoesNotServeMetrics: /metrics lives on its own listener only.
func TestPublicAPIDoesNotServeMetrics(t *testing.T) {
	t.Parallel()
	var m *metrics.Metrics
	e := newEnv(t, backends()[0], withMetrics(t, &m))
	rec := httptest.NewRecorder()
	e.api.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", http.NoBody))
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != http.StatusNotFound || strings.Contains(string(body), "evotor_partner_") {
		t.Fatalf("public /metrics: %d %s", rec.Code, body)
	}
	// The miss itself is counted, under no operation.
	requests := values(t, scrape(t, m), "evotor_partner_requests_total", "operation", "status", "code")
	expectValues(t, "requests_total", requests, map[string]float64{"none/404/404": 1})
}
