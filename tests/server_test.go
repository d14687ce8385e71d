package tests

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/evotor-partner/evotor-partner/impl/storage"
)

// TestConcurrentCreateRetries: Evotor re-sends user/create when it gets no answer in time, so
// copies of one create can overlap. All answer 200, one account exists, every token works.
func TestConcurrentCreateRetries(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		const copies = 12
		tokens := make([]string, copies)
		var wg sync.WaitGroup
		for i := range copies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := e.client.CreateUserWithBodyWithResponse(context.Background(), jsonUTF8,
					strings.NewReader(`{"userId":"01-000000000000009","login":"same"}`), auth(bearer(appToken)))
				if err != nil || res.JSON200 == nil {
					t.Errorf("copy %d: %v %s", i, err, res.Body)
					return
				}
				tokens[i] = res.JSON200.Token
			}()
		}
		wg.Wait()
		var n int64
		e.db.Model(&storage.Account{}).Count(&n)
		if n != 1 {
			t.Fatalf("%d accounts after %d overlapping creates", n, copies)
		}
		for _, tok := range tokens {
			if tok == "" || !e.tokenWorks(tok) {
				t.Fatal("a token from an overlapping create does not work")
			}
		}
	})
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		h, err := e.client.HealthzWithResponse(context.Background())
		if err != nil || h.JSON200 == nil || h.JSON200.Status != "ok" {
			t.Fatalf("healthz: %v %s", err, h.Body)
		}
		r, err := e.client.ReadyzWithResponse(context.Background())
		if err != nil || r.JSON200 == nil {
			t.Fatalf("readyz: %v %s", err, r.Body)
		}
		_ = e.store.Close()
		r, err = e.client.ReadyzWithResponse(context.Background())
		if err != nil || r.StatusCode() != 503 {
			t.Fatalf("readyz with the database closed: %v %d %s", err, r.StatusCode(), r.Body)
		}
	})
}

// TestOneLogLinePerRequest: method, path, status, duration and the token's user; JSON.
func TestOneLogLinePerRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, backends()[0])
	token := e.createUser("01-000000000000005")
	e.send(opByID(t, "putDevices"), fixture(t, "devices.json"), bearer(token))
	e.send(opByID(t, "putDevices"), fixture(t, "devices.json"), "Bearer wrong")
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not a JSON log line: %s", l)
		}
		if m["msg"] == "request" {
			lines = append(lines, m)
		}
	}
	if len(lines) != 3 {
		t.Fatalf("%d request lines for 3 requests: %v", len(lines), lines)
	}
	ok, refused := lines[1], lines[2]
	if ok["method"] != "PUT" || ok["path"] != "/api/v1/inventories/devices" || ok["status"] != float64(200) ||
		ok["user"] != "01-000000000000005" || ok["duration_ms"] == nil {
		t.Fatalf("accepted request logged as %v", ok)
	}
	if refused["status"] != float64(401) || refused["user"] != nil {
		t.Fatalf("refused request logged as %v", refused)
	}
}
