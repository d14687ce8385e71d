package tests

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/evotor-partner/evotor-partner/security"
	"github.com/labstack/echo/v4"
)

// badInput is a request that must be refused with code and subject.
type badInput struct {
	name, op, body string
	code           int
	subject        string
}

// TestBadInputGetsEvotorErrors: malformed JSON 2001, a missing required field 2002, a wrong
// type or value 2003 (hostile input among them: NUL, integers beyond int64, deep nesting,
// invalid UTF-8) — each with the field as subject, never the value, the same on every database
// — nothing stored, and the refusal logged at WARN with operation, code and subject.
func TestBadInputGetsEvotorErrors(t *testing.T) {
	t.Parallel()
	cases := []badInput{
		{"truncated json", "subscriptionEvent", `{"subscriptionId":`, security.CodeMalformed, ""},
		{"not json", "putStores", `uuid=1`, security.CodeMalformed, ""},
		{"trailing garbage", "putStores", `[{"uuid":"20170228-F4F1-401B-80FA-9ECCA8451FFB","name":"x"}] {}`, security.CodeMalformed, ""},
		{"empty body", "putDevices", ``, security.CodeMissing, "body"},
		{"missing token", "storeCloudToken", `{"userId":"01-000000000000001"}`, security.CodeMissing, "token"},
		{"missing userId", "storeCloudToken", `{"token":"secret-cloud-token"}`, security.CodeMissing, "userId"},
		{"missing userId on create", "createUser", `{"email":"a@b.ru"}`, security.CodeMissing, "userId"},
		{"missing password", "verifyUser", `{"userId":"01-000000000000001","username":"x"}`, security.CodeMissing, "password"},
		{"missing store name", "putStores", `[{"uuid":"20170228-F4F1-401B-80FA-9ECCA8451FFB"}]`, security.CodeMissing, "name"},
		{"missing sequenceNumber", "subscriptionEvent", `{"subscriptionId":"s","productId":"p","userId":"01-000000000000001","timestamp":"2017-04-20T18:26:37.753+0000","type":"SubscriptionCreated"}`, security.CodeMissing, "sequenceNumber"},
		{"sequenceNumber not a number", "subscriptionEvent", `{"subscriptionId":"s","productId":"p","userId":"01-000000000000001","timestamp":"2017-04-20T18:26:37.753+0000","sequenceNumber":"SECRETVALUE","type":"T"}`, security.CodeIncorrect, "sequenceNumber"},
		{"empty userId", "storeCloudToken", `{"userId":"","token":"SECRETVALUE"}`, security.CodeIncorrect, "userId"},
		{"bad time", "subscriptionEvent", `{"subscriptionId":"s","productId":"p","userId":"01-000000000000001","timestamp":"SECRETVALUE","sequenceNumber":1,"type":"T"}`, security.CodeIncorrect, "timestamp"},
		{"product uuid over 256 characters", "createProducts", `[{"uuid":"SECRETVALUE` + strings.Repeat("x", 256) + `","name":"x","group":false}]`, security.CodeIncorrect, "uuid"},
		{"object instead of array", "putDevices", `{"uuid":"20170222-D58C-40E0-8051-B53ADFF38860"}`, security.CodeIncorrect, "body"},
		{"group not boolean", "createProducts", `[{"uuid":"01ba18b6-8707-5f47-3d9c-4db058054cb2","name":"x","group":"SECRETVALUE"}]`, security.CodeIncorrect, "group"},
		{"millis not digits", "installationEvent", `{"id":"a99fbf70-6307-4acc-b61c-741ee9eef6c0","timestamp":"SECRETVALUE","version":2,"type":"ApplicationInstalled","data":{"userId":"01-000000000000001","productId":"p"}}`, security.CodeIncorrect, "timestamp"},
	}
	cases = append(cases, hostileCases()...)
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		user := bearer(e.createUser("01-000000000000001"))
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				o := opByID(t, c.op)
				h := credentialFor(o, user)
				status, resp := e.send(o, []byte(c.body), h)
				expectError(t, status, resp, 400, c.code, c.subject)
				if bytes.Contains(resp, []byte("SECRET")) {
					t.Fatalf("error body echoes the submitted value: %s", resp)
				}
				expectRefusalLogged(t, e.logs.String(), o.ID, c.code, c.subject)
			})
		}
		if n := e.inboxCount(); n != 0 {
			t.Fatalf("%d inbox rows after rejected bodies", n)
		}
		if strings.Contains(e.logs.String(), "SECRET") {
			t.Fatal("a refused value reached the log")
		}
	})
}

