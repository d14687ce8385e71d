package tests

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/evotor-partner/evotor-partner/impl"
)

// Account and event operations take bodies of kilobytes (the spec's x-body-limit, 64 KiB): a
// larger one is refused with 413 in Evotor's envelope before it is parsed — whether its
// length is declared or it comes chunked — so no such body can cost the server memory.
// Notifications keep the server's limit (Evotor's catalogues reach 10 MB).
func TestSmallOperationsRefuseLargeBodies(t *testing.T) {
	t.Parallel()
	e := newEnv(t, backends()[0])
	huge := []byte("[" + strings.Repeat("0,", 1<<20) + "0]") // 2 MiB of a long array of scalars
	fits := []byte(`{"userId":"01-000000000000001","note":"` + strings.Repeat("x", 60<<10) + `"}`)
	for _, path := range []string{"/api/v1/user/create", "/api/v1/user/verify", "/api/v1/user/token",
		"/api/v1/subscription/event", "/api/v2/installation/event"} {
		for _, chunked := range []bool{false, true} {
			var body io.Reader = bytes.NewReader(huge)
			if chunked {
				body = io.MultiReader(body) // no length known: sent chunked
			}
			req := httptest.NewRequest(http.MethodPost, path, body)
			if chunked {
				req.ContentLength = -1
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", bearer(appToken))
			rec := httptest.NewRecorder()
			e.api.ServeHTTP(rec, req)
			if rec.Code != http.StatusRequestEntityTooLarge || strings.TrimSpace(rec.Body.String()) != `{"errors":[{"code":413,"reason":"too large"}]}` {
				t.Errorf("%s, 2 MiB (chunked %v): %d %s", path, chunked, rec.Code, rec.Body)
			}
		}
	}
	if status, resp := e.send(opByID(t, "createUser"), fits, bearer(appToken)); status != 200 {
		t.Fatalf("a 60 KiB user/create: %d %s", status, resp)
	}
	user := bearer(e.createUser("01-000000000000002"))
	if status, resp := e.sendTo(opByID(t, "createProducts"), goodStoreID, catalogue(2<<20), user); status != 200 {
		t.Fatalf("a 2 MiB catalogue: %d %s", status, resp)
	}
}

// TestLargeBodiesAtOnceAreBounded: while large bodies fill the budget of bytes in flight
// (EVOTOR_PARTNER_BODY_BUDGET), another large one waits, then is refused with 503 and a
// Retry-After rather than read (Evotor re-sends); a small body (a receipt) is never held back;
// once the budget frees, the large one is stored.
func TestLargeBodiesAtOnceAreBounded(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("a load of large bodies: make test runs it")
	}
	e := newEnv(t, backends()[0], func(c *impl.APIConfig) { c.BodyBudget = 3 << 20 })
	user := bearer(e.createUser("01-000000000000001"))
	body := catalogue(2 << 20)
	// A catalogue that arrives slowly holds 2 of the 3 MiB while it is read.
	slow, feed := io.Pipe()
	req := httptest.NewRequest(http.MethodPost, "/api/v1/inventories/stores/"+goodStoreID+"/products", slow)
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", user)
	done := make(chan int)
	go func() {
		rec := httptest.NewRecorder()
		e.api.ServeHTTP(rec, req)
		done <- rec.Code
	}()
	_, _ = feed.Write(body[:1024]) // it has begun
	// Another 2 MiB catalogue does not fit beside it.
	other := httptest.NewRequest(http.MethodPost, "/api/v1/inventories/stores/20170928-3176-40EB-80E2-A11F032E2800/products", bytes.NewReader(body))
	other.Header.Set("Content-Type", "application/json")
	other.Header.Set("Authorization", user)
	rec := httptest.NewRecorder()
	e.api.ServeHTTP(rec, other)
	if rec.Header().Get("Retry-After") == "" {
		t.Fatalf("a large body beyond the budget: no Retry-After (%d %s)", rec.Code, rec.Body)
	}
	expectError(t, rec.Code, rec.Body.Bytes(), 503, 503, "")
	// A receipt is not held back.
	if status, resp := e.send(opByID(t, "postReceipts"), receipt("b5c9e8a2-3d1f-4a6e-9b7c-2f0e1d3c9999", goodStoreID, 1), user); status != 200 {
		t.Fatalf("a receipt while the budget is full: %d %s", status, resp)
	}
	_, _ = feed.Write(body[1024:])
	_ = feed.Close()
	if code := <-done; code != 200 {
		t.Fatalf("the slow catalogue: %d", code)
	}
	if status, resp := e.sendTo(opByID(t, "createProducts"), "20170928-3176-40EB-80E2-A11F032E2800", body, user); status != 200 {
		t.Fatalf("the refused catalogue, sent again: %d %s", status, resp)
	}
}
