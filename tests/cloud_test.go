package tests

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evotor-partner/evotor-partner/cmd/evotor-cloud/cloud"
)

// simulator starts handler on a loopback port and points a simulated Evotor Cloud at it.
func simulator(t *testing.T, handler http.Handler, appAuth string) *cloud.Cloud {
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	c, err := cloud.New(cloud.Config{Target: srv.URL, AppAuth: appAuth, Retries: 2, RetryInterval: 10 * time.Millisecond, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func requireGreen(t *testing.T, rep cloud.Report, steps int) {
	t.Helper()
	if !rep.OK || len(rep.Steps) != steps {
		for _, s := range rep.Steps {
			t.Logf("%s: %d ok=%v %s", s.Name, s.Status, s.OK, s.Problem)
		}
		t.Fatalf("report not green (%d steps, want %d)", len(rep.Steps), steps)
	}
}

func TestLifecycleAgainstOurServer(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, withAdmin)
		rep := simulator(t, e.api, bearer(appToken)).Lifecycle(context.Background(), cloud.LifecycleOptions{UserID: "01-000000000000001"})
		requireGreen(t, rep, 13)
		if rep.Resends != 0 {
			t.Fatalf("%d re-sends against a healthy server", rep.Resends)
		}
		// The story left its traces: a terminated-on-request subscription, an uninstall.
		user, _ := e.client.AdminGetUserWithResponse(context.Background(), "01-000000000000001", auth(bearer(adminToken)))
		if user.JSON200 == nil || len(user.JSON200.Subscriptions) != 1 || !user.JSON200.Subscriptions[0].TerminationRequested ||
			user.JSON200.Installations[0].Installed || !user.JSON200.HasCloudToken {
			t.Fatalf("after the lifecycle: %s", user.Body)
		}
		// The same story through user/verify, authorised by Basic.
		e.addAccount("shop", "pw-123", true)
		rep = simulator(t, e.api, basic(appBasicUser, appBasicPass)).Lifecycle(context.Background(),
			cloud.LifecycleOptions{UserID: "01-000000000000002", Login: "shop", Password: "pw-123"})
		requireGreen(t, rep, 13)
	})
}

// TestReplayEveryFixture: `evotor-cloud replay` of each of Evotor's request files is green.
func TestReplayEveryFixture(t *testing.T) {
	t.Parallel() // on databases of its own: runs beside the others
	names, _ := readFixtureNames(t)
	e := newEnv(t, backends()[0])
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel() // each on a database of its own
			e := newEnv(t, backends()[0])
			e.addAccount("test4", "password", false)
			e.addAccount("И.Иванов", "superpassword", true)
			rep, err := simulator(t, e.api, bearer(appToken)).Replay(context.Background(),
				cloud.ReplayOptions{Paths: []string{filepath.Join(fixturesDir, name)}, StoreUUID: storeUUID, UserID: "01-000000000000001"})
			if err != nil {
				t.Fatal(err)
			}
			requireGreen(t, rep, 1)
		})
	}
	// A whole directory in one run: one step per file, whatever their verdicts.
	rep, err := simulator(t, e.api, bearer(appToken)).Replay(context.Background(), cloud.ReplayOptions{Paths: []string{fixturesDir}, UserID: "01-000000000000005"})
	if err != nil || len(rep.Steps) != len(names) {
		t.Fatalf("directory replay: %d steps for %d files, %v", len(rep.Steps), len(names), err)
	}
}

// TestSimulatorGoesRedOnBrokenServers: the lifecycle can fail, and fails for what Evotor would
// not accept: a 5xx (re-sent, then failed), a 2xx that is not 200, a user/create without a token.
func TestSimulatorGoesRedOnBrokenServers(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, path string
		broken     http.HandlerFunc
		failing    string
	}{
		{"receipts answer 500", "/api/v2/receipts", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) }, "receipts"},
		{"stores answer 204", "/api/v1/inventories/stores", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }, "stores"},
		{"create answers no token", "/api/v1/user/create", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"userId":"01-000000000000001"}`))
		}, "user/create"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, backends()[0])
			mux := http.NewServeMux()
			mux.Handle("/", e.api)
			mux.Handle(c.path, c.broken)
			rep := simulator(t, mux, bearer(appToken)).Lifecycle(context.Background(), cloud.LifecycleOptions{UserID: "01-000000000000001"})
			if rep.OK {
				t.Fatal("the lifecycle passed against a broken server")
			}
			for _, s := range rep.Steps {
				if s.Name == c.failing && s.OK {
					t.Fatalf("step %s passed", s.Name)
				}
			}
			if c.failing == "receipts" && rep.Resends != 2 {
				t.Fatalf("a 500 was re-sent %d times, want 2", rep.Resends)
			}
		})
	}
}

// TestSimulatorResendsWhenNoAnswerInTime: an answer later than the timeout counts as none.
func TestSimulatorResendsWhenNoAnswerInTime(t *testing.T) { // alone: its 100 ms timeout must not meet a busy CPU
	e := newEnv(t, backends()[0])
	var calls atomic.Int64
	slowOnce := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/subscription/event") && calls.Add(1) == 1 {
			time.Sleep(300 * time.Millisecond)
		}
		e.api.ServeHTTP(w, r)
	})
	srv := httptest.NewServer(slowOnce)
	defer srv.Close()
	c, _ := cloud.New(cloud.Config{Target: srv.URL, AppAuth: bearer(appToken), Retries: 3, RetryInterval: time.Millisecond, Timeout: 100 * time.Millisecond})
	res := c.Send(context.Background(), opByID(t, "subscriptionEvent"), "", fixture(t, "subscription_created.json"), bearer(appToken))
	if res.Status != 200 || res.Attempts != 2 || c.Resends() != 1 {
		t.Fatalf("status %d after %d attempts, %d re-sends", res.Status, res.Attempts, c.Resends())
	}
}

func TestLoadIsBoundedAndCounts(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("a second of load: make test runs it")
	}
	e := newEnv(t, backends()[0])
	c := simulator(t, e.api, bearer(appToken))
	start := time.Now()
	rep, err := c.Load(context.Background(), cloud.LoadOptions{Rate: 40, Duration: time.Second, Mix: "mixed", UserID: "01-000000000000001"})
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 20*time.Second || rep.Sent < 30 || rep.Sent > 41 || rep.ByStatus["200"] != rep.Sent || rep.Errors() != 0 || rep.Max < rep.P50 {
		t.Fatalf("load report %+v", rep)
	}
	var receipts, products int64
	e.db.Table("receipts").Count(&receipts)
	e.db.Table("products").Count(&products)
	if receipts == 0 || products == 0 || int(receipts)+int(products)/6 != rep.Sent {
		t.Fatalf("%d receipts and %d products stored for %d requests", receipts, products, rep.Sent)
	}
	if _, err := c.Load(context.Background(), cloud.LoadOptions{Rate: 1, Duration: time.Second, Mix: "everything"}); err == nil {
		t.Fatal("an unknown mix was accepted")
	}
}
