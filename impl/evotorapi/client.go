// Package evotorapi calls Evotor's REST API v2 (openapi/evotor-rest.yaml) with a user's cloud
// token: the generated client (generated/evotorrest) builds each request from the contract;
// this package adds what every call needs and the contract cannot say — the token in memory
// only, the media type, a timeout per request, bounded retries that honour Evotor's rate-limit
// answers, paging as an iterator, lenient reading (each object's raw JSON kept beside its typed
// view) and errors a caller can act on (ErrTokenInvalid, ErrScope, …).
//
// Build one Client at start-up; per user, take a Session with the user's token and make the
// calls of one sync through it:
//
//	evo, _ := evotorapi.New(evotorapi.Config{BaseURL: os.Getenv("EVOTOR_PARTNER_EVOTOR_API_URL")})
//	s := evo.Session(evotorapi.NewCloudToken(unsealed))
//	for p, err := range s.Products(ctx, storeID, evotorapi.ProductFilter{}) {
//		if errors.Is(err, evotorapi.ErrTokenInvalid) { /* mark the user's token invalid */ }
//		...
//	}
package evotorapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/evotor-partner/evotor-partner/generated/evotorrest"
)

// DefaultBaseURL is Evotor Cloud's API.
const DefaultBaseURL = "https://api.evotor.ru"

// MediaType is what every request accepts and every single-object body is sent as;
// BulkMediaType is a bulk body's (an array of objects).
const (
	MediaType     = "application/vnd.evotor.v2+json"
	BulkMediaType = "application/vnd.evotor.v2+bulk+json"
)

// Config is how the client talks to Evotor. The zero value is usable: Evotor's own API, 30 s
// per request, 4 attempts.
type Config struct {
	// BaseURL is where Evotor's API is (EVOTOR_PARTNER_EVOTOR_API_URL; a simulator's in tests).
	// Default DefaultBaseURL. http or https, no credentials, no query.
	BaseURL string
	// HTTPClient sends the requests. Default: a client that does not follow redirects (a 3xx is
	// an answer, not followed with the token to wherever it points).
	HTTPClient *http.Client
	// Timeout bounds each request, from sending it to reading its whole answer. Default 30s.
	Timeout time.Duration
	// MaxAttempts bounds the requests one call makes (the first and its retries). Default 4.
	MaxAttempts int
	// BaseDelay is the first backoff when Evotor says nothing of when to come back; it doubles
	// each retry, with jitter. Default 500ms.
	BaseDelay time.Duration
	// MaxDelay is the longest the client waits before one retry. When Evotor asks for longer
	// (Retry-After, X-RateLimit-Reset) the call returns at once with ErrRateLimited and
	// APIError.RetryAfter, for the caller to come back later. Default 30s.
	MaxDelay time.Duration
	// MaxBodyBytes bounds an answer's size. Default 64 MiB.
	MaxBodyBytes int64
	// UserAgent is sent in User-Agent. Default "evotor-partner".
	UserAgent string
	// Logger gets a line for each retry (the call, the status, the attempt, the wait; never the
	// token or a URL). Default: none.
	Logger *slog.Logger
	// Observe, when set, is told of every request: the call, the HTTP status (0 when none came),
	// and how long it took. For metrics ("Evotor API calls by status").
	Observe func(op string, status int, took time.Duration)
}

// Client calls Evotor's API. Safe for concurrent use; build it once.
type Client struct {
	api   *evotorrest.Client
	cfg   Config
	sleep func(ctx context.Context, d time.Duration) error // a test replaces it
	now   func() time.Time
}

