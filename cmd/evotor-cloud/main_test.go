package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/evotor-partner/evotor-partner/impl"
	"github.com/evotor-partner/evotor-partner/impl/store"
	"github.com/evotor-partner/evotor-partner/security"
)

const appToken = "3a5f1c2e-7b9d-4e8f-a1b2-c3d4e5f6a7b8"

func partnerServer(t *testing.T) *httptest.Server {
	st, err := store.Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	sealer, _ := security.NewSealer(make([]byte, security.SecretKeySize))
	api, err := impl.NewAPI(impl.APIConfig{Store: st, Sealer: sealer, App: security.AppCredentials{Tokens: []string{appToken}},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return srv
}

func TestExitCodes(t *testing.T) {
	good := partnerServer(t)
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(502) }))
	defer broken.Close()
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"lifecycle", "--target", good.URL, "--app-token", appToken}, &out, &errOut); code != 0 {
		t.Fatalf("healthy server: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "13 steps, re-sends 0: all passed") {
		t.Fatalf("report: %s", out.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"lifecycle", "--target", broken.URL, "--app-token", appToken, "--retries", "1", "--retry-interval", "1ms", "--json"}, &out, &errOut); code != 1 {
		t.Fatalf("broken server: exit %d", code)
	}
	var rep struct {
		OK      bool  `json:"ok"`
		Resends int64 `json:"resends"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.OK || rep.Resends != 13 {
		t.Fatalf("JSON report %s (%v)", out.String(), err)
	}
	if code := run(context.Background(), []string{"lifecycle", "--target", good.URL}, &out, &errOut); code != 2 {
		t.Fatalf("no credential: exit %d", code)
	}
}
