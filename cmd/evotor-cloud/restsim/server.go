// Package restsim is the simulator's REST side: Evotor's REST API v2 as openapi/evotor-rest.yaml
// describes it, served through the generated strict server (generated/evotorrest) from a Model
// of what the simulated Cloud knows of its users — the same stores, terminals, employees,
// products and documents it sends the partner as webhooks (a Recorder records them as they
// go), and records it never sent (put into the Model directly: webhooks the partner missed).
//
// As Evotor's API, it wants `Accept: application/vnd.evotor.v2+json` (406 otherwise) and
// `Authorization: Bearer <cloud token>` with the token the Cloud issued the user in
// user/token (Tokens; 401 otherwise, and once revoked or replaced); it pages with opaque
// cursors; it checks every request against the contract (400 with violations, 415 for a body
// in another media type); and on demand it rate-limits (429 with Retry-After and
// X-RateLimit-*) and fails (5xx for the next N calls).
package restsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/labstack/echo/v4"

	"github.com/evotor-partner/evotor-partner/generated/evotorrest"
	"github.com/evotor-partner/evotor-partner/impl/evotor"
)

// DefaultPageSize is how many objects a page holds (about 1000, as a copy of Evotor's
// documentation says).
const DefaultPageSize = 1000

// maxBody bounds a request's body (a bulk write of 1000 products is well under it).
const maxBody = 16 << 20

// Config is how the simulated API behaves. The zero value serves a new, empty model.
type Config struct {
	Model     *Model  // what it serves; nil: a new one
	Tokens    *Tokens // whose tokens it accepts; nil: a new registry
	PageSize  int     // objects per page; default DefaultPageSize (small in tests, so paging is exercised)
	RateLimit RateLimit
	// CheckAnswers checks every answer against the contract (status, media type, body);
	// ContractViolations lists the ones that were not as it says. For tests.
	CheckAnswers bool
	Now          func() time.Time // default time.Now
	Logger       *slog.Logger     // a line per refused request (never the token); nil: none
}

// RateLimit is how many requests each user may make per period; more are answered 429.
type RateLimit struct {
	Requests int           // 0: no limit
	Period   time.Duration // default 1s
}

// Server serves the API. Safe for concurrent use; its settings may change while it serves.
type Server struct {
	model  *Model
	tokens *Tokens
	now    func() time.Time
	log    *slog.Logger
	check  bool
	ops    map[string]*operation // by "METHOD echo-path"
	echo   *echo.Echo

	mu         sync.Mutex
	pageSize   int
	limit      RateLimit
	windows    map[string]*window // by user key
	failNext   int
	failStatus int
	stats      Stats
	violations []string
}

// operation is one operation of the contract, as kin-openapi validates it.
type operation struct {
	id        string
	route     *routers.Route
	bodyTypes map[string]bool // the media types its body may come in; nil: no body
}

type window struct {
	start time.Time
	used  int
}

// Stats counts the requests answered, by status.
type Stats struct {
	Requests int
	ByStatus map[int]int
}

// NewServer builds the API over cfg's model and tokens.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Model == nil {
		cfg.Model = NewModel(cfg.Now)
	}
	if cfg.Tokens == nil {
		cfg.Tokens = NewTokens()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = DefaultPageSize
	}
	spec, err := evotorrest.GetSpec()
	if err != nil {
		return nil, fmt.Errorf("the REST contract: %w", err)
	}
	spec.SetStringFormatValidator("evotor-time", openapi3.NewCallbackValidator(func(s string) error {
		_, err := evotor.ParseTime(s)
		return err
	}))
	s := &Server{model: cfg.Model, tokens: cfg.Tokens, now: cfg.Now, log: cfg.Logger, check: cfg.CheckAnswers,
		ops: map[string]*operation{}, pageSize: cfg.PageSize, windows: map[string]*window{},
		stats: Stats{ByStatus: map[int]int{}}}
	s.SetRateLimit(cfg.RateLimit)
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			o := &operation{id: op.OperationID, route: &routers.Route{Spec: spec, Path: path, PathItem: item, Method: method, Operation: op}}
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				o.bodyTypes = map[string]bool{}
				for mt := range op.RequestBody.Value.Content {
					o.bodyTypes[mt] = true
				}
			}
			s.ops[method+" "+strings.NewReplacer("{", ":", "}", "").Replace(path)] = o
		}
	}
	a := &api{model: s.model, now: s.now, pageSize: func() int {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.pageSize
	}}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Binder = bodyBinder{}
	e.HTTPErrorHandler = s.answerError
	e.Use(s.account, s.gate)
	evotorrest.RegisterHandlers(e, evotorrest.NewStrictHandler(a, nil))
	s.echo = e
	return s, nil
}

// Model is what the server serves.
func (s *Server) Model() *Model { return s.model }

// Tokens are the tokens it accepts.
func (s *Server) Tokens() *Tokens { return s.tokens }