// New builds a Client from cfg, filling in the defaults. It fails on a base URL that is not
// an absolute http(s) URL, or that carries credentials or a query.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("evotor API base URL %q: want an absolute http(s) URL", cfg.BaseURL)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("evotor API base URL: no credentials, query or fragment (the token goes in a header)")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 4
	}
	if cfg.BaseDelay <= 0 {
		cfg.BaseDelay = 500 * time.Millisecond
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = 30 * time.Second
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 64 << 20
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "evotor-partner"
	}
	api, err := evotorrest.NewClient(strings.TrimSuffix(cfg.BaseURL, "/")+"/", evotorrest.WithHTTPClient(cfg.HTTPClient))
	if err != nil {
		return nil, fmt.Errorf("evotor API client: %w", err)
	}
	return &Client{api: api, cfg: cfg, sleep: sleepCtx, now: time.Now}, nil
}

// Session is one user's calls: the client and the user's cloud token. It remembers Evotor's
// "no requests left until …" between its calls, so take one per sync and make the sync's calls
// through it. Safe for concurrent use.
type Session struct {
	c   *Client
	tok CloudToken

	mu        sync.Mutex
	notBefore time.Time // no request before this (X-RateLimit-Remaining: 0 with a reset time)
}

// Session starts a user's calls with their cloud token.
func (c *Client) Session(tok CloudToken) *Session { return &Session{c: c, tok: tok} }

// answer is a response read whole within its request's timeout.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// call is one generated-client call; edit adds the token and the media type.
type call func(ctx context.Context, edit evotorrest.RequestEditorFn) (*http.Response, error)

// do makes op's request until it gets an answer worth returning: 2xx, or an error status that
// retrying will not change, or the attempts or the waiting allowed are spent. idempotent says
// whether a request that may have reached Evotor (a 5xx, a timeout, a broken connection) may
// be sent again: never for a POST that creates.
func (s *Session) do(ctx context.Context, op string, idempotent bool, send call) (answer, error) {
	if !s.tok.usable() {
		return answer{}, newCallError(s.tok, op, 0, ErrNoToken, ErrNoToken)
	}
	cfg := s.c.cfg
	for attempt := 1; ; attempt++ {
		if err := s.pace(ctx); err != nil {
			return answer{}, newCallError(s.tok, op, attempt-1, nil, err)
		}
		a, err := s.attempt(ctx, op, send)
		if err != nil {
			if ctx.Err() != nil { // the caller gave up: not Evotor's fault, nothing to retry
				return answer{}, newCallError(s.tok, op, attempt, nil, ctx.Err())
			}
			if !idempotent || attempt >= cfg.MaxAttempts || untrusted(err) {
				return answer{}, newCallError(s.tok, op, attempt, ErrUnavailable, err)
			}
			wait := s.c.backoff(attempt)
			s.logRetry(ctx, op, 0, attempt, wait)
			if err := s.c.sleep(ctx, wait); err != nil {
				return answer{}, newCallError(s.tok, op, attempt, nil, err)
			}
			continue
		}
		s.remember(a.header)
		if a.status >= 200 && a.status < 300 {
			return a, nil
		}
		retryable := a.status == http.StatusTooManyRequests || (a.status >= 500 && idempotent)
		hint, hinted := s.c.waitHint(a.header)
		if !retryable || attempt >= cfg.MaxAttempts || (hinted && hint > cfg.MaxDelay) {
			return answer{}, s.apiError(op, a, attempt, hint)
		}
		wait := hint
		if !hinted {
			wait = s.c.backoff(attempt)
		}
		s.logRetry(ctx, op, a.status, attempt, wait)
		if err := s.c.sleep(ctx, wait); err != nil {
			return answer{}, newCallError(s.tok, op, attempt, nil, err)
		}
	}
}

// untrusted reports a server certificate this machine does not trust (a CA missing from the
// bundle, a name that does not match): asking again gets the same certificate.
func untrusted(err error) bool {
	var verification *tls.CertificateVerificationError
	var hostname x509.HostnameError
	var authority x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	return errors.As(err, &verification) || errors.As(err, &hostname) || errors.As(err, &authority) || errors.As(err, &invalid)
}