// TestTransportErrorsUseTheEnvelope: unknown path 404, wrong method 405, wrong content type 415,
// too large 413 — all in Evotor's envelope; a trailing slash is tolerated.
func TestTransportErrorsUseTheEnvelope(t *testing.T) {
	t.Parallel()
	e := newEnv(t, backends()[0], withBodyLimit(4096))
	do := func(method, path, contentType, body string) (int, []byte) {
		req, _ := http.NewRequestWithContext(context.Background(), method, "http://x"+path, strings.NewReader(body))
		req.Header.Set("Authorization", bearer(appToken))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		res, _ := inProcess{e.api}.Do(req)
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(res.Body)
		return res.StatusCode, buf.Bytes()
	}
	status, body := do("GET", "/api/v1/nothing", "", "")
	expectError(t, status, body, 404, 404, "")
	status, body = do("GET", "/api/v1/user/create", "", "")
	expectError(t, status, body, 405, 405, "")
	status, body = do("POST", "/api/v1/user/token", "text/plain", `{"userId":"01-000000000000001","token":"t"}`)
	expectError(t, status, body, 415, 415, "")
	status, body = do("POST", "/api/v1/user/token", "application/json", `{"userId":"01-000000000000001","token":"`+strings.Repeat("a", 5000)+`"}`)
	expectError(t, status, body, 413, 413, "")
	if status, body = do("POST", "/api/v1/user/token/", "application/json", `{"userId":"01-000000000000001","token":"t"}`); status != 200 {
		t.Fatalf("trailing slash: %d %s", status, body)
	}
	if status, body = do("POST", "/api/v1/user/create", "application/json; charset=utf-8", `{"userId":"01-000000000000001"}`); status != 200 {
		t.Fatalf("charset parameter: %d %s", status, body)
	}
}

// TestValidatorFailsClosed: a route echo knows but the spec does not name is never run: the
// validator answers 404 in the envelope before it (405 for a spec path with another method).
func TestValidatorFailsClosed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, backends()[0])
	ran := false
	e.api.GET("/api/v1/unlisted", func(c echo.Context) error { ran = true; return c.String(http.StatusOK, "unchecked") })
	e.api.DELETE("/api/v1/user/create", func(c echo.Context) error { ran = true; return c.String(http.StatusOK, "unchecked") })
	for _, c := range []struct {
		method, path string
		status       int
	}{{http.MethodGet, "/api/v1/unlisted", 404}, {http.MethodDelete, "/api/v1/user/create", 405}} {
		rec := httptest.NewRecorder()
		e.api.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, http.NoBody))
		expectError(t, rec.Code, rec.Body.Bytes(), c.status, c.status, "")
	}
	if ran {
		t.Fatal("a handler the spec does not name ran")
	}
}

// TestOversizedHeadersGetTheEnvelope: headers over 64 KiB together are refused with 431 in
// Evotor's envelope, before the credential is looked at; just under is served.
func TestOversizedHeadersGetTheEnvelope(t *testing.T) {
	t.Parallel()
	e := newEnv(t, backends()[0])
	for _, c := range []struct {
		size   int
		status int
	}{{60 << 10, 200}, {70 << 10, 431}} {
		req := httptest.NewRequest(http.MethodGet, "/healthz", http.NoBody)
		req.Header.Set("X-Padding", strings.Repeat("a", c.size))
		rec := httptest.NewRecorder()
		e.api.ServeHTTP(rec, req)
		if c.status == 200 {
			if rec.Code != 200 {
				t.Fatalf("%d KiB of headers: %d %s", c.size>>10, rec.Code, rec.Body)
			}
			continue
		}
		expectError(t, rec.Code, rec.Body.Bytes(), 431, 431, "")
	}
	req := httptest.NewRequest(http.MethodPost, "/api/v1/user/create", strings.NewReader(`{"userId":"01-000000000000001"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+strings.Repeat("x", 70<<10)) // a monstrous credential
	rec := httptest.NewRecorder()
	e.api.ServeHTTP(rec, req)
	expectError(t, rec.Code, rec.Body.Bytes(), 431, 431, "")
}
