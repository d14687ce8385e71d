// Package forward sends every accepted delivery on to the partner's own systems: an outbox in
// the database (impl/storage/outbox.go), a job queue (River, on the same database) that POSTs
// each message signed per Standard Webhooks (security/webhook), retried with exponential
// backoff for days, in order per Evotor user.
package forward

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/evotor-partner/evotor-partner/security/webhook"
)

// Destination is one endpoint that receives every message, and the secret that signs them.
type Destination struct {
	URL    string
	Secret webhook.Secret
}

// ParseDestinations reads the comma-separated URLs and secrets of the configuration: one
// secret for every URL, or one per URL in the same order. A URL is https://, or http:// to a
// loopback host (a receiver beside the server) or when allowHTTP says so: the messages carry
// merchants' sales. It carries no credentials and no secret-looking query parameter: the URL is
// stored with every message, shown by the admin API and logged; the signature authenticates.
func ParseDestinations(urls, secrets string, allowHTTP bool) ([]Destination, error) {
	us, ss := splitList(urls), splitList(secrets)
	if len(us) == 0 {
		if len(ss) > 0 {
			return nil, fmt.Errorf("a secret but no URL")
		}
		return nil, nil
	}
	if len(ss) != 1 && len(ss) != len(us) {
		return nil, fmt.Errorf("want one secret, or one per URL (%d URLs, %d secrets)", len(us), len(ss))
	}
	out := make([]Destination, len(us))
	seen := map[string]bool{}
	for i, raw := range us {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("URL %d: want http(s)://host/path", i+1)
		}
		if u.User != nil {
			return nil, fmt.Errorf("URL %d: no credentials in the URL (the signature authenticates)", i+1)
		}
		for name := range u.Query() {
			if secretLooking(name) {
				return nil, fmt.Errorf("URL %d: no secret in its query (%q; the URL is logged and shown; the signature authenticates)", i+1, name)
			}
		}
		if u.Scheme == "http" && !allowHTTP && !loopback(u.Hostname()) {
			return nil, fmt.Errorf("URL %d: https:// required (http:// only to a loopback host, or with EVOTOR_PARTNER_FORWARD_ALLOW_HTTP=true)", i+1)
		}
		if seen[raw] {
			return nil, fmt.Errorf("URL %d: listed twice", i+1)
		}
		seen[raw] = true
		secret, err := webhook.ParseSecret(ss[min(i, len(ss)-1)])
		if err != nil {
			return nil, fmt.Errorf("secret %d: %w", min(i, len(ss)-1)+1, err)
		}
		out[i] = Destination{URL: raw, Secret: secret}
	}
	return out, nil
}

// secretLooking: a query parameter whose name says it holds a secret.
func secretLooking(name string) bool {
	name = strings.ToLower(name)
	for _, word := range []string{"token", "secret", "key", "pass", "pwd", "auth", "sig", "credential"} {
		if strings.Contains(name, word) {
			return true
		}
	}
	return false
}

// loopback: the host is this machine (localhost, 127.0.0.0/8, ::1).
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// Config is how messages are sent. Zero fields take the defaults below.
type Config struct {
	Destinations []Destination
	// DatabaseURL lets the queue LISTEN for new jobs on PostgreSQL (instead of polling).
	DatabaseURL string
	// Timeout of one attempt (default 10 s): no answer by then is a failure.
	Timeout time.Duration
	// RetryBase is the first retry's delay (default 1 s); each next one doubles, up to RetryCap
	// (default 1 h), with up to 20 % added at random so retries of many messages spread out.
	RetryBase, RetryCap time.Duration
	// RetryFor is how long a failing message is retried before it is dead (default 72 h, as
	// long as Evotor retries us).
	RetryFor time.Duration
	// RescueAfter is how long a job may seem to run before it is taken for lost (its process
	// killed) and run again elsewhere (default 1 min; at least a job's time, DrainFor + Timeout + 5 s).
	RescueAfter time.Duration
	// PollInterval is how often idle workers look for due jobs (default 200 ms).
	PollInterval time.Duration
	// Workers is how many messages one process sends at once (default 32).
	Workers int
	// DrainFor is how long one job goes on sending a user's next messages after its own
	// (default 30 s): a backlog drains without a queue poll between messages; then a fresh job
	// goes on, so no job runs for long.
	DrainFor time.Duration
	// SweepInterval is how often pending messages whose job is gone (finalised while the row
	// stayed pending, or lost) are given a fresh one (default 1 min).
	SweepInterval time.Duration
	// Observe, when set, is told of every attempt: the destination and the HTTP status (0: no
	// answer). impl/metrics' Metrics.ForwardAttempt counts them.
	Observe func(destination string, status int)
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Timeout, 10*time.Second)
	def(&c.RetryBase, time.Second)
	def(&c.RetryCap, time.Hour)
	def(&c.RetryFor, 72*time.Hour)
	def(&c.RescueAfter, time.Minute)
	def(&c.PollInterval, 200*time.Millisecond)
	def(&c.SweepInterval, time.Minute)
	def(&c.DrainFor, 30*time.Second)
	c.RescueAfter = max(c.RescueAfter, c.jobTimeout())
	if c.Workers <= 0 {
		c.Workers = 32
	}
	return c
}

// jobTimeout bounds one job run: draining, then the last HTTP attempt, plus the database
// writes around them.
func (c Config) jobTimeout() time.Duration { return c.DrainFor + c.Timeout + 5*time.Second }

// Rescue is the rescue delay forwarding's River client runs with (RescueAfter with the
// defaults applied): another River client on the same database (the periodic sync) runs the
// rescuer with the same delay when it leads.
func (c Config) Rescue() time.Duration { return c.withDefaults().RescueAfter }