// Handler is the API, for an http.Server or httptest.
func (s *Server) Handler() http.Handler { return s.echo }

// Serve answers on ln until ctx ends (then it shuts down within 2 s).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.echo, ReadHeaderTimeout: 5 * time.Second}
	stop := context.AfterFunc(ctx, func() {
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	})
	defer stop()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// ListenAndServe listens on addr (host:port; port 0 picks a free one), tells ready the API's
// base URL once bound, and serves until ctx ends.
func (s *Server) ListenAndServe(ctx context.Context, addr string, ready func(baseURL string)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if ready != nil {
		ready("http://" + ln.Addr().String())
	}
	return s.Serve(ctx, ln)
}

// SetPageSize changes how many objects a page holds (n ≤ 0: DefaultPageSize).
func (s *Server) SetPageSize(n int) {
	if n <= 0 {
		n = DefaultPageSize
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageSize = n
}

// SetRateLimit changes the rate limit (and starts every user's period afresh).
func (s *Server) SetRateLimit(l RateLimit) {
	if l.Period <= 0 {
		l.Period = time.Second
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit, s.windows = l, map[string]*window{}
}

// FailNext answers the next n authenticated requests with status (a 5xx; 0 means 503) and
// Evotor's error body, as an API having trouble does.
func (s *Server) FailNext(n, status int) {
	if status < 500 || status > 599 {
		status = http.StatusServiceUnavailable
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext, s.failStatus = n, status
}

// Stats counts the answers so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Stats{Requests: s.stats.Requests, ByStatus: map[int]int{}}
	for k, v := range s.stats.ByStatus {
		out.ByStatus[k] = v
	}
	return out
}

// ContractViolations lists the answers that were not as the contract says (with CheckAnswers).
func (s *Server) ContractViolations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.violations...)
}

// account counts every answer, logs refusals, and (CheckAnswers) checks each against the contract.
func (s *Server) account(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		var tee *bytes.Buffer
		if s.check {
			tee = &bytes.Buffer{}
			c.Response().Writer = teeWriter{c.Response().Writer, tee}
		}
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		status := c.Response().Status
		op := s.ops[c.Request().Method+" "+c.Path()]
		s.mu.Lock()
		s.stats.Requests++
		s.stats.ByStatus[status]++
		s.mu.Unlock()
		if s.log != nil && status >= 400 {
			name := "none"
			if op != nil {
				name = op.id
			}
			s.log.LogAttrs(c.Request().Context(), slog.LevelInfo, "evotor api: refused", slog.String("operation", name),
				slog.String("method", c.Request().Method), slog.String("path", c.Request().URL.Path), slog.Int("status", status))
		}
		if s.check && op != nil {
			s.checkAnswer(c, op, status, tee.Bytes())
		}
		return nil
	}
}

type teeWriter struct {
	http.ResponseWriter
	copy *bytes.Buffer
}

func (w teeWriter) Write(b []byte) (int, error) {
	w.copy.Write(b)
	return w.ResponseWriter.Write(b)
}

