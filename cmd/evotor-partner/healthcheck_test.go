package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/evotor-partner/evotor-partner/cmd/internal/cli"
)

// TestHealthcheck: the container's probe exits 0 when /healthz at the port of
// EVOTOR_PARTNER_ADDR answers 2xx (on loopback when the address is every interface), and 1
// when it answers otherwise or nothing listens.
func TestHealthcheck(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			status = http.StatusTeapot // the probe asked elsewhere: fail it
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	probe := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := program.Run(context.Background(), append([]string{"healthcheck"}, args...), cli.Streams{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out})
		return code, out.String()
	}
	for _, addr := range []string{":" + port, "0.0.0.0:" + port, "127.0.0.1:" + port} {
		t.Setenv(envAddr, addr)
		if code, out := probe(); code != 0 {
			t.Fatalf("%s=%s: exit %d: %s", envAddr, addr, code, out)
		}
	}
	status = http.StatusServiceUnavailable
	if code, out := probe(); code != cli.ExitFailed || !strings.Contains(out, "503") {
		t.Fatalf("a 503: exit %d: %s", code, out)
	}
	srv.Close()
	if code, _ := probe("--url", srv.URL+"/healthz", "--timeout", "1s"); code != cli.ExitFailed {
		t.Fatalf("nothing listening: exit %d", code)
	}
	t.Setenv(envAddr, "no-port")
	if code, _ := probe(); code == 0 {
		t.Fatal("an address without a port passed")
	}
}
