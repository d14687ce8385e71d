package tests

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/evotor-partner/evotor-partner/security"
)

// createUserWith sends user/create with a wrong app token and the given X-Request-Id ("" none).
func createUserWith(e *env, requestID string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/api/v1/user/create", strings.NewReader(`{"userId":"01-000000000000001"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", bearer("00000000-0000-4000-8000-000000000000"))
	if requestID != "" {
		req.Header.Set("X-Request-Id", requestID)
	}
	rec := httptest.NewRecorder()
	e.api.ServeHTTP(rec, req)
	return rec
}

// logLines are the log's lines with the message msg, decoded.
func logLines(logs, msg string) []map[string]any {
	var found []map[string]any
	for _, line := range strings.Split(logs, "\n") {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) == nil && l["msg"] == msg {
			found = append(found, l)
		}
	}
	return found
}

// TestRequestIDIsAnsweredAndLogged: every answer carries X-Request-Id, and the refusal line and
// the access log line of that request carry the same request_id.
func TestRequestIDIsAnsweredAndLogged(t *testing.T) {
	t.Parallel()
	e := newEnv(t, backends()[0])
	rec := createUserWith(e, "")
	id := rec.Header().Get("X-Request-Id")
	if rec.Code != http.StatusUnauthorized || id == "" {
		t.Fatalf("status %d, X-Request-Id %q: want 401 with an id", rec.Code, id)
	}
	logs := e.logs.String()
	expectRefusalLogged(t, logs, "createUser", security.CodeBadAppCredential, "")
	for _, msg := range []string{"request refused", "request"} {
		lines := logLines(logs, msg)
		if len(lines) != 1 || lines[0]["request_id"] != id {
			t.Errorf("%q lines %v: want one with request_id %q", msg, lines, id)
		}
	}
	if again := createUserWith(e, "").Header().Get("X-Request-Id"); again == id {
		t.Errorf("two requests got the same id %q", id)
	}
}

// TestRequestIDFromTheCaller: a sane incoming X-Request-Id is kept; one that could bloat or
// forge the log is replaced.
func TestRequestIDFromTheCaller(t *testing.T) {
	t.Parallel()
	e := newEnv(t, backends()[0])
	const traced = "edge-7f3a9c:42"
	if got := createUserWith(e, traced).Header().Get("X-Request-Id"); got != traced {
		t.Errorf("X-Request-Id %q: want the caller's %q", got, traced)
	}
	for _, bad := range []string{strings.Repeat("a", 129), `x","level":"ERROR`, "id with spaces"} {
		got := createUserWith(e, bad).Header().Get("X-Request-Id")
		if got == "" || got == bad {
			t.Errorf("caller's %q: answered %q, want a new id", bad, got)
		}
		if strings.Contains(e.logs.String(), bad) {
			t.Errorf("caller's %q reached the log", bad)
		}
	}
}
