package tests

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Account and event operations take bodies of kilobytes (the spec's x-body-limit, 64 KiB): a
// larger one is refused with 413 in Evotor's envelope before it is parsed — whether its
// length is declared or it comes chunked — so no such body can cost the server memory.
// Notifications keep the server's limit (Evotor's catalogues reach 10 MB).
func TestSmallOperationsRefuseLargeBodies(t *testing.T) {
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