// gate is what Evotor's API checks before it answers: the media type, the token, the rate
// limit; then the failures asked for, and the request against the contract.
func (s *Server) gate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		op := s.ops[c.Request().Method+" "+c.Path()]
		if op == nil {
			return next(c) // echo's 404 / 405
		}
		r := c.Request()
		if !accepts(r.Header.Values("Accept")) {
			return answer(c, failure(http.StatusNotAcceptable, "not_acceptable", "Accept must name "+MediaType))
		}
		user, ok := s.authenticate(r.Header.Get("Authorization"))
		if !ok {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="api.evotor.ru"`)
			return answer(c, failure(http.StatusUnauthorized, "unauthorized", "the cloud token is missing, invalid or revoked"))
		}
		if refused, ok := s.admit(c, user); !ok {
			return answer(c, refused)
		}
		body, err := io.ReadAll(http.MaxBytesReader(c.Response(), r.Body, maxBody))
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				return answer(c, failure(http.StatusRequestEntityTooLarge, "payload_too_large", "the body is too large"))
			}
			return answer(c, invalid("the body could not be read"))
		}
		if op.bodyTypes != nil {
			mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if !op.bodyTypes[mt] {
				return answer(c, failure(http.StatusUnsupportedMediaType, "unsupported_media_type",
					fmt.Sprintf("Content-Type %q is not one this operation takes", mt)))
			}
		}
		if refused, ok := s.validate(c, op, body); !ok {
			return answer(c, refused)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		c.SetRequest(r.WithContext(context.WithValue(r.Context(), requestKey{}, request{user: user, body: body})))
		return next(c)
	}
}

func answer(c echo.Context, r reply) error { return r.visit(c.Response()) }

// accepts: the request's Accept names Evotor's media type.
func accepts(values []string) bool {
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == MediaType {
				return true
			}
		}
	}
	return false
}

// authenticate finds the user whose current cloud token the Authorization header carries.
func (s *Server) authenticate(header string) (string, bool) {
	scheme, token, found := strings.Cut(strings.TrimSpace(header), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", false
	}
	return s.tokens.User(token)
}

// admit counts the request against the user's rate limit and the failures asked for. Every
// answer under a limit carries X-RateLimit-Limit, -Remaining and -Reset (Unix milliseconds of
// the period's end); a refusal adds Retry-After (whole seconds, at least 1).
func (s *Server) admit(c echo.Context, user string) (reply, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.limit; l.Requests > 0 {
		now := s.now()
		key := evotor.CanonicalID(user)
		w := s.windows[key]
		if w == nil || !now.Before(w.start.Add(l.Period)) {
			w = &window{start: now}
			s.windows[key] = w
		}
		w.used++
		end := w.start.Add(l.Period)
		h := c.Response().Header()
		h.Set("X-RateLimit-Limit", strconv.Itoa(l.Requests))
		h.Set("X-RateLimit-Remaining", strconv.Itoa(max(l.Requests-w.used, 0)))
		h.Set("X-RateLimit-Reset", strconv.FormatInt(end.UnixMilli(), 10))
		if w.used > l.Requests {
			h.Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(end.Sub(now).Seconds())))))
			return failure(http.StatusTooManyRequests, "too_many_requests", "too many requests in the current period"), false
		}
	}
	if s.failNext > 0 {
		s.failNext--
		return failure(s.failStatus, statusCode(s.failStatus), "the simulator was asked to fail this request"), false
	}
	return reply{}, true
}

// validate checks the request's parameters and body against the contract (kin-openapi); the
// token was checked already.
func (s *Server) validate(c echo.Context, op *operation, body []byte) (reply, bool) {
	r := c.Request()
	r.Body = io.NopCloser(bytes.NewReader(body))
	err := openapi3filter.ValidateRequest(r.Context(), &openapi3filter.RequestValidationInput{
		Request: r, PathParams: pathParams(c), Route: op.route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	})
	if err == nil {
		return reply{}, true
	}
	return invalid("validation failed for specified payload", violationsOf(err)...), false
}

func pathParams(c echo.Context) map[string]string {
	params := map[string]string{}
	for i, name := range c.ParamNames() {
		params[name] = c.ParamValues()[i]
	}
	return params
}

// violationsOf names each field a validation error is about.
func violationsOf(err error) []violation {
	var multi openapi3.MultiError
	if errors.As(err, &multi) {
		var out []violation
		for _, e := range multi {
			out = append(out, violationsOf(e)...)
		}
		return out
	}
	subject, reason := "request", err.Error()
	var re *openapi3filter.RequestError
	if errors.As(err, &re) {
		subject, reason = "body", re.Reason
		if re.Parameter != nil {
			subject = re.Parameter.Name
		}
		var schemaErr *openapi3.SchemaError
		switch {
		case errors.As(re.Err, &multi):
			return prefixed(subject, violationsOf(multi))
		case errors.As(re.Err, &schemaErr):
			if p := schemaErr.JSONPointer(); len(p) > 0 {
				subject = strings.Join(p, ".")
			}
			reason = schemaErr.Reason
		case re.Err != nil && reason == "":
			reason = re.Err.Error()
		}
	}
	if len(reason) > 200 {
		reason = reason[:200]
	}
	return []violation{{subject, reason}}
}

func prefixed(subject string, vs []violation) []violation {
	for i := range vs {
		if vs[i].subject == "request" {
			vs[i].subject = subject
		}
	}
	return vs
}

// checkAnswer holds an answer to the contract; what is not as it says is kept for the tests.
func (s *Server) checkAnswer(c echo.Context, op *operation, status int, body []byte) {
	r := c.Request()
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: pathParams(c), Route: op.route},
		Status:                 status, Header: c.Response().Header(), Body: io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(r.Context(), in); err != nil {
		s.mu.Lock()
		s.violations = append(s.violations, fmt.Sprintf("%s %d: %v (body %.300s)", op.id, status, err, body))
		s.mu.Unlock()
	}
}

// answerError answers what echo itself refuses (an unknown path, a method not allowed, a body
// the binder could not read) in Evotor's error body.
func (s *Server) answerError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, message := http.StatusInternalServerError, "internal error"
	var he *echo.HTTPError
	if errors.As(err, &he) {
		status, message = he.Code, fmt.Sprint(he.Message)
	}
	_ = failure(status, statusCode(status), message).visit(c.Response())
}

// statusCode is an error code named after the status (bad_gateway, not_found).
func statusCode(status int) string {
	return strings.ToLower(strings.ReplaceAll(http.StatusText(status), " ", "_"))
}

// bodyBinder binds the body the gate read (already checked against the contract) as JSON,
// whatever JSON media type it came in: echo's own binder takes only application/json.
type bodyBinder struct{}

func (bodyBinder) Bind(i any, c echo.Context) error {
	body := requestOf(c.Request().Context()).body
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, i); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "the body does not fit the contract's types")
	}
	return nil
}
