package cloud

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/evotor-partner/evotor-partner/generated"
)

// Config is how the simulated Cloud reaches a partner server.
type Config struct {
	Target        string // the partner server's base URL
	AppAuth       string // Authorization header for app operations: "Bearer <app token>" or "Basic …"
	Retries       int    // re-sends after a failed attempt (no 200 in time, a 5xx, no connection)
	RetryInterval time.Duration
	Timeout       time.Duration             // per attempt; Evotor waits 10 s
	Doer          generated.HttpRequestDoer // nil: an http.Client
}

// Cloud sends webhooks like Evotor Cloud does.
type Cloud struct {
	cfg     Config
	client  *generated.Client
	resends atomic.Int64
}

// New builds a Cloud for cfg; zero Timeout and RetryInterval take Evotor's 10 s and 1 s.
func New(cfg Config) (*Cloud, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = time.Second
	}
	if cfg.Doer == nil {
		// Keep connections for reuse as a real sender does: Go's default keeps two idle per
		// host, so a load of hundreds per second would open (and leave in TIME_WAIT) a new
		// connection for most requests, measuring the handshake instead of the server.
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.MaxIdleConns, transport.MaxIdleConnsPerHost = 1024, 1024
		cfg.Doer = &http.Client{Transport: transport}
	}
	c, err := generated.NewClient(cfg.Target, generated.WithHTTPClient(cfg.Doer))
	if err != nil {
		return nil, err
	}
	return &Cloud{cfg: cfg, client: c}, nil
}

// Resends counts the re-sent attempts so far.
func (c *Cloud) Resends() int64 { return c.resends.Load() }

// Result is how one delivery ended: the last attempt's status and body.
type Result struct {
	Status   int
	Body     []byte
	Duration time.Duration // from the first attempt to the last answer
	Attempts int
	Err      error // no answer at all
}

// Send delivers body to op with the given Authorization (for user operations: the user
// token, with or without "Bearer "). Like the Cloud, it re-sends when an attempt gets no
// answer within the timeout, or a 5xx.
func (c *Cloud) Send(ctx context.Context, op Operation, storeUUID string, body []byte, authorization string) Result {
	start := time.Now()
	var res Result
	for attempt := 0; attempt <= c.cfg.Retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done(): // no re-send once the run is over: the last attempt's outcome stands
				res.Duration = time.Since(start)
				return res
			case <-time.After(c.cfg.RetryInterval):
			}
			c.resends.Add(1)
		}
		res.Attempts = attempt + 1
		res.Status, res.Body, res.Err = c.attempt(ctx, op, storeUUID, body, authorization)
		if res.Err == nil && res.Status < 500 {
			break
		}
	}
	res.Duration = time.Since(start)
	return res
}

func (c *Cloud) attempt(ctx context.Context, op Operation, storeUUID string, body []byte, authorization string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	resp, err := op.send(ctx, c.client, storeUUID, body, func(_ context.Context, req *http.Request) error {
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, nil, fmt.Errorf("no answer within %s", c.cfg.Timeout)
		}
		return 0, nil, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return resp.StatusCode, nil, err
	}
	return resp.StatusCode, buf.Bytes(), nil
}

// credential is the Authorization an operation takes: the app credential, or the user token.
func (c *Cloud) credential(op Operation, userToken string) string {
	if op.Credential == AppCredential {
		return c.cfg.AppAuth
	}
	if userToken == "" {
		return ""
	}
	return "Bearer " + userToken
}