// attempt sends one request and reads its whole answer within cfg.Timeout.
func (s *Session) attempt(ctx context.Context, op string, send call) (answer, error) {
	cfg := s.c.cfg
	actx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	start := s.c.now()
	resp, err := send(actx, s.edit)
	if err != nil {
		s.observe(op, 0, start)
		return answer{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, cfg.MaxBodyBytes+1))
	s.observe(op, resp.StatusCode, start)
	if err != nil {
		return answer{}, fmt.Errorf("reading the answer (%d): %w", resp.StatusCode, err)
	}
	if int64(len(body)) > cfg.MaxBodyBytes {
		return answer{}, fmt.Errorf("answer over %d bytes", cfg.MaxBodyBytes)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// edit puts the token, the accepted media type and the user agent on a request.
func (s *Session) edit(_ context.Context, req *http.Request) error {
	req.Header.Set("Authorization", "Bearer "+s.tok.secret)
	req.Header.Set("Accept", MediaType)
	req.Header.Set("User-Agent", s.c.cfg.UserAgent)
	return nil
}

func (s *Session) observe(op string, status int, start time.Time) {
	if s.c.cfg.Observe != nil {
		s.c.cfg.Observe(op, status, s.c.now().Sub(start))
	}
}

func (s *Session) logRetry(ctx context.Context, op string, status, attempt int, wait time.Duration) {
	if l := s.c.cfg.Logger; l != nil {
		l.LogAttrs(ctx, slog.LevelWarn, "evotor api: retrying", slog.String("op", op), slog.Int("status", status),
			slog.Int("attempt", attempt), slog.Duration("wait", wait))
	}
}

// remember keeps "none left until …" from an answer's rate-limit headers, so the session's
// next request waits for it instead of being refused.
func (s *Session) remember(h http.Header) {
	if strings.TrimSpace(h.Get("X-RateLimit-Remaining")) != "0" && strings.TrimSpace(h.Get("RateLimit-Remaining")) != "0" {
		return
	}
	wait, ok := s.c.resetHint(h)
	if !ok || wait <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.c.now().Add(wait); t.After(s.notBefore) {
		s.notBefore = t
	}
}

// pace waits until the session may send again (at most MaxDelay: past that the request goes,
// and Evotor's answer decides).
func (s *Session) pace(ctx context.Context) error {
	s.mu.Lock()
	wait := s.notBefore.Sub(s.c.now())
	s.mu.Unlock()
	if wait <= 0 {
		return nil
	}
	return s.c.sleep(ctx, min(wait, s.c.cfg.MaxDelay))
}

// apiError reads Evotor's error body, if it has one we understand, into an APIError.
func (s *Session) apiError(op string, a answer, attempts int, retryAfter time.Duration) *APIError {
	e := &APIError{Op: op, Status: a.status, Attempts: attempts, RetryAfter: retryAfter}
	var body evotorrest.ErrorBody
	if len(bytes.TrimSpace(a.body)) > 0 && jsonUnmarshal(a.body, &body) == nil {
		if body.Code != nil {
			e.Code, _ = Text(body.Code)
		}
		if body.Message != nil {
			e.Message = *body.Message
		}
		if body.Violations != nil {
			for _, v := range *body.Violations {
				var vi Violation
				if v.Subject != nil {
					vi.Subject = s.tok.scrub(*v.Subject)
				}
				if v.Reason != nil {
					vi.Reason = s.tok.scrub(*v.Reason)
				}
				e.Violations = append(e.Violations, vi)
			}
		}
	}
	e.Code = clip(s.tok.scrub(e.Code), 64)
	e.Message = clip(s.tok.scrub(e.Message), 200)
	return e
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 { // do not cut a UTF-8 sequence
		n--
	}
	return s[:n] + "…"
}

// backoff is the wait before retry number attempt when Evotor said nothing: BaseDelay doubled
// per attempt, capped at MaxDelay, half of it random (so many users' syncs do not retry in step).
func (c *Client) backoff(attempt int) time.Duration {
	d := c.cfg.BaseDelay << min(attempt-1, 20)
	if d <= 0 || d > c.cfg.MaxDelay {
		d = c.cfg.MaxDelay
	}
	return d/2 + rand.N(d/2+1)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
