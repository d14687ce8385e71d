package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/evotor-partner/evotor-partner/cmd/internal/cli"
)

// healthcheckCommand is `healthcheck`: the container's probe (the image has no shell or curl).
// It GETs --url, by default /healthz on this machine at the port of EVOTOR_PARTNER_ADDR, and
// exits 0 on a 2xx answer, 1 on anything else. It reads no other configuration.
func healthcheckCommand(fs *flag.FlagSet) cli.Action {
	target := fs.String("url", "", "the `URL` to GET (default: http://127.0.0.1:<port of "+envAddr+">/healthz)")
	timeout := fs.Duration("timeout", 2*time.Second, "how long to wait for the answer")
	return func(ctx context.Context, _ []string, std cli.Streams) error {
		u := *target
		if u == "" {
			var err error
			if u, err = localHealthURL(env(envAddr, ":8080")); err != nil {
				return err
			}
		}
		ctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return cli.UsageError(fmt.Errorf("--url: %w", err))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("GET %s: %w", u, err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("GET %s: %s", u, resp.Status)
		}
		fmt.Fprintf(std.Stdout, "GET %s: %s\n", u, resp.Status)
		return nil
	}
}

// localHealthURL is /healthz at addr's port, on loopback when addr is every interface.
func localHealthURL(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("%s: want host:port such as :8080, got %q", envAddr, addr)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/healthz", nil
}
